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


@pytest.mark.parametrize("xla_loops", [False, True])
def test_dropouts_and_layer_norm_reach_every_lstm(xla_loops):
    import dataclasses

    cfg = dataclasses.replace(
        CFG, dropout=0.2, recurrent_dropout=0.3, layer_norm=True, xla_loops=xla_loops
    )
    keras.utils.set_random_seed(0)
    models = TopologyModels.build(parse_topology("T_V"), cfg, DIMS, STATS, cycle=True)
    lstms = [
        layer
        for part in models.parts
        for layer in part._flatten_layers()
        if isinstance(layer, keras.layers.LSTM)
    ]
    # encoders (2 layers x 2 directions) + cycle encoder (4) + decoders (2) + regressor (2)
    assert len(lstms) == 12
    assert all(lstm.recurrent_dropout == 0.3 for lstm in lstms)
    decoders = [models.decoders[0], models.cycle_decoder]
    assert all(d.lstm.dropout == 0.2 and d.get_config()["dropout"] == 0.2 for d in decoders)
    assert models.encoders[0].get_layer("input_dropout").rate == 0.2
    assert models.regressor.get_layer("input_dropout").rate == 0.2
    for part in (models.encoders[0], models.regressor):
        assert isinstance(part.get_layer("layer_norm"), keras.layers.LayerNormalization)
        assert part.__class__.from_config(part.get_config()).get_config() == part.get_config()
    # dropout is active in training only (unrolled LSTMs on CPU)
    steps = 4
    batch = {
        "text": np.ones((2, steps, 5), "float32"),
        "video": np.ones((2, steps, 3), "float32"),
        "mask": np.ones((2, steps), "float32"),
    }
    joint = models.joint_model()
    inference = [np.asarray(joint(batch, training=False)["sentiment"]) for _ in range(2)]
    training = np.asarray(joint(batch, training=True)["sentiment"])
    np.testing.assert_array_equal(inference[0], inference[1])
    assert not np.allclose(training, inference[0])


@pytest.mark.parametrize("xla_loops", [True, False])
def test_xla_loops_reaches_every_lstm_and_old_configs_keep_keras_loops(xla_loops):
    import dataclasses

    from tfs2s.layers.xla_lstm import XlaLSTM

    cfg = dataclasses.replace(CFG, unroll=False, xla_loops=xla_loops)
    keras.utils.set_random_seed(0)
    models = TopologyModels.build(parse_topology("T_V"), cfg, DIMS, STATS, cycle=True)
    parts = [*models.encoders, *models.decoders, models.regressor, models.cycle_encoder]
    parts.append(models.cycle_decoder)
    lstms = [
        layer
        for part in parts
        for layer in part._flatten_layers()
        if isinstance(layer, keras.layers.LSTM)
    ]
    assert len(lstms) == 12
    assert all(isinstance(lstm, XlaLSTM) == xla_loops for lstm in lstms)
    for part in parts:
        config = part.get_config()
        assert config["xla_loops"] is xla_loops
        assert part.__class__.from_config(config).get_config() == config
        # a config saved before the key existed was trained with Keras's loop
        del config["xla_loops"]
        old = part.__class__.from_config(config)
        assert not any(isinstance(x, XlaLSTM) for x in old._flatten_layers())


def test_source_skip_feeds_the_sources_beside_the_encoding():
    import dataclasses

    keras.utils.set_random_seed(0)
    cfg = dataclasses.replace(CFG, source_skip=True)
    models = TopologyModels.build(parse_topology("concat_TA_V"), cfg, DIMS, STATS)
    encoded = models.encoders[-1].width
    # the regressor reads the encoding and the joined sources (text 5 + audio 4)
    assert models.regressor.input_dim == encoded + 9
    assert build("concat_TA_V").regressor.input_dim == encoded
    model = models.sentiment_model()
    assert model.get_config()["source_skip"] is True
    clone = model.__class__.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    rng = np.random.default_rng(0)
    x = {
        "text": rng.normal(size=(2, 3, 5)).astype("float32"),
        "audio": rng.normal(size=(2, 3, 4)).astype("float32"),
        "mask": np.ones((2, 3), "float32"),
    }
    np.testing.assert_allclose(
        np.asarray(clone(x)["sentiment"]), np.asarray(model(x)["sentiment"]), atol=1e-6
    )
    joint = models.joint_model()
    assert "source_skip" in {layer.name for layer in joint.layers}
    # a baseline's regressor reads the sources already: nothing to add
    baseline = TopologyModels.build(parse_topology("baseline_TA"), cfg, DIMS, STATS)
    assert baseline.regressor.input_dim == 9


def test_a_later_stage_on_the_earlier_encoding_is_the_whole_stage():
    models = build("embed_AV_T")
    rng = np.random.default_rng(0)
    mask = np.ones((3, 6), np.float32)
    mask[0, 4:] = 0
    batch = {
        "audio": rng.normal(size=(3, 6, 4)).astype(np.float32),
        "text": rng.normal(size=(3, 6, 5)).astype(np.float32),
        "mask": mask,
    }
    encoding = models.encoding_model(1)
    assert set(encoding.input) == {"audio", "mask"}
    sequence = encoding({"audio": batch["audio"], "mask": mask})["sequence"]
    stage = models.stage_translation_model(1)
    assert set(stage.input) == {"sequence", "text", "mask"}
    # encoder 2 and decoder 2 only: the frozen encoder 1 is not in this view
    assert {id(w) for w in stage.weights} == {
        id(w) for part in (models.encoders[1], models.decoders[1]) for w in part.weights
    }
    got = stage({"sequence": np.asarray(sequence), "text": batch["text"], "mask": mask})
    got = got["translation"]
    want = models.translation_model(1)(batch)["translation"]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    with pytest.raises(ValueError, match="encoding depth"):
        models.encoding_model(2)
