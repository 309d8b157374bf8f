"""Stream a split of a data source through a trained run, one batch at a time.

Only one batch of features is in memory at a time; segment ids (a few bytes each) are
read up front so that every batch's rows can be named.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from tfs2s.data.dataset import SPLITS


@dataclasses.dataclass
class ScoredBatch:
    """Predictions for consecutive segments of a split.

    Attributes:
        split: the split the segments come from.
        segment_ids: str (batch,).
        video_ids: str (batch,).
        labels: float32 (batch,).
        sentiment: float32 (batch,) predictions.
        lengths: int (batch,) real words per segment.
        attention: float32 (batch, steps), when asked for.
    """

    split: str
    segment_ids: np.ndarray
    video_ids: np.ndarray
    labels: np.ndarray
    sentiment: np.ndarray
    lengths: np.ndarray
    attention: np.ndarray | None = None


def resolve_splits(source, split: str) -> list[str]:
    """``"all"`` -> every non-empty split; one split name -> that split, checked."""
    if split == "all":
        return source.nonempty_splits()
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {[*SPLITS, 'all']}")
    if split not in source.nonempty_splits():
        raise ValueError(
            f"split {split!r} is empty in {source.source}; it has {source.nonempty_splits()}"
        )
    return [split]


def segment_ids(source, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(segment ids, video ids), str (segments,), in the unshuffled dataset order."""
    data = getattr(source, "data", None)
    if data is not None:  # InMemorySource
        found = data.split(split)
        return found.segment_ids.astype(str), found.video_ids.astype(str)
    from tfs2s.data.cache import CachedSource

    if isinstance(source, CachedSource):
        return _cached_ids(source, split)
    raise ValueError(f"cannot read segment ids from {type(source).__name__} ({source.source})")


def _cached_ids(source, split: str) -> tuple[np.ndarray, np.ndarray]:
    import tensorflow as tf

    spec = {k: tf.io.FixedLenFeature([], tf.string) for k in ("segment_id", "video_id")}
    files = [str(source.path / s) for s in source.meta["splits"][split]["shards"]]
    ds = tf.data.TFRecordDataset(files, compression_type=source.meta["compression"])
    ds = ds.batch(4096).map(lambda x: tf.io.parse_example(x, spec))
    segments, videos = [], []
    for batch in ds:
        segments += [s.decode() for s in batch["segment_id"].numpy()]
        videos += [v.decode() for v in batch["video_id"].numpy()]
    return np.asarray(segments, dtype=str), np.asarray(videos, dtype=str)


def score_batches(
    run,
    source,
    split: str,
    *,
    batch_size: int | None = None,
    names: Sequence[str] | None = None,
    transform: Callable | None = None,
    attention: bool = False,
) -> Iterator[ScoredBatch]:
    """Yield the run's predictions on ``split``, batch by batch, in data order.

    Args:
        run: a :class:`~tfs2s.inference.runs.TrainedRun`.
        source: a :class:`~tfs2s.data.pipeline.DataSource` checked against the run.
        split: ``train``, ``valid`` or ``test``.
        batch_size: segments per batch; the run's evaluation batch size by default (the
            size its ``metrics.json`` was computed with).
        names: modalities to read from the source (default: those the model reads);
            a ``transform`` may corrupt ones the model does not read.
        transform: a ``tf.data`` map ``(features, label) -> (features, label)`` applied
            to the batched dataset (see :mod:`tfs2s.experiments.corruptions`).
        attention: also return the regressor's attention weights.
    """
    batch_size = batch_size or run.eval_batch_size
    names = list(names or run.inference_modalities)
    ids, videos = segment_ids(source, split)
    dataset = source.dataset(split, names, batch_size, shuffle=False)
    if transform is not None:
        dataset = transform(dataset)
    start = 0
    for features, labels in dataset:
        out = run.predict_batch(features, attention=attention)
        n = out["sentiment"].shape[0]
        if start + n > len(ids):
            raise ValueError(f"{source.source}: split {split!r} yields more segments than ids")
        bad = np.flatnonzero(~np.isfinite(out["sentiment"]))
        if bad.size:
            raise ValueError(
                f"run {run.path} gives non-finite scores (NaN or inf) to {bad.size} of {n} "
                f"segments of {split!r} in one batch of {source.source} (first: "
                f"{ids[start + bad[0]]}); no score of it can be trusted"
            )
        yield ScoredBatch(
            split=split,
            segment_ids=ids[start : start + n],
            video_ids=videos[start : start + n],
            labels=labels.numpy(),
            sentiment=out["sentiment"],
            lengths=features["mask"].numpy().sum(axis=1).astype(np.int64),
            attention=out.get("attention"),
        )
        start += n


def predictions(run, source, split: str, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """(labels float64 (n,), predictions float64 (n,)) of a whole split."""
    labels, preds = [], []
    for batch in score_batches(run, source, split, **kwargs):
        labels.append(batch.labels)
        preds.append(batch.sentiment)
    return (
        np.concatenate(labels).astype(np.float64),
        np.concatenate(preds).astype(np.float64),
    )
