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

import numpy as np
import tensorflow as tf
from keras import ops

from tfs2s import modalities as M
from tfs2s.data.dataset import Split
from tfs2s.data.pipeline import (
    PARALLEL_CALLS,
    DataSource,
    InMemorySource,
    finish_pipeline,
    split_dataset,
)
from tfs2s.layers.masked_normalization import normalize_features
from tfs2s.models.graph_utils import StatsConfig
from tfs2s.models.phase_schedule import Phase
from tfs2s.training.losses import translation_step_weights
from tfs2s.training.predict import predict

#: Evaluation data up to this size is kept in memory after its first pass.
EVAL_CACHE_BYTES = 256 << 20


def standardised(features, names, stats: StatsConfig):
    """Standardised joined target (batch, steps, dims): the translation loss target."""
    parts = [
        normalize_features(features[n], stats[n]["mean"], stats[n]["variance"], features[M.MASK])
        for n in names
    ]
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=-1)


def drop_one_modality(features, names, stats: StatsConfig, rate: float, seed):
    """Modality dropout: per example, with probability ``rate``, one of ``names`` (chosen
    uniformly) becomes its train mean on the real words (0 once standardised).

    Args:
        features: name -> float32 (batch, steps, dim) raw features, and ``mask``.
        names: the droppable modalities; the caller keeps at least one modality out of
            them, so that a dropped example keeps some input.
        stats: train statistics of ``names``.
        rate: probability that an example loses one modality.
        seed: int64 (2,) stateless seed of this batch.

    Returns:
        a copy of ``features`` with the dropped modalities replaced.
    """
    mask = features[M.MASK]
    batch = tf.shape(mask)[0]
    drop = tf.random.stateless_uniform([batch], seed) < rate
    which = tf.random.stateless_uniform(
        [batch], seed + tf.constant([0, 1], tf.int64), maxval=len(names), dtype=tf.int32
    )
    out = dict(features)
    for i, name in enumerate(names):
        hit = tf.logical_and(drop, tf.equal(which, i))[:, None, None]
        mean = tf.constant(stats[name]["mean"], features[name].dtype)
        out[name] = tf.where(hit, mask[..., None] * mean, features[name])
    return out


def batch_mapper(
    phase: Phase,
    stats: StatsConfig,
    modality_dropout: tuple[float, tuple[str, ...]] | None = None,
    input_names: tuple[str, ...] | None = None,
) -> Callable:
    """``(features, label) -> (inputs, y[, sample_weights])`` for ``phase``'s view.

    A phase without translation outputs gets ``(inputs, {"sentiment": label})``; one with
    them also gets sample weights (1 per example for ``sentiment``). The inputs are
    ``phase.modalities`` and the mask, or ``input_names`` and the mask.

    With ``modality_dropout=(rate, names)`` the mapper takes ``((features, label),
    seed)`` (``seed``: an int64 scalar per batch) and applies :func:`drop_one_modality`
    to the inputs only; translation targets come from the unchanged features.
    """
    names = (*(phase.modalities if input_names is None else input_names), M.MASK)
    regresses = phase.regresses

    @tf.autograph.experimental.do_not_convert
    def prepare(features, label, dropped=None):
        inputs = {k: (features if dropped is None else dropped)[k] for k in names}
        y = {"sentiment": label} if regresses else {}
        if not phase.targets:
            return inputs, y
        sample_weights = {"sentiment": ops.ones_like(label)} if regresses else {}
        step_weights = translation_step_weights(features[M.MASK])
        for output, target_names in phase.targets.items():
            y[output] = standardised(features, target_names, stats)
            sample_weights[output] = step_weights
        return inputs, y, sample_weights

    if modality_dropout is None:
        return prepare
    rate, droppable = modality_dropout

    @tf.autograph.experimental.do_not_convert
    def prepare_dropping(example, seed):
        features, label = example
        seed = tf.stack([tf.cast(seed, tf.int64), tf.constant(0, tf.int64)])
        return prepare(features, label, drop_one_modality(features, droppable, stats, rate, seed))

    return prepare_dropping


