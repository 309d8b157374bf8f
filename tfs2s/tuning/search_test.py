import keras
import keras_tuner as kt
import pytest

from tfs2s.config import RunConfig
from tfs2s.data.sources import load_source
from tfs2s.tuning import search as S
from tfs2s.tuning.hypermodel import TopologyHyperModel, objective
from tfs2s.tuning.space import DEFAULT_SPACE, HParam

TINY_SPACE = {
    "model.hidden": HParam("model.hidden", "choice", values=(4, 8)),
    "model.regressor_hidden": HParam("model.regressor_hidden", "choice", values=(4,)),
    "train.learning_rate": HParam(
        "train.learning_rate", "float", min=1e-3, max=1e-2, sampling="log"
    ),
}


@pytest.fixture(scope="module")
def source():
    return load_source(RunConfig().replace(**{"data.synthetic_segments": 120}).data)


def base(**overrides):
    return RunConfig().replace(
        **{
            "topology": "T_V",
            "data.synthetic_segments": 120,
            "train.epochs": 1,
            "train.translator_epochs": 1,
            **overrides,
        }
    )


def test_build_maps_hyper_parameters_onto_the_config_and_the_training_builder(source):
    hypermodel = TopologyHyperModel(base(), source, TINY_SPACE)
    hp = kt.HyperParameters()
    hp.values = {"model.hidden": 8, "model.regressor_hidden": 4, "train.learning_rate": 0.005}
    model = hypermodel.build(hp)
    assert isinstance(model, keras.Model) and model.name == "T_V_sentiment"
    cfg = hypermodel.config_for(hp, epochs=3)
    assert (cfg.model.hidden, cfg.train.learning_rate) == (8, 0.005)
    assert (cfg.train.epochs, cfg.train.translator_epochs) == (3, 3)
    encoder = next(layer for layer in model.layers if layer.name == "encoder_1")
    assert encoder.get_config()["hidden"] == 8


def test_a_baseline_does_not_search_encoder_sizes(source):
    hypermodel = TopologyHyperModel(base(topology="baseline_T"), source, DEFAULT_SPACE)
    assert "model.hidden" not in hypermodel.space


def test_objectives():
    assert (objective("mae").name, objective("mae").direction) == ("valid_mae", "min")
    assert (objective("f1_2").name, objective("f1_2").direction) == ("valid_f1_2", "max")
    with pytest.raises(ValueError, match="expected one of"):
        objective("acc")


def test_best_config_takes_hyperband_budget_as_epochs():
    cfg = S.best_config(base(), {"model.hidden": 8, "tuner/epochs": 4, "tuner/round": 1})
    assert (cfg.model.hidden, cfg.train.epochs, cfg.train.translator_epochs) == (8, 4, 4)


def test_a_rerun_with_other_settings_is_refused(tmp_path):
    spec = S.SearchSpec(tuner="random", max_trials=2)
    description = S.describe(spec, base(), TINY_SPACE)
    (tmp_path / S.SEARCH_FILE).write_text(
        __import__("yaml").safe_dump(S.describe(spec, base(**{"train.batch_size": 8}), TINY_SPACE))
    )
    with pytest.raises(ValueError, match="base differ"):
        S.check_resumable(str(tmp_path), description, overwrite=False)
    S.check_resumable(str(tmp_path), description, overwrite=True)
    more = S.describe(
        S.SearchSpec(tuner="random", max_trials=5), base(**{"train.batch_size": 8}), TINY_SPACE
    )
    S.check_resumable(str(tmp_path), more, overwrite=False)  # max_trials may grow
    # a damaged search.yaml, or trials without one, cannot be continued as this search
    for text in ("", "- 1\n"):
        (tmp_path / S.SEARCH_FILE).write_text(text)
        with pytest.raises(ValueError, match="search.yaml is corrupt"):
            S.check_resumable(str(tmp_path), description, overwrite=False)
    (tmp_path / S.SEARCH_FILE).unlink()
    S.check_resumable(str(tmp_path), description, overwrite=False)  # a new search
    (tmp_path / S.PROJECT).mkdir()
    S.check_resumable(str(tmp_path), description, overwrite=False)  # a worker got there first
    (tmp_path / S.PROJECT / "trial_0").mkdir()
    with pytest.raises(ValueError, match="holds the trials of a search but no search.yaml"):
        S.check_resumable(str(tmp_path), description, overwrite=False)
    S.check_resumable(str(tmp_path), description, overwrite=True)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"tuner": "grid"}, "--tune"),
        ({"max_trials": 0}, "--max-trials"),
        ({"max_epochs": 0}, "--max-epochs"),
        ({"factor": 1}, "--factor"),
    ],
)
def test_bad_search_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        S.SearchSpec(**kwargs)


def test_trial_table_format():
    rows = [{"trial_id": "0", "status": "COMPLETED", "model.hidden": 4, "valid_mae": 1.23456}]
    assert S.format_table(rows).splitlines()[1].split() == ["0", "COMPLETED", "4", "1.235"]


def test_a_trial_builds_its_models_once_and_fit_trains_them(source, monkeypatch):
    from tfs2s.models.topology_models import TopologyModels

    builds = []
    original = TopologyModels.build.__func__

    def counting(cls, *args, **kwargs):
        builds.append(args[0].name)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(TopologyModels, "build", classmethod(counting))
    hypermodel = TopologyHyperModel(base(topology="baseline_T"), source, TINY_SPACE)
    hp = kt.HyperParameters()
    hp.values = {"model.regressor_hidden": 4, "train.learning_rate": 0.005, "tuner/epochs": 1}
    model = hypermodel.build(hp)
    with pytest.raises(TypeError, match="takes no data or fit arguments"):
        hypermodel.fit(hp, model, "x")
    with pytest.raises(ValueError, match="epochs=2 but the trial was built for 1"):
        hypermodel.fit(hp, model, epochs=2)
    before = [w.copy() for w in model.get_weights()]
    results = hypermodel.fit(hp, model, epochs=1)
    assert builds == ["baseline_T"]
    assert set(results) >= {"valid_mae", "valid_f1_2"}
    assert any((a != b).any() for a, b in zip(before, model.get_weights(), strict=True))
    with pytest.raises(ValueError, match="not the one build"):
        hypermodel.fit(hp, model)


@pytest.mark.parametrize("tuner", ["random", "bayesian", "hyperband"])
def test_the_oracle_seed_is_fixed_for_seed_0(tmp_path, tuner):
    # keras-tuner draws a random seed for a seed of 0 (train.seed's default), which made
    # two runs of the same `tfs2s tune` command draw different trials.
    def space(hp):
        return hp.Int("units", 1, 1000)

    seeds = [
        S.make_tuner(
            S.SearchSpec(tuner=tuner, max_trials=3, max_epochs=2),
            space,
            str(tmp_path / f"t{i}"),
            seed=seed,
        ).oracle.seed
        for i, seed in enumerate([0, 0, 7])
    ]
    assert seeds == [1, 1, 8]
