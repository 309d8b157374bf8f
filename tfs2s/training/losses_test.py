import keras
import numpy as np
import tensorflow as tf

from tfs2s.training.losses import (
    TRANSLATION_LOSS,
    absolute_error,
    masked_mse,
    translation_step_weights,
)

MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)


def frames(seed):
    return np.random.default_rng(seed).normal(size=(2, 4, 3)).astype(np.float32)


def test_masked_mse_ignores_padded_steps():
    y_true, y_pred = frames(0), frames(1)
    expected = [
        ((y_pred[0, :2] - y_true[0, :2]) ** 2).mean(),
        ((y_pred[1] - y_true[1]) ** 2).mean(),
    ]
    np.testing.assert_allclose(np.asarray(masked_mse(y_true, y_pred, MASK)), expected, rtol=1e-5)
    y_pred[0, 2:] = 1e3
    np.testing.assert_allclose(np.asarray(masked_mse(y_true, y_pred, MASK)), expected, rtol=1e-5)


def test_keras_mse_with_step_weights_is_the_batch_mean_of_masked_mse():
    y_true, y_pred = frames(2), frames(3)
    # What compile() makes of TRANSLATION_LOSS: the function with the default reduction.
    assert TRANSLATION_LOSS == "mean_squared_error"
    loss = keras.losses.MeanSquaredError()
    weighted = loss(y_true, y_pred, translation_step_weights(MASK))
    np.testing.assert_allclose(
        float(weighted), np.mean(masked_mse(y_true, y_pred, MASK)), rtol=1e-5
    )
    # The reduction is a mean over examples, so each half of the batch (what each of
    # two replicas would see) averages to the same value.
    halves = [
        float(loss(y_true[i : i + 1], y_pred[i : i + 1], translation_step_weights(MASK[i : i + 1])))
        for i in range(2)
    ]
    np.testing.assert_allclose(np.mean(halves), float(weighted), rtol=1e-5)


def test_absolute_error_is_per_example_and_compiles():
    y_true = np.array([1.0, -2.0], np.float32)
    y_pred = np.array([0.5, 1.0], np.float32)
    np.testing.assert_allclose(np.asarray(absolute_error(y_true, y_pred)), [0.5, 3.0])
    inputs = keras.Input((1,))
    model = keras.Model(inputs, {"sentiment": keras.ops.squeeze(inputs, -1)})
    model.compile(loss={"sentiment": absolute_error})
    data = tf.data.Dataset.from_tensor_slices((y_pred[:, None], {"sentiment": y_true})).batch(2)
    np.testing.assert_allclose(model.evaluate(data, verbose=0), 1.75, rtol=1e-6)
