import dataclasses

import pytest
import yaml

from tfs2s.config import (
    RunConfig,
    apply_overrides,
    dump_yaml,
    from_dict,
    load_yaml,
    parse_data_map,
    parse_set,
    valid_keys,
)


def test_defaults_are_the_paper_defaults():
    cfg = RunConfig()
    assert cfg.model.hidden == 32 and cfg.model.depth == 1 and cfg.model.bidirectional
    assert cfg.data.max_seq_len == 20 and cfg.data.path is None
    assert cfg.train.mode == "two_phase" and not cfg.train.finetune_encoder


def test_yaml_round_trip(tmp_path):
    cfg = RunConfig().replace(
        **{
            "topology": "T_concat_AV",
            "train.seed": 7,
            "data.data_map": {"text": "a", "labels": "l"},
        }
    )
    dump_yaml(cfg, tmp_path / "params.yaml")
    assert load_yaml(tmp_path / "params.yaml") == cfg
    assert not list(tmp_path.glob("*.tmp"))


def test_resolution_order_yaml_then_set(tmp_path):
    (tmp_path / "c.yaml").write_text("train:\n  epochs: 3\n  seed: 5\nmodel:\n  hidden: 8\n")
    cfg = load_yaml(tmp_path / "c.yaml")
    cfg = apply_overrides(cfg, parse_set(["train.epochs=9", "model.bidirectional=false"]))
    assert (cfg.train.epochs, cfg.train.seed, cfg.model.hidden) == (9, 5, 8)
    assert cfg.model.bidirectional is False


def test_set_values_are_typed():
    cfg = apply_overrides(
        RunConfig(), parse_set(["train.learning_rate=1e-3", "data.max_seq_len=30"])
    )
    assert cfg.train.learning_rate == pytest.approx(1e-3)
    assert cfg.data.max_seq_len == 30 and isinstance(cfg.data.max_seq_len, int)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"train.foo": 1}, "unknown config key 'train.foo'; valid keys: topology, data.path"),
        ({"nosection.x": 1}, "unknown config key"),
        (
            {"train.mode": "both"},
            "train.mode: expected one of ['two_phase', 'joint'], found 'both'",
        ),
        ({"model.hidden": 0}, "model.hidden: expected a value > 0, found 0"),
        ({"model.hidden": 2.5}, "model.hidden: expected an integer, found 2.5"),
        ({"train.finetune_encoder": "maybe"}, "expected true/false, found 'maybe'"),
        ({"model.dropout": 1.0}, "model.dropout: expected a value in [0, 1)"),
        ({"topology": "T_T"}, "malformed topology"),
    ],
)
def test_bad_keys_and_values_are_named(overrides, message):
    with pytest.raises(ValueError) as e:
        apply_overrides(RunConfig(), overrides)
    assert message in str(e.value)


def test_every_key_listed_is_settable():
    cfg = RunConfig()
    for key in valid_keys():
        section, _, field = key.partition(".")
        value = getattr(cfg, section) if not field else getattr(getattr(cfg, section), field)
        assert apply_overrides(cfg, {key: value}) == cfg


def test_bad_yaml_file_names_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("train: [1, 2\n")
    with pytest.raises(ValueError, match=str(p)):
        load_yaml(p)
    p.write_text("train:\n  epochz: 3\n")
    with pytest.raises(ValueError, match="epochz"):
        load_yaml(p)
    with pytest.raises(FileNotFoundError):
        load_yaml(tmp_path / "missing.yaml")


def test_data_map_parsing():
    assert parse_data_map("text=A, audio=B.csd") == {"text": "A", "audio": "B.csd"}
    with pytest.raises(ValueError, match="MODALITY=FILE"):
        parse_data_map("text")
    # the last of two once won silently
    with pytest.raises(ValueError, match=r"'text' is mapped twice \('A' and 'B'\)"):
        parse_data_map("text=A,audio=C,text=B")
    # one file in two roles (e.g. the labels read as an input)
    with pytest.raises(ValueError, match=r"'L' is mapped to both 'text' and 'labels'"):
        RunConfig().replace(**{"data.data_map": "text=L,labels=L"})


@pytest.mark.parametrize("key", ["train.weight_decay", "train.learning_rate", "train.clipnorm"])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_numbers_are_refused(key, value):
    # weight decay inf once trained a whole epoch before "diverged, lower the learning rate"
    with pytest.raises(ValueError, match=rf"config {key}: expected a finite number, found"):
        RunConfig().replace(**{key: value})


def test_from_dict_accepts_params_yaml_layout():
    d = yaml.safe_load(yaml.safe_dump(dataclasses.asdict(RunConfig())))
    assert from_dict(d) == RunConfig()


def test_poster_recipe_is_the_library_defaults_and_recommended_differs():
    from tfs2s.config import load_recipe

    assert load_recipe("poster") == RunConfig()
    recommended = load_recipe("recommended")
    assert recommended.recipe == "recommended" and recommended.train.mode == "joint"
    assert recommended.train.select_metric == "f1_2" and recommended.train.weight_decay > 0
    assert recommended.train.modality_dropout_keep == "text"


