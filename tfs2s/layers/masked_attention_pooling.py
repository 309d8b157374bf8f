"""Soft attention pooling over the real steps of a sequence (the poster's appendix)."""

from __future__ import annotations

import keras
from keras import ops

from tfs2s.layers.masking import masked_softmax


@keras.saving.register_keras_serializable(package="tfs2s")
class MaskedAttentionPooling(keras.layers.Layer):
    """``alpha = softmax(W h_t)`` over real steps, then ``A = sum_t alpha_t h_t``.

    Padded steps get exactly zero weight, so their values never reach the output.

    Call args:
        inputs: float32 (batch, steps, hidden) sequence ``H``.
        step_mask: float32 (batch, steps), 1.0 on real steps.
        return_weights: also return the weights ``alpha``.

    Returns:
        float32 (batch, hidden) attention-weighted sum of the real steps; with
        ``return_weights``, the pair (that sum, ``alpha`` float32 (batch, steps), summing
        to 1 over the real steps and exactly 0 on padded steps).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.score = keras.layers.Dense(1, name="score")

    def build(self, input_shape):
        if not self.score.built:
            self.score.build(input_shape)

    def call(self, inputs, step_mask, return_weights: bool = False):
        scores = ops.squeeze(self.score(inputs), -1)
        weights = masked_softmax(scores, step_mask)
        pooled = ops.sum(inputs * ops.expand_dims(weights, -1), axis=1)
        return (pooled, weights) if return_weights else pooled

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1])

    def compute_output_spec(self, inputs, step_mask, return_weights: bool = False):
        pooled = keras.KerasTensor((inputs.shape[0], inputs.shape[-1]), inputs.dtype)
        if not return_weights:
            return pooled
        return pooled, keras.KerasTensor(tuple(inputs.shape[:2]), inputs.dtype)
