"""Predictions from a model that trains several batches per compiled call.

A regression phase compiles the servable sentiment model with ``steps_per_execution``
equal to an epoch's batches. Keras' ``predict`` then feeds a Python list of that many
batches to each call, and every list length it meets (a split's last chunk, another
split's batch count) traces the whole model again: five or more traces per seed in
``experiments paper``, and TensorFlow's retracing warning. :func:`predict` runs one batch
per call with a predict function of its own, kept on the model across calls; the train
function is untouched. On one replica that function is traced once, for any batch size
(``None`` batch dimension), not once for the first batch shape and again, relaxed, for
the next (the valid split's and the test split's last batches differ).
"""

from __future__ import annotations

import keras
import tensorflow as tf

_ONE_STEP = "_tfs2s_one_step_predict_function"


def predict(model: keras.Model, dataset: tf.data.Dataset):
    """``model.predict(dataset, verbose=0)``, one batch per compiled call.

    Args:
        model: a compiled Keras model (any ``steps_per_execution``).
        dataset: batches of the model's inputs.

    Returns:
        What ``model.predict`` returns.
    """
    steps, function = model.steps_per_execution, model.predict_function
    model.steps_per_execution = 1
    model.predict_function = getattr(model, _ONE_STEP, None)
    try:
        if model.predict_function is None and not model.run_eagerly:
            model.make_predict_function()
            if model.distribute_strategy.num_replicas_in_sync == 1:
                # Keras calls it with a one-element list of eager batches.
                model.predict_function.get_concrete_function([dataset.element_spec])
        return model.predict(dataset, verbose=0)
    finally:
        setattr(model, _ONE_STEP, model.predict_function)
        model.steps_per_execution = steps
        model.predict_function = function
