import keras
import numpy as np

from tfs2s.layers.masked_attention_pooling import MaskedAttentionPooling
from tfs2s.testing import run_layer_test

MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)


def sequence(seed=0):
    return np.random.default_rng(seed).normal(size=(2, 4, 6)).astype(np.float32)


def test_pools_to_batch_by_hidden():
    out = MaskedAttentionPooling()(sequence(), step_mask=MASK)
    assert tuple(out.shape) == (2, 6)


def test_padded_steps_do_not_change_the_output():
    layer = MaskedAttentionPooling()
    x = sequence()
    noisy = x.copy()
    noisy[0, 2:] = 1e3 * sequence(1)[0, 2:]
    np.testing.assert_allclose(
        np.asarray(layer(noisy, step_mask=MASK)), np.asarray(layer(x, step_mask=MASK)), rtol=1e-6
    )


def test_output_is_a_convex_combination_of_real_steps():
    x = np.ones((2, 4, 6), np.float32) * np.arange(1, 5, dtype=np.float32)[None, :, None]
    out = np.asarray(MaskedAttentionPooling()(x, step_mask=MASK))
    assert (out[0] >= 1.0 - 1e-6).all() and (out[0] <= 2.0 + 1e-6).all()


def test_config_and_weights_round_trip_in_graph_mode_and_fit_step():
    layer = MaskedAttentionPooling(name="pool")
    clone = run_layer_test(
        layer,
        {"x": sequence(), "mask": MASK},
        lambda layer, d: layer(d["x"], step_mask=d["mask"]),
        expected_output_shape=(2, 6),
    )
    assert clone.built


def test_returned_weights_pool_the_output_and_ignore_padding():
    layer = MaskedAttentionPooling()
    x = sequence()
    pooled, weights = layer(x, step_mask=MASK, return_weights=True)
    weights = np.asarray(weights)
    assert weights.shape == (2, 4)
    assert np.all(weights[MASK == 0] == 0.0)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.asarray(pooled), np.einsum("bt,bth->bh", weights, x), atol=1e-5)
    np.testing.assert_allclose(np.asarray(pooled), np.asarray(layer(x, step_mask=MASK)), atol=1e-6)
    inputs = keras.Input((None, 6)), keras.Input((None,))
    symbolic = layer(inputs[0], step_mask=inputs[1], return_weights=True)
    assert [tuple(t.shape) for t in symbolic] == [(None, 6), (None, None)]