def test_recipe_is_recorded_in_params_yaml(tmp_path):
    from tfs2s.config import load_recipe

    cfg = load_recipe("recommended").replace(**{"train.seed": 2})
    dump_yaml(cfg, tmp_path / "params.yaml")
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["recipe"] == "recommended"
    assert load_yaml(tmp_path / "params.yaml") == cfg


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model.recurrent_dropout": 1.0}, "model.recurrent_dropout: expected a value in [0, 1)"),
        ({"train.modality_dropout": -0.1}, "train.modality_dropout: expected a value >= 0"),
        ({"train.weight_decay": -1}, "train.weight_decay: expected a value >= 0"),
        ({"train.clipnorm": 0}, "train.clipnorm: expected a value > 0 or null"),
        ({"train.ema_momentum": 1.0}, "train.ema_momentum: expected a value in (0, 1) or null"),
        ({"train.ema_momentum": "high"}, "train.ema_momentum: expected a number, found 'high'"),
        ({"train.select_metric": "acc"}, "expected one of ['loss', 'mae', 'f1_2']"),
        ({"train.optimizer": "lamb"}, "expected one of ['adam', 'adamw', 'sgd', 'rmsprop']"),
        ({"recipe": "best"}, "recipe: expected one of ['poster', 'recommended']"),
    ],
)
def test_training_feature_keys_are_validated(overrides, message):
    with pytest.raises(ValueError) as e:
        apply_overrides(RunConfig(), overrides)
    assert message in str(e.value)


def test_unread_values_are_named_against_the_recipe():
    from tfs2s.config import load_recipe, unread_keys

    base = RunConfig(topology="baseline_T")
    assert unread_keys(base.replace(**{"model.hidden": 8})) == ["model.hidden"]
    assert unread_keys(base.replace(**{"train.modality_dropout": 0.2})) == [
        "train.modality_dropout"
    ]
    assert (
        unread_keys(RunConfig(topology="baseline_TA").replace(**{"train.modality_dropout": 0.2}))
        == []
    )
    keep = {"train.modality_dropout_keep": "text"}
    assert unread_keys(base.replace(**keep)) == ["train.modality_dropout_keep"]
    assert unread_keys(RunConfig(topology="concat_TA_V").replace(**keep)) == []
    # without the kept modality in its input, a model reads no modality dropout
    av = RunConfig(topology="baseline_AV").replace(**keep, **{"train.modality_dropout": 0.2})
    assert unread_keys(av) == ["train.modality_dropout"]
    with pytest.raises(ValueError, match="modality_dropout_keep: expected one of"):
        base.replace(**{"train.modality_dropout_keep": "speech"})
    # a recipe's own values (joint weights on a baseline) are not reported
    assert unread_keys(load_recipe("recommended").replace(topology="baseline_T")) == []


@pytest.mark.parametrize("seed", [-1, 2**32])
def test_a_seed_out_of_range_names_the_key(seed):
    with pytest.raises(ValueError, match=rf"config train.seed: expected .* found {seed}"):
        RunConfig().replace(**{"train.seed": seed})


@pytest.mark.parametrize("value", [float("inf"), float("nan"), ".inf", "nan"])
def test_a_non_finite_integer_names_the_key(value):
    # once an OverflowError ("cannot convert float infinity to integer") naming nothing
    with pytest.raises(ValueError, match=r"config train.epochs: expected an integer, found"):
        RunConfig().replace(**{"train.epochs": value})


def test_a_key_given_twice_in_a_config_file_is_refused(tmp_path):
    # YAML keeps the last of two keys; the first setting was lost without a word
    path = tmp_path / "c.yaml"
    path.write_text("model:\n  regressor_hidden: 16\n  regressor_hidden: 64\n")
    with pytest.raises(
        ValueError,
        match=r"c.yaml: not valid YAML: key 'regressor_hidden' is given twice \(again on line 3\)",
    ):
        load_yaml(path)
    path.write_text("model:\n  regressor_hidden: 16\ntrain:\n  epochs: 3\n")
    assert load_yaml(path).model.regressor_hidden == 16


def test_numbers_read_as_yaml_1_2_in_set_and_config_files(tmp_path):
    from tfs2s.config import load_yaml, parse_set

    parsed = parse_set(["train.seed=010", "train.learning_rate=1e-3", "model.hidden=0x20"])
    # YAML 1.1 would give 8 (octal), the string "1e-3" and 32 (hex)
    assert parsed == {"train.seed": 10, "train.learning_rate": 0.001, "model.hidden": "0x20"}
    with pytest.raises(ValueError, match="model.hidden: expected an integer, found '0x20'"):
        apply_overrides(RunConfig(), parsed)
    with pytest.raises(ValueError, match="synthetic_segments: expected an integer, found '1:20'"):
        apply_overrides(RunConfig(), parse_set(["data.synthetic_segments=1:20"]))  # 1.1: 80
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  seed: 010\n  learning_rate: 2e-4\n  clipnorm: .5\n")
    cfg = load_yaml(path)
    assert (cfg.train.seed, cfg.train.learning_rate, cfg.train.clipnorm) == (10, 2e-4, 0.5)


def test_strings_that_look_like_numbers_round_trip_through_params_yaml(tmp_path):
    from tfs2s.config import dump_yaml, load_yaml

    cfg = apply_overrides(RunConfig(), {"data.folds": "1e5", "data.path": "010"})
    dump_yaml(cfg, tmp_path / "params.yaml")
    assert load_yaml(tmp_path / "params.yaml") == cfg
