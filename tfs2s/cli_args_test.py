import pytest

from tfs2s.cli import build_parser, config_from_args
from tfs2s.config import load_recipe


def config(*argv):
    return config_from_args(build_parser().parse_args(list(argv)), topology=None)


def test_train_defaults_to_the_recommended_recipe_and_poster_is_one_flag_away():
    recommended = config("train", "--topology", "T_V")
    assert recommended.recipe == "recommended" and recommended.train.mode == "joint"
    poster = config("train", "--recipe", "poster")
    assert poster.recipe == "poster" and poster.train.mode == "two_phase"


def test_paper_defaults_to_poster_and_tune_to_recommended():
    assert config("experiments", "paper").recipe == "poster"
    assert config("experiments", "paper", "--recipe", "recommended").train.mode == "joint"
    assert config("tune", "--topology", "T_V").recipe == "recommended"


def test_config_and_set_override_the_recipe(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  cycle_weight: 0.5\n")
    cfg = config(
        "train", "--recipe", "recommended", "--config", str(path), "--set", "model.dropout=0.3"
    )
    assert cfg.recipe == "recommended" and cfg.train.mode == "joint"
    assert (cfg.train.cycle_weight, cfg.model.dropout) == (0.5, 0.3)
    assert cfg.train.select_metric == load_recipe("recommended").train.select_metric


def test_unknown_recipe_is_refused(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--recipe", "best"])
    assert "invalid choice: 'best'" in capsys.readouterr().err


def test_a_jit_compile_training_cannot_use_is_a_note(capsys):
    from tfs2s.cli_args import note_unread

    note_unread(config("train", "--topology", "baseline_T"))
    assert "jit_compile" not in capsys.readouterr().err
    note_unread(config("train", "--topology", "baseline_T", "--set", "train.jit_compile=true"))
    assert "train.jit_compile=true is ignored" in capsys.readouterr().err


def test_a_recipe_named_by_set_or_a_config_file_is_applied_not_only_recorded(tmp_path):
    # It once changed only the label: params.yaml said poster over recommended values.
    poster = load_recipe("poster")
    by_set = config("train", "--topology", "T_V", "--set", "recipe=poster")
    path = tmp_path / "c.yaml"
    path.write_text("recipe: poster\nmodel:\n  hidden: 16\n")
    by_file = config("train", "--topology", "T_V", "--config", str(path))
    for cfg in (by_set, by_file):
        assert cfg.recipe == "poster"
        assert (cfg.train, cfg.model.dropout) == (poster.train, poster.model.dropout)
    assert by_file.model.hidden == 16  # the file's own values still apply on top
    # and the other way round
    back = config("train", "--recipe", "poster", "--set", "recipe=recommended")
    assert back.to_dict() == load_recipe("recommended").to_dict()
    with pytest.raises(ValueError, match="expected one of"):
        config("train", "--set", "recipe=best")
