"""What is in a dataset: the JSON summary behind ``tfs2s data inspect``.

:func:`inspect_data` summarises a :class:`MosiData` in memory; :func:`inspect_source`
gives the same keys for a prepared cache from its ``meta.json`` alone (the per-split
summaries are computed by :func:`split_summary` when the cache is written).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from tfs2s.data.dataset import SPLITS, MosiData, Split, feature_health

#: Dropped segment ids listed in full up to this many.
FIRST_IDS = 10
#: 7-class labels ``round(clip(x, -3, 3))``.
SEVEN_CLASSES: tuple[int, ...] = (-3, -2, -1, 0, 1, 2, 3)


def split_summary(split: Split | None, max_seq_len: int) -> dict[str, Any]:
    """Counts, words-per-segment and label statistics of one split (JSON-serialisable).

    Args:
        split: the split, or ``None`` for an absent one (reported as empty).
        max_seq_len: padded steps, to count segments that fill every step.

    Returns:
        ``{"segments", "videos", "words": {...}, "labels": {...}}``. Word counts are
        after truncation: ``at_max_seq_len`` counts segments that fill every step (the
        truncated ones among them); ``truncated`` is exact only when the split records
        raw word counts (``raw_lengths``), else ``None``. Statistics of an empty split
        are ``None``; class counts are 0.
    """
    n = 0 if split is None else len(split)
    words: dict[str, Any] = dict.fromkeys(("min", "max", "mean", "median"))
    words.update(at_max_seq_len=0, truncated=None)
    labels: dict[str, Any] = dict.fromkeys(("min", "max", "mean"))
    labels["binary"] = {"negative": 0, "non_negative": 0}
    labels["seven_class"] = {str(c): 0 for c in SEVEN_CLASSES}
    videos = 0
    if n:
        lengths = np.asarray(split.lengths)
        words.update(
            min=int(lengths.min()),
            max=int(lengths.max()),
            mean=float(lengths.mean()),
            median=float(np.median(lengths)),
            at_max_seq_len=int((lengths >= max_seq_len).sum()),
        )
        raw = getattr(split, "raw_lengths", None)
        if raw is not None:
            words["truncated"] = int((np.asarray(raw) > max_seq_len).sum())
        y = np.asarray(split.labels, np.float64)
        labels.update(min=float(y.min()), max=float(y.max()), mean=float(y.mean()))
        labels["binary"] = {"negative": int((y < 0).sum()), "non_negative": int((y >= 0).sum())}
        classes = np.rint(np.clip(y, -3, 3)).astype(int)
        labels["seven_class"] = {str(c): int((classes == c).sum()) for c in SEVEN_CLASSES}
        videos = int(np.unique(split.video_ids).shape[0])
    return {"segments": n, "videos": videos, "words": words, "labels": labels}


def report_summary(report: dict[str, Any]) -> dict[str, Any]:
    """The reading report (``dataclasses.asdict(DataReport)``) in inspection form."""
    dropped = list(report.get("dropped_segments", []))
    missing = report.get("missing_videos", {})
    return {
        "nonfinite_replaced": {k: int(v) for k, v in report.get("nonfinite_replaced", {}).items()},
        "dropped_segments": {"count": len(dropped), "first": dropped[:FIRST_IDS]},
        "missing_videos": {
            s: {"count": len(missing.get(s, [])), "ids": list(missing.get(s, []))} for s in SPLITS
        },
        "unassigned_segments": int(report.get("unassigned_segments", 0)),
        "notes": list(report.get("notes", [])),
    }


def _summary(
    source: str,
    max_seq_len: int,
    dims: dict[str, int],
    splits: dict[str, dict[str, Any]],
    report: dict[str, Any],
) -> dict[str, Any]:
    return {
        "source": source,
        "max_seq_len": int(max_seq_len),
        "dims": {k: int(v) for k, v in dims.items()},
        "splits": splits,
        "total": {
            "segments": sum(s["segments"] for s in splits.values()),
            "videos": sum(s["videos"] for s in splits.values()),
        },
        **report_summary(report),
    }


def inspect_data(data: MosiData) -> dict[str, Any]:
    """Summarise word-aligned data as one JSON-serialisable object.

    Args:
        data: the data to describe.

    Returns:
        ``{"source", "max_seq_len", "dims", "splits": {split: split_summary},
        "total": {"segments", "videos"}, "nonfinite_replaced": {name: count},
        "dropped_segments": {"count", "first"}, "missing_videos": {split: {"count",
        "ids"}}, "unassigned_segments", "notes", "train_features": {name: {"constant",
        "nonfinite", "too_large": [feature index]}}}``; see :func:`split_summary` and
        :func:`~tfs2s.data.dataset.feature_health` (``train_features`` is ``{}`` without
        train words).
    """
    splits = {s: split_summary(data.splits.get(s), data.max_seq_len) for s in SPLITS}
    out = _summary(
        data.source, data.max_seq_len, data.dims, splits, dataclasses.asdict(data.report)
    )
    train = data.splits.get("train")
    has_words = train is not None and len(train) and train.mask().any()
    out["train_features"] = feature_health(train) if has_words else {}
    return out


class PreparedCache(Protocol):
    """What :func:`inspect_source` reads of a :class:`tfs2s.data.cache.CachedSource`
    (a protocol, so that this module does not import the cache that imports it)."""

    path: Path
    meta: dict[str, Any]


def inspect_source(source: PreparedCache) -> dict[str, Any]:
    """The :func:`inspect_data` summary of a prepared cache, read from its ``meta.json``.

    Args:
        source: an open cache.

    Returns:
        The keys of :func:`inspect_data`, plus ``"cache"``: ``{"path", "format_version",
        "compression", "shards": {split: count}}``.
    """
    meta = source.meta
    splits = {s: meta["splits"][s]["summary"] for s in SPLITS}
    out = _summary(meta["source"], meta["max_seq_len"], meta["dims"], splits, meta["report"])
    out["train_features"] = meta.get("train_features", {})
    out["cache"] = {
        "path": str(source.path),
        "format_version": meta["version"],
        "compression": meta["compression"],
        "shards": {s: len(meta["splits"][s]["shards"]) for s in SPLITS},
    }
    return out
