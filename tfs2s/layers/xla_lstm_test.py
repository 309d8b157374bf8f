import itertools

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfs2s.layers import xla_lstm
from tfs2s.layers.xla_lstm import XlaLSTM

BATCH, STEPS, DIM, UNITS = 5, 6, 3, 4
RNG = np.random.default_rng(0)
X = RNG.normal(size=(BATCH, STEPS, DIM)).astype("float32")
# right padded, one row without a real step, one row with all steps
MASK = np.arange(STEPS)[None, :] < np.array([6, 3, 1, 4, 0])[:, None]
STATES = [RNG.normal(size=(BATCH, UNITS)).astype("float32") for _ in range(2)]


def _pair(**kwargs):
    """A Keras LSTM and an XlaLSTM with the same weights."""
    keras_lstm = keras.layers.LSTM(UNITS, return_sequences=True, return_state=True, **kwargs)
    xla = XlaLSTM(UNITS, return_sequences=True, return_state=True, **kwargs)
    for layer in (keras_lstm, xla):
        layer.build((None, STEPS, DIM))
    xla.set_weights(keras_lstm.get_weights())
    return keras_lstm, xla


def _run(layer, x, mask, states, training=False):
    """Outputs, final states and the gradients of a loss that reads all three."""
    x = tf.constant(x)
    states = None if states is None else [tf.constant(s) for s in states]
    with tf.GradientTape() as tape:
        tape.watch(x)
        if states is not None:
            tape.watch(states)
        out, h, c = layer(x, mask=mask, initial_state=states, training=training)
        loss = (
            tf.reduce_sum(out * np.arange(1, UNITS + 1, dtype="float32"))
            + tf.reduce_sum(h**2)
            + 3.0 * tf.reduce_sum(c)
        )
    wrt = [x, *layer.trainable_weights, *(states or [])]
    return [out, h, c, *tape.gradient(loss, wrt)]


@pytest.mark.parametrize(
    "go_backwards, zero_output, masked, initial",
    list(itertools.product([False, True], repeat=4)),
)
def test_same_outputs_states_and_gradients_as_keras_loop(
    go_backwards, zero_output, masked, initial
):
    keras_lstm, xla = _pair(go_backwards=go_backwards, zero_output_for_mask=zero_output)
    mask = tf.constant(MASK) if masked else None
    states = STATES if initial else None
    want, got = _run(keras_lstm, X, mask, states), _run(xla, X, mask, states)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=3e-5, rtol=1e-5)


def test_a_traced_full_batch_skips_padding_and_matches_keras():
    """A batch that is a multiple of BATCH_BUCKET with a static shape (training batches)
    runs without padding rows; the function is the same."""
    batch = xla_lstm.BATCH_BUCKET
    x = RNG.normal(size=(batch, STEPS, DIM)).astype("float32")
    mask = np.arange(STEPS)[None, :] < RNG.integers(0, STEPS + 1, batch)[:, None]
    keras_lstm, xla = _pair(go_backwards=True)
    spec = tf.TensorSpec((batch, STEPS, DIM))

    @tf.function(input_signature=[spec, tf.TensorSpec((batch, STEPS), tf.bool)])
    def run(x, mask):
        return xla(x, mask=mask)

    assert "Pad" not in {op.type for op in run.get_concrete_function().graph.get_operations()}
    for w, g in zip(keras_lstm(x, mask=mask), run(x, mask), strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=3e-5)


def test_input_dropout_draws_the_keras_mask_once_per_sequence():
    keras_lstm, xla = _pair(dropout=0.5, seed=3)
    want = _run(keras_lstm, X, tf.constant(MASK), None, training=True)
    got = _run(xla, X, tf.constant(MASK), None, training=True)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=3e-5, rtol=1e-5)
    # the mask is active: training differs from inference
    inference = np.asarray(xla(X, mask=tf.constant(MASK))[0])
    assert not np.allclose(np.asarray(got[0]), inference)


