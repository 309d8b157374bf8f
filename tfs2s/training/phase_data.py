"""The batches a phase trains and is validated on: which features, which targets.

:func:`phase_dataset` reads a split of a :class:`~tfs2s.data.pipeline.DataSource` and
maps each batch to what the phase's view takes: its input modalities and mask, the
``sentiment`` label, and the standardised target of every translation output with the
per-step weights that make Keras' MSE the masked MSE
(:func:`~tfs2s.training.losses.translation_step_weights`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import tensorflow as tf
from keras import ops

from tfs2s import modalities as M
from tfs2s.data.pipeline import PARALLEL_CALLS, DataSource, finish_pipeline
from tfs2s.layers.masked_normalization import normalize_features
from tfs2s.models.graph_utils import StatsConfig
from tfs2s.models.phase_schedule import Phase
from tfs2s.training.losses import translation_step_weights

#: Evaluation data up to this size is kept in memory after its first pass.
EVAL_CACHE_BYTES = 256 << 20


def standardised(features, names, stats: StatsConfig):
    """Standardised joined target (batch, steps, dims): the translation loss target."""
    parts = [
        normalize_features(features[n], stats[n]["mean"], stats[n]["variance"], features[M.MASK])
        for n in names
    ]
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)


def batch_mapper(phase: Phase, stats: StatsConfig) -> Callable:
    """``(features, label) -> (inputs, y[, sample_weights])`` for ``phase``'s view.

    A phase without translation outputs gets ``(inputs, {"sentiment": label})``; one with
    them also gets sample weights (1 per example for ``sentiment``).
    """
    names = (*phase.modalities, M.MASK)
    regresses = phase.regresses

    @tf.autograph.experimental.do_not_convert
    def prepare(features, label):
        inputs = {k: features[k] for k in names}
        y = {"sentiment": label} if regresses else {}
        if not phase.targets:
            return inputs, y
        sample_weights = {"sentiment": ops.ones_like(label)} if regresses else {}
        step_weights = translation_step_weights(features[M.MASK])
        for output, target_names in phase.targets.items():
            y[output] = standardised(features, target_names, stats)
            sample_weights[output] = step_weights
        return inputs, y, sample_weights

    return prepare


def phase_dataset(
    data: DataSource,
    split: str,
    phase: Phase,
    stats: StatsConfig,
    *,
    batch_size: int,
    seed: int,
    training: bool,
) -> tuple[tf.data.Dataset, int]:
    """A mapped dataset of ``split`` for ``phase`` and its steps per epoch.

    Training batches are shuffled, repeated and full (a fixed batch shape keeps one
    trace, one XLA compilation) unless the split is smaller than one batch.
    Evaluation batches are not shuffled and, when the split is small, cached after the
    first pass (the valid loss is computed after every epoch).
    """
    count = data.num_examples(split)
    full = training and count >= batch_size
    dataset = data.dataset(
        split,
        phase.modalities,
        batch_size,
        shuffle=training,
        seed=seed,
        drop_remainder=full,
        repeat=training,
    )
    dataset = dataset.map(
        batch_mapper(phase, stats), num_parallel_calls=PARALLEL_CALLS, deterministic=True
    )
    steps = count // batch_size if full else math.ceil(count / batch_size)
    if not training:
        # inputs and (standardised) targets: at most twice the features of the split
        width = sum(data.dims[name] for name in phase.modalities) + 1
        if 2 * count * data.max_seq_len * width * 4 <= EVAL_CACHE_BYTES:
            dataset = dataset.cache()
    return finish_pipeline(dataset), steps
