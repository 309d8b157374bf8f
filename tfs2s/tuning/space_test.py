import keras_tuner as kt
import pytest

from tfs2s.config import RunConfig
from tfs2s.tuning import space as S


def write(tmp_path, text):
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return path


def test_the_default_space_covers_the_documented_keys():
    assert set(S.DEFAULT_SPACE) == {
        "model.hidden",
        "model.depth",
        "model.bidirectional",
        "model.dropout",
        "model.decoder_attention",
        "model.regressor_hidden",
        "train.learning_rate",
        "train.translation_weight",
        "train.batch_size",
    }
    for key, param in S.DEFAULT_SPACE.items():
        assert S.parse_hparam(key, param.to_dict()) == param


def test_a_yaml_file_overrides_drops_and_adds_keys(tmp_path):
    path = write(
        tmp_path,
        "model.hidden: {type: choice, values: [4, 8]}\n"
        "train.batch_size: null\n"
        "model.regressor_depth: {type: int, min: 1, max: 3, step: 2}\n"
        "train.learning_rate: {type: float, min: 1.0e-3, max: 1.0e-1, sampling: log}\n",
    )
    space = S.load_space(path)
    assert space["model.hidden"].values == (4, 8)
    assert "train.batch_size" not in space
    assert space["model.regressor_depth"] == S.HParam(
        "model.regressor_depth", "int", min=1, max=3, step=2
    )
    assert space["train.learning_rate"].sampling == "log"


@pytest.mark.parametrize(
    "text, message",
    [
        ("model.width: {type: boolean}", "not a tunable config key"),
        ("train.seed: {type: choice, values: [1, 2]}", "not a tunable config key"),
        ("model.hidden: 8", "expected a mapping"),
        ("model.hidden: {type: list, values: [8]}", "type: expected one of"),
        ("model.hidden: {type: choice}", "needs \\['values'\\]"),
        ("model.hidden: {type: choice, values: [8], min: 1}", "unknown field"),
        ("model.hidden: {type: choice, values: []}", "non-empty list"),
        ("model.hidden: {type: choice, values: [0, 8]}", "candidate 0 is invalid"),
        ("model.dropout: {type: float, min: 0.5, max: 0.1}", "min <= max"),
        ("model.dropout: {type: float, min: 0.0, max: 1.0}", "candidate 1.0 is invalid"),
        ("model.dropout: {type: float, min: 0.0, max: 0.5, sampling: log}", "needs min > 0"),
        ("model.depth: {type: int, min: 1, max: 2.5}", "integer min/max/step"),
        ("train.optimizer: {type: fixed, value: lion}", "candidate 'lion' is invalid"),
        ("[1, 2]", "expected a mapping of config keys"),
        # these once passed, then crashed in keras-tuner (ZeroDivisionError) or every trial
        ("model.dropout: {type: float, min: 0.0, max: 0.5, step: 0}", "step: expected .* > 0"),
        ("model.depth: {type: int, min: 1, max: 2, step: -1}", "step: expected .* > 0"),
        ("model.dropout: {type: float, min: 0.0, max: 0.5, step: -0.1}", "step: expected"),
        ("model.depth: {type: int, min: 1, max: 2, step: 5}", "at most max - min \\(1\\)"),
        ("model.hidden: {type: float, min: 8, max: 16}", "takes integers; expected type int"),
    ],
)
def test_bad_space_files_are_clear_errors(tmp_path, text, message):
    with pytest.raises(ValueError, match=message) as e:
        S.load_space(write(tmp_path, text))
    assert "space.yaml" in str(e.value)


def test_keys_a_topology_does_not_read_are_not_searched():
    base = RunConfig()
    baseline = S.applicable(S.DEFAULT_SPACE, base.replace(topology="baseline_T"))
    assert "model.hidden" not in baseline and "model.regressor_hidden" in baseline
    two_phase = S.applicable(S.DEFAULT_SPACE, base.replace(topology="T_V"))
    assert "model.hidden" in two_phase and "train.translation_weight" not in two_phase
    joint = S.applicable(
        S.DEFAULT_SPACE, base.replace(**{"topology": "T_V", "train.mode": "joint"})
    )
    assert "train.translation_weight" in joint


def test_declared_values_are_valid_config_values(tmp_path):
    hp = kt.HyperParameters()
    values = {key: param.declare(hp) for key, param in S.DEFAULT_SPACE.items()}
    RunConfig().replace(**values)
    assert set(hp.values) == set(S.DEFAULT_SPACE)
    S.dump_space(S.DEFAULT_SPACE, tmp_path / "out.yaml")
    assert S.load_space(tmp_path / "out.yaml") == S.DEFAULT_SPACE
