import keras
import numpy as np
import pytest

from tfs2s.config import ModelConfig
from tfs2s.models.topology_models import TopologyModels
from tfs2s.topology import parse_topology

DIMS = {"text": 5, "audio": 4, "video": 3}
STATS = {n: (np.zeros(d), np.ones(d)) for n, d in DIMS.items()}
CFG = ModelConfig(hidden=4, regressor_hidden=4, regressor_depth=2, depth=2, dropout=0.1)


def build(name, seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    return TopologyModels.build(parse_topology(name), CFG, DIMS, STATS, **kwargs)


def test_hierarchical_parts_and_views():
    models = build("embed_AV_T")
    assert models.sources == ("audio",)
    assert models.stage_targets == [("video",), ("text",)]
    assert [e.input_dim for e in models.encoders] == [4, 8]
    assert models.encoders[0].depth == 2 and models.regressor.depth == 2
    assert set(models.sentiment_model().input) == {"audio", "mask"}
    assert set(models.translation_model(1).input) == {"audio", "text", "mask"}
    assert set(models.joint_model().output) == {"sentiment", "translation", "intermediate"}
    # Views are cached and share the parts.
    assert models.sentiment_model() is models.sentiment_model()
    stage_two = {id(w) for w in models.translation_model(1).weights}
    assert {id(w) for w in models.encoders[0].weights} <= stage_two


def test_same_seed_same_weights_and_copy():
    a, b, c = (
        build("T_V", seed=1, cycle=True),
        build("T_V", seed=1, cycle=True),
        build("T_V", seed=2, cycle=True),
    )
    for x, y in zip(a.parts, b.parts, strict=True):
        for v, w in zip(x.variables, y.variables, strict=True):
            np.testing.assert_array_equal(np.asarray(v), np.asarray(w))
    c.copy_weights_from(a)
    for x, y in zip(a.parts, c.parts, strict=True):
        for v, w in zip(x.variables, y.variables, strict=True):
            np.testing.assert_array_equal(np.asarray(v), np.asarray(w))


def test_baseline_and_errors():
    models = build("baseline_TAV")
    assert models.encoders == [] and models.regressor.input_dim == 12
    with pytest.raises(ValueError, match="cycle"):
        build("baseline_T", cycle=True)
    with pytest.raises(ValueError, match="dim"):
        TopologyModels.build(parse_topology("T_V"), CFG, {**DIMS, "text": 7}, STATS)
    with pytest.raises(ValueError, match="statistics missing"):
        TopologyModels.build(parse_topology("T_V"), CFG, DIMS, {"text": STATS["text"]})
