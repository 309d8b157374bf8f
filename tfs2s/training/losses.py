"""Losses: MAE on sentiment, masked MSE on standardised translations.

Both are written as standard Keras per-example losses (plus sample weights for the
translation), so ``compile``/``fit`` handle the reduction and its scaling across
replicas: a batch's loss is the mean of its examples' losses, which is the same whether
the global batch is on one replica or split evenly over several.
"""

from __future__ import annotations

import keras
from keras import ops

#: Keras loss of the translation outputs; with :func:`translation_step_weights` as sample
#: weights it is :func:`masked_mse` averaged over the batch.
TRANSLATION_LOSS = "mean_squared_error"


@keras.saving.register_keras_serializable(package="tfs2s")
def absolute_error(y_true, y_pred):
    """Per-example absolute sentiment error (Keras averages it: the poster's MAE).

    Args:
        y_true: float32 (batch,) true sentiment.
        y_pred: float32 (batch,) predicted sentiment.

    Returns:
        float32 (batch,) ``|y_pred - y_true|``.
    """
    return ops.abs(ops.cast(y_pred, "float32") - ops.cast(y_true, "float32"))


def translation_step_weights(mask):
    """Sample weights turning Keras' MSE into a per-example mean over real steps.

    Keras' ``mean_squared_error`` gives (batch, steps) errors (mean over features) and
    the default reduction divides their weighted sum by ``batch * steps``; weighting
    each real step of an example by ``steps / real_steps`` (and padded steps by 0) makes
    that the batch mean of :func:`masked_mse`.

    Args:
        mask: float32 (batch, steps), 1.0 on real words; every row has a real word.

    Returns:
        float32 (batch, steps) weights.
    """
    mask = ops.cast(mask, "float32")
    steps = ops.cast(ops.shape(mask)[1], "float32")
    return mask * steps / ops.maximum(ops.sum(mask, axis=1, keepdims=True), 1.0)


def masked_mse(y_true, y_pred, mask):
    """Mean squared error of each example over its real steps and all features.

    Args:
        y_true: float32 (batch, steps, dim) standardised target.
        y_pred: float32 (batch, steps, dim) predicted frames.
        mask: float32 (batch, steps), 1.0 on real words.

    Returns:
        float32 (batch,) per-example errors; padded steps do not count.
    """
    valid = ops.cast(mask, "bool")
    per_step = ops.where(valid, ops.mean(ops.square(y_pred - y_true), axis=-1), 0.0)
    real_steps = ops.sum(ops.cast(valid, "float32"), axis=1)
    return ops.sum(per_step, axis=1) / ops.maximum(real_steps, 1.0)
