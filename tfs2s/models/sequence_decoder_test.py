import numpy as np
import pytest
import tensorflow as tf

from tfs2s.models.sequence_decoder import SequenceDecoder
from tfs2s.testing import run_layer_test

UNITS, OUT = 6, 3
MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)


def decoder_inputs(seed=0, batch=2, steps=4, target=True):
    rng = np.random.default_rng(seed)
    inputs = {
        "memory": rng.normal(size=(batch, steps, UNITS)).astype(np.float32),
        "memory_mask": MASK[:batch, :steps],
        "state_h": rng.normal(size=(batch, UNITS)).astype(np.float32),
        "state_c": rng.normal(size=(batch, UNITS)).astype(np.float32),
    }
    if target:
        inputs["target"] = rng.normal(size=(batch, steps, OUT)).astype(np.float32)
    return inputs


@pytest.mark.parametrize("attention", [True, False])
def test_teacher_forcing_shape_and_causality(attention):
    decoder = SequenceDecoder(UNITS, OUT, attention=attention)
    inputs = decoder_inputs()
    out = np.asarray(decoder(inputs))
    assert out.shape == (2, 4, OUT)
    # Changing the last target frame changes nothing: step t reads frames < t only.
    inputs["target"][:, -1] += 10.0
    np.testing.assert_allclose(np.asarray(decoder(inputs)), out, atol=1e-6)


def test_attention_ignores_padded_memory():
    decoder = SequenceDecoder(UNITS, OUT, attention=True)
    inputs = decoder_inputs()
    out = np.asarray(decoder(inputs))
    inputs["memory"][0, 2:] = 50.0
    np.testing.assert_allclose(np.asarray(decoder(inputs)), out, atol=1e-6)


@pytest.mark.parametrize("attention", [True, False])
def test_greedy_matches_teacher_forcing_on_its_own_frames(attention):
    decoder = SequenceDecoder(UNITS, OUT, attention=attention)
    inputs = decoder_inputs(target=False)
    greedy = np.asarray(decoder(inputs))
    forced = np.asarray(decoder({**inputs, "target": greedy}))
    np.testing.assert_allclose(greedy, forced, atol=1e-5)


def test_greedy_runs_in_graph_mode_with_dynamic_batch_and_steps():
    decoder = SequenceDecoder(UNITS, OUT)
    decoder(decoder_inputs(target=False))
    spec = {
        "memory": tf.TensorSpec((None, None, UNITS)),
        "memory_mask": tf.TensorSpec((None, None)),
        "state_h": tf.TensorSpec((None, UNITS)),
        "state_c": tf.TensorSpec((None, UNITS)),
    }
    greedy = tf.function(decoder, input_signature=[spec])
    for batch, steps in [(1, 3), (2, 4), (2, 2)]:
        out = greedy(decoder_inputs(batch=batch, steps=steps, target=False))
        assert tuple(out.shape) == (batch, steps, OUT)
    assert len(greedy._list_all_concrete_functions()) == 1


def test_config_and_weights_round_trip_and_fit_step():
    run_layer_test(
        SequenceDecoder(UNITS, OUT, attention=True, name="dec"),
        decoder_inputs(),
        lambda layer, x: layer(x),
        expected_output_shape=(2, 4, OUT),
        atol=1e-5,
    )


def test_refuses_memory_wider_than_units_with_attention():
    with pytest.raises(ValueError, match="memory width"):
        SequenceDecoder(4, OUT)(decoder_inputs())
