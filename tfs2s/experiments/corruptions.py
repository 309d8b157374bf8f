"""Test-time corruptions of one modality, applied to batches in raw feature space.

The model standardises its inputs with the train statistics (``(x - mean) / std``), so a
corruption is defined in that standardised space and mapped back to raw features:

* ``missing``: every real step is the train mean, i.e. zero after normalisation
  (level 1 = the whole modality is gone; level 0 = clean).
* ``gaussian``: ``x + level * std * N(0, 1)`` on every real step (level in train
  standard deviations).
* ``dropout``: word dropout, each real step independently replaced by the train mean
  (zero after normalisation) with probability ``level``.

Padded steps stay exactly zero. Noise is drawn from stateless generators keyed by
``(seed, batch index)``, so a study is reproducible and does not depend on how many
other datasets were built before.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from tfs2s import modalities as M
from tfs2s.data.pipeline import PARALLEL_CALLS
from tfs2s.experiments.corruption_levels import CORRUPTIONS, LEVELS, check_corruptions  # noqa: F401


@dataclasses.dataclass(frozen=True)
class Corruption:
    """One corruption of one modality at one level.

    Attributes:
        modality: feature name, e.g. ``"audio"``.
        kind: one of :data:`CORRUPTIONS`.
        level: missing: 0 or 1; gaussian: noise std in train stds; dropout: probability.
        mean: float32 (dim,) train mean of the modality (raw scale).
        std: float32 (dim,) train standard deviation of the modality (raw scale).
        seed: seed of the noise.
    """

    modality: str
    kind: str
    level: float
    mean: np.ndarray
    std: np.ndarray
    seed: int = 0

    def __post_init__(self):
        check_corruptions([self.kind])
        if self.kind == "missing" and self.level not in (0.0, 1.0):
            raise ValueError(f"missing: level must be 0 or 1, found {self.level}")
        if self.kind == "dropout" and not 0.0 <= self.level <= 1.0:
            raise ValueError(f"dropout: level must be a probability, found {self.level}")
        if self.kind == "gaussian" and self.level < 0:
            raise ValueError(f"gaussian: level must be >= 0, found {self.level}")

    def apply(self, features: dict, index) -> dict:
        """Corrupt ``features[modality]`` of one batch.

        Args:
            features: ``{name: float32 (batch, steps, dim), "mask": (batch, steps)}``.
            index: int64 scalar, the batch's position (keys the noise).

        Returns:
            a new dict with the corrupted modality.
        """
        x = features[self.modality]
        real = tf.cast(features[M.MASK][..., None] > 0, tf.bool)
        mean = tf.constant(self.mean, tf.float32)
        key = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(index, tf.int64)])
        if self.kind == "missing":
            replace = tf.logical_and(real, tf.constant(self.level > 0))
            out = tf.where(replace, tf.broadcast_to(mean, tf.shape(x)), x)
        elif self.kind == "gaussian":
            noise = tf.random.stateless_normal(tf.shape(x), seed=key)
            scale = tf.constant(self.level * self.std, tf.float32)
            out = tf.where(real, x + scale * noise, x)
        else:
            draw = tf.random.stateless_uniform(tf.shape(x)[:2], seed=key)[..., None]
            replace = tf.logical_and(real, draw < self.level)
            out = tf.where(replace, tf.broadcast_to(mean, tf.shape(x)), x)
        return {**features, self.modality: out}

    def transform(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        """Corrupt every ``(features, label)`` batch of ``dataset``."""

        def corrupt(index, batch):
            features, label = batch
            return self.apply(features, index), label

        return dataset.enumerate().map(
            corrupt, num_parallel_calls=PARALLEL_CALLS, deterministic=True
        )
