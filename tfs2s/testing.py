"""Shared checks for the ``*_test.py`` files beside the layers and models, in the spirit of
keras-hub's ``run_layer_test`` / ``run_model_test``: every layer and model gets a
``get_config`` round trip (same config, same outputs once the weights are copied) and one
``fit`` step on a ``tf.data`` dataset. Tests call these with tiny shapes (batch 2, steps 4,
dims 3..8, hidden 4).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import keras
import numpy as np
import tensorflow as tf


def _assert_same_outputs(actual, expected, atol: float) -> None:
    actual_flat, expected_flat = keras.tree.flatten(actual), keras.tree.flatten(expected)
    assert len(actual_flat) == len(expected_flat)
    for a, e in zip(actual_flat, expected_flat, strict=True):
        np.testing.assert_allclose(np.asarray(a), np.asarray(e), atol=atol)


def _fit_one_step(model: keras.Model, inputs, targets, loss, run_eagerly: bool) -> float:
    """One ``fit`` step on a ``tf.data`` batch; returns the loss, checking that it is
    finite and that the step changed the trainable weights."""
    data = tf.data.Dataset.from_tensor_slices((inputs, targets)).batch(
        len(keras.tree.flatten(inputs)[0])
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=loss, run_eagerly=run_eagerly)
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(data, epochs=1, verbose=0, shuffle=False)
    value = float(history.history["loss"][0])
    assert np.isfinite(value), f"fit step loss {value}"
    after = [np.asarray(w) for w in model.trainable_weights]
    assert before, "the model has no trainable weights to fit"
    assert any(not np.array_equal(b, a) for b, a in zip(before, after, strict=True)), (
        "one fit step changed no trainable weight"
    )
    return value


def run_model_test(
    model: keras.Model,
    inputs: Mapping[str, Any],
    targets: Mapping[str, Any],
    loss: Mapping[str, Any] | str,
    *,
    atol: float = 1e-6,
    run_eagerly: bool = True,
) -> keras.Model:
    """Round-trip ``model`` through ``get_config``/``from_config`` and fit the clone.

    Checks that the clone's config equals the model's, that with the model's weights it
    gives the same outputs on ``inputs``, and that one ``fit`` step on a ``tf.data``
    dataset of ``(inputs, targets)`` gives a finite loss and changes the weights.

    Args:
        model: a built model (called once here on ``inputs``).
        inputs: name -> array, batch first.
        targets: output name -> array, batch first.
        loss: Keras loss(es) for ``compile``.
        atol: tolerance of the outputs' comparison.
        run_eagerly: fit eagerly (tiny models: faster than tracing the step).

    Returns:
        The fitted clone.
    """
    expected = model(inputs)
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    clone.set_weights(model.get_weights())
    _assert_same_outputs(clone(inputs), expected, atol)
    _fit_one_step(clone, inputs, targets, loss, run_eagerly)
    return clone


def run_layer_test(
    layer: keras.layers.Layer,
    inputs: Mapping[str, Any],
    call: Callable[[keras.layers.Layer, Mapping[str, Any]], Any],
    *,
    expected_output_shape: tuple[int, ...] | None = None,
    atol: float = 1e-6,
    run_eagerly: bool = True,
) -> keras.layers.Layer:
    """Round-trip ``layer`` through ``keras.layers.serialize``, in graph mode, and fit it.

    ``call(layer, inputs)`` applies the layer to ``inputs`` (name -> array, or -> symbolic
    tensor when the layer is wired into a model). Checks the config and the outputs of the
    restored layer (inside a ``tf.function``), then wires a fresh copy into a functional
    model with a ``Dense(1)`` head and fits one step on a ``tf.data`` dataset, which
    back-propagates through the layer (eagerly by default: graph mode is checked by the
    round trip, and tracing a training step costs seconds).

    Returns:
        The restored layer.
    """
    expected = call(layer, inputs)
    if expected_output_shape is not None:
        assert tuple(expected.shape) == expected_output_shape
    clone = keras.layers.deserialize(keras.layers.serialize(layer))
    assert type(clone) is type(layer)
    assert clone.get_config() == layer.get_config()
    if layer.weights:
        if not clone.built:
            call(clone, inputs)
        clone.set_weights(layer.get_weights())
    graph = tf.function(lambda x: call(clone, x))
    _assert_same_outputs(graph(dict(inputs)), expected, atol)

    fresh = keras.layers.deserialize(keras.layers.serialize(layer))
    symbolic = {
        name: keras.Input(shape=np.shape(value)[1:], name=name) for name, value in inputs.items()
    }
    out = call(fresh, symbolic)
    head = keras.layers.Dense(1)(keras.layers.Flatten()(out))
    model = keras.Model(symbolic, head)
    batch = len(keras.tree.flatten(inputs)[0])
    _fit_one_step(
        model, dict(inputs), np.linspace(-1, 1, batch, dtype="float32"), "mae", run_eagerly
    )
    return clone
