"""Per-feature standardisation with train statistics that keeps padded steps at 0."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np
from keras import ops

from tfs2s.layers.masking import zero_padded_steps

#: Smallest variance used, so that constant features standardise to 0 rather than inf.
MIN_VARIANCE = 1e-6


def normalize_features(features, mean, variance, mask):
    """Standardise features with fixed statistics and zero the padded steps.

    Args:
        features: float32 (batch, steps, dim) raw features.
        mean: (dim,) per-feature mean over the real training words.
        variance: (dim,) per-feature variance over the real training words.
        mask: float32 (batch, steps), 1.0 on real words.

    Returns:
        float32 (batch, steps, dim): ``(features - mean) / sqrt(variance)`` on real steps,
        0 on padded steps.
    """
    mean = ops.convert_to_tensor(np.asarray(mean, np.float32))
    scale = ops.rsqrt(
        ops.maximum(ops.convert_to_tensor(np.asarray(variance, np.float32)), MIN_VARIANCE)
    )
    return zero_padded_steps((ops.cast(features, "float32") - mean) * scale, mask)


def denormalize_features(features, mean, variance, mask):
    """Invert :func:`normalize_features` on real steps; padded steps stay 0.

    Args:
        features: float32 (batch, steps, dim) standardised features.
        mean: (dim,) the mean used to standardise.
        variance: (dim,) the variance used to standardise.
        mask: float32 (batch, steps), 1.0 on real words.

    Returns:
        float32 (batch, steps, dim) in the raw feature scale.
    """
    mean = ops.convert_to_tensor(np.asarray(mean, np.float32))
    std = ops.sqrt(
        ops.maximum(ops.convert_to_tensor(np.asarray(variance, np.float32)), MIN_VARIANCE)
    )
    return zero_padded_steps(features * std + mean, mask)


@keras.saving.register_keras_serializable(package="tfs2s")
class MaskedNormalization(keras.layers.Layer):
    """Standardises (or, with ``invert=True``, de-standardises) one modality's features.

    The statistics are constants of the layer (stored in its config), so an exported
    model applies exactly the transform it was trained with.

    Args:
        mean: sequence of ``dim`` floats, per-feature train mean.
        variance: sequence of ``dim`` floats, per-feature train variance.
        invert: map standardised features back to the raw scale instead.

    Call args:
        inputs: float32 (batch, steps, dim).
        step_mask: float32 (batch, steps), 1.0 on real words.

    Returns:
        float32 (batch, steps, dim), 0 on padded steps.
    """

    def __init__(
        self, mean: Sequence[float], variance: Sequence[float], invert: bool = False, **kwargs
    ):
        super().__init__(**kwargs)
        self.mean = [float(v) for v in np.asarray(mean).reshape(-1)]
        self.variance = [float(v) for v in np.asarray(variance).reshape(-1)]
        if len(self.mean) != len(self.variance):
            raise ValueError(
                f"MaskedNormalization: mean has {len(self.mean)} features but variance has "
                f"{len(self.variance)}"
            )
        self.invert = invert

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != len(self.mean):
            raise ValueError(
                f"MaskedNormalization {self.name}: expected {len(self.mean)} features (the "
                f"statistics' size), found input shape {input_shape}"
            )

    def call(self, inputs, step_mask):
        transform = denormalize_features if self.invert else normalize_features
        return transform(inputs, self.mean, self.variance, step_mask)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mean": self.mean, "variance": self.variance, "invert": self.invert})
        return config