@pytest.mark.parametrize(
    "kwargs, training",
    [({"unroll": True}, False), ({"recurrent_dropout": 0.5, "seed": 1}, True)],
)
def test_falls_back_to_keras_where_the_compiled_loop_would_differ(kwargs, training, monkeypatch):
    keras_lstm, xla = _pair(**kwargs)
    monkeypatch.setattr(
        xla_lstm, "lstm_recurrence", lambda *a: pytest.fail("the compiled loop ran")
    )
    want = keras_lstm(X, mask=tf.constant(MASK), training=training)
    got = xla(X, mask=tf.constant(MASK), training=training)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_config_round_trip_inside_bidirectional_and_fit_step():
    layer = keras.layers.Bidirectional(XlaLSTM(UNITS, return_sequences=True))
    assert isinstance(layer.backward_layer, XlaLSTM) and layer.backward_layer.go_backwards
    inputs = keras.Input((STEPS, DIM))
    model = keras.Model(inputs, keras.layers.Dense(1)(layer(inputs)[:, -1]))
    copy = keras.Model.from_config(model.get_config())
    assert isinstance(copy.layers[1].forward_layer, XlaLSTM)
    model.compile(optimizer="adam", loss="mse")
    data = tf.data.Dataset.from_tensor_slices((X, np.ones((BATCH, 1), "float32"))).batch(2)
    before = [w.copy() for w in model.get_weights()]
    model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))


def test_precompile_compiles_each_shape_once_in_the_background():
    key = (STEPS, 3, 5, True)  # a shape no other test uses
    future = xla_lstm.precompile(*key)
    assert future is not None
    future.result(timeout=120)  # compiled without error
    assert (STEPS, xla_lstm.BATCH_BUCKET, 5, True) in xla_lstm._compiled
    assert xla_lstm.precompile(*key) is None
    assert xla_lstm.precompile(STEPS, xla_lstm.BATCH_BUCKET, 5, True) is None  # same bucket


def test_a_training_trace_also_starts_the_evaluation_batches_compiles():
    units, steps = 6, 5  # shapes no other test uses
    layer = XlaLSTM(units, return_sequences=True)
    layer.build((None, steps, DIM))
    spec = tf.TensorSpec((BATCH, steps, DIM))

    @tf.function(input_signature=[spec])
    def train_step(x):
        return layer(x, training=True)

    with xla_lstm.evaluation_batches([40]):
        train_step.get_concrete_function()
    bucket = xla_lstm.BATCH_BUCKET
    assert (steps, bucket, units, True) in xla_lstm._compiled  # the training batch
    assert (steps, 2 * bucket, units, False) in xla_lstm._compiled  # 40 rows -> 64
    assert xla_lstm._evaluation_batches == [()]  # the context is left as it was


def test_an_unknown_batch_is_padded_in_the_graph_and_matches_keras():
    keras_lstm, xla = _pair(go_backwards=True)

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, STEPS, DIM)),
            tf.TensorSpec((None, STEPS), tf.bool),
        ]
    )
    def run(x, mask):
        return xla(x, mask=mask)

    assert "Pad" in {op.type for op in run.get_concrete_function().graph.get_operations()}
    for rows in (BATCH, 1):
        want = keras_lstm(X[:rows], mask=MASK[:rows])
        for w, g in zip(want, run(X[:rows], MASK[:rows]), strict=True):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), atol=3e-5)


def test_outputs_keep_their_static_sizes_for_the_layers_after():
    """A LayerNormalization after the LSTM needs the feature size: the compiled call's
    unknown sizes must not reach it."""
    _, xla = _pair()
    norm = keras.layers.LayerNormalization()

    @tf.function(input_signature=[tf.TensorSpec((None, None, DIM))])
    def run(x):
        out, h, c = xla(x)
        assert out.shape.as_list() == [None, None, UNITS]
        assert h.shape.as_list() == c.shape.as_list() == [None, UNITS]
        return norm(out)

    assert run(X).shape == (BATCH, STEPS, UNITS)