def epoch_batches(count: int, batch_size: int, training: bool) -> tuple[bool, int]:
    """``(drop_remainder, steps per epoch)`` of a split of ``count`` examples: training
    batches are full (a fixed batch shape keeps one trace) unless the split is smaller
    than one batch; evaluation keeps the last partial batch."""
    full = training and count >= batch_size
    return full, count // batch_size if full else math.ceil(count / batch_size)


def phase_dataset(
    data: DataSource,
    split: str,
    phase: Phase,
    stats: StatsConfig,
    *,
    batch_size: int,
    seed: int,
    training: bool,
    modality_dropout: tuple[float, tuple[str, ...]] | None = None,
) -> tuple[tf.data.Dataset, int]:
    """A mapped dataset of ``split`` for ``phase`` and its steps per epoch.

    Training batches are shuffled, repeated and full (a fixed batch shape keeps one
    trace, one XLA compilation) unless the split is smaller than one batch.
    Evaluation batches are not shuffled and, when the split is small, cached after the
    first pass (the valid loss is computed after every epoch).

    ``modality_dropout=(rate, names)`` (training batches only) drops one of ``names`` per
    example with probability ``rate`` (:func:`drop_one_modality`), seeded by ``seed``.
    """
    count = data.num_examples(split)
    full, steps = epoch_batches(count, batch_size, training)
    if not training and 0 < count <= batch_size:
        # One batch of exactly the split: its shape is then known when the step is
        # traced, so the LSTMs' XLA loops start compiling for it at once
        # (tfs2s.layers.xla_lstm.precompile).
        batch_size, full = count, True
    dataset = data.dataset(
        split,
        phase.modalities,
        batch_size,
        shuffle=training,
        seed=seed,
        drop_remainder=full,
        repeat=training,
    )
    dropping = modality_dropout if training else None
    if dropping is not None:
        dataset = tf.data.Dataset.zip((dataset, tf.data.Dataset.random(seed=seed)))
    dataset = dataset.map(
        batch_mapper(phase, stats, dropping), num_parallel_calls=PARALLEL_CALLS, deterministic=True
    )
    if not training:
        # inputs and (standardised) targets: at most twice the features of the split
        width = sum(data.dims[name] for name in phase.modalities) + 1
        if 2 * count * data.max_seq_len * width * 4 <= EVAL_CACHE_BYTES:
            dataset = dataset.cache()
    return finish_pipeline(dataset), steps


def representation_dataset(
    data: InMemorySource,
    split: str,
    phase: Phase,
    stats: StatsConfig,
    *,
    batch_size: int,
    eval_batch_size: int,
    seed: int,
    training: bool,
) -> tuple[tf.data.Dataset, int]:
    """The batches of a phase that trains on :attr:`Phase.representation`'s output.

    That frozen view is run once over ``split``, in data order and in batches of
    ``eval_batch_size``; its output is then served as :func:`phase_dataset` serves the
    raw features: for the same ``seed`` the same segments in the same batches and order
    (the in-memory pipeline's order is a function of the split's size and the seed
    alone), as ``{"sequence", "mask"}`` and the ``sentiment`` label (a regression
    phase), or ``{"sequence", "mask", targets...}`` with the standardised targets and
    their step weights (a translation stage; the raw targets feed teacher forcing).

    Returns:
        the dataset and its steps per epoch, as :func:`phase_dataset`.
    """
    view = phase.representation
    sources = [name for name in view.input if name != M.MASK]
    raw = data.dataset(split, sources, eval_batch_size)
    table = np.asarray(predict(view, raw)["sequence"], np.float32)
    segments = data.data.split(split)
    targets = tuple(dict.fromkeys(n for names in phase.targets.values() for n in names))
    computed = Split(
        features={"sequence": table, **{name: segments.features[name] for name in targets}},
        lengths=segments.lengths,
        labels=segments.labels,
        segment_ids=segments.segment_ids,
        video_ids=segments.video_ids,
    )
    names = ("sequence", *targets)
    full, steps = epoch_batches(len(computed), batch_size, training)
    dataset = split_dataset(
        computed,
        list(names),
        batch_size,
        shuffle=training,
        seed=seed,
        drop_remainder=full,
        repeat=training,
    )
    mapper = batch_mapper(phase, stats, input_names=names)
    dataset = dataset.map(mapper, num_parallel_calls=PARALLEL_CALLS, deterministic=True)
    return finish_pipeline(dataset), steps
