"""Reading the widely shared word-aligned CMU-MOSI pickles into :class:`MosiData`.

Two layouts, each ``{split: {key: array}}`` with splits ``train``/``valid``/``test``:

* MulT ``mosi_data.pkl``: ``text`` (N, L, 300), ``audio`` (N, L, 74), ``vision``
  (N, L, 35 or 47), ``labels`` (N, 1, 1), ``id`` (N, 3) ``[video_id, ..., ...]`` (bytes);
  word steps are padded with all-zero rows in front.
* MMSA ``aligned_50.pkl``: ``text``, ``audio``, ``vision`` (N, L, d),
  ``regression_labels`` (N,), ``id`` (N,) ``"video$_$clip"``, and keys that are ignored
  here (``raw_text``, ``classification_labels``, ``audio_lengths``, ...).

The pickle's own splits are the folds. ``vision`` is our ``video`` modality.
"""

from __future__ import annotations

import collections
import pickle
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from tfs2s import Tfs2sWarning
from tfs2s.data.align import replace_nonfinite
from tfs2s.data.csd import SegmentList, check_labels, check_segment_options
from tfs2s.data.dataset import SPLITS, DataReport, MosiData, Split, warn_about_cleaning
from tfs2s.errors import InputError, describe

#: Pickle key -> our modality name.
MODALITY_KEYS: dict[str, str] = {"text": "text", "audio": "audio", "vision": "video"}

#: Layout name -> key of the sentiment labels.
LABEL_KEYS: dict[str, str] = {
    "MMSA aligned_50.pkl": "regression_labels",
    "MulT mosi_data.pkl": "labels",
}


def _unpickle(file: Path) -> Any:
    def load(**kwargs: str) -> Any:
        with file.open("rb") as f:
            return pickle.load(f, **kwargs)

    try:
        try:
            return load()
        except UnicodeDecodeError:
            # Python 2 pickles of numpy arrays only load with a byte-preserving encoding.
            return load(encoding="latin1")
    except Exception as e:
        # Re-raised with the file name: a truncated or foreign file fails in many ways
        # (UnpicklingError, EOFError, MemoryError, OSError, ... or any error of the code
        # a trusted pickle runs).
        raise InputError(f"{file}: cannot unpickle: {describe(e)}") from None


def _layout(file: Path, split: str, arrays: Any) -> str:
    if not isinstance(arrays, Mapping):
        raise ValueError(
            f"{file}: split {split!r}: expected a dict of arrays, found {type(arrays).__name__}"
        )
    for layout, key in LABEL_KEYS.items():
        if key in arrays:
            return layout
    raise ValueError(
        f"{file}: split {split!r}: no label key; expected 'regression_labels' (MMSA) or "
        f"'labels' (MulT), found keys {sorted(map(str, arrays))}"
    )


def _ids(raw: Any, n: int, file: Path, split: str) -> tuple[list[str], list[str]]:
    """Segment and video ids from an ``id`` entry.

    ``"video$_$clip"`` (MMSA) -> ``video_clip``; a row ``[video, a, b]`` (MulT) ->
    ``video_a_b`` (``video_a`` for one extra column); ``"video_3"`` -> itself, video
    ``video`` when the suffix is a number.
    """

    def text(x: Any) -> str:
        return x.decode("utf-8", errors="replace") if isinstance(x, bytes) else str(x)

    ids = np.asarray(raw, dtype=object)
    if ids.ndim == 0 or ids.shape[0] != n:
        raise ValueError(
            f"{file}: split {split!r} key 'id': expected {n} ids (one per segment), "
            f"found shape {ids.shape}"
        )
    segments, videos = [], []
    for row in ids:
        if isinstance(row, np.ndarray) and row.ndim:
            parts = [text(c) for c in row.reshape(-1)]
            video = parts[0]
            segment = "_".join([video, *(p for p in parts[1:] if p)])
        else:
            segment = text(row)
            if "$_$" in segment:
                video, clip = segment.split("$_$", 1)
                segment = f"{video}_{clip}"
            else:
                head, _, tail = segment.rpartition("_")
                video = head if head and tail.isdigit() else segment
        segments.append(segment)
        videos.append(video)
    return segments, videos


def _read_split(
    file: Path,
    split: str,
    arrays: Mapping[str, Any],
    label_key: str,
    dims: dict[str, int],
    report: DataReport,
    first: dict[str, str],
) -> SegmentList:
    """Validate one split and cut its real word steps out of the padding.

    ``first`` gets, per modality, the first segment with a non-finite value.

    Returns:
        The split's segments with at least one word, each float32 (words, dim) per modality.
    """
    where = f"{file}: split {split!r}"
    if "text" not in arrays:
        raise ValueError(f"{where}: no 'text' key; found keys {sorted(map(str, arrays))}")
    feats = {}
    for key, name in MODALITY_KEYS.items():
        if key not in arrays:
            continue
        try:
            x = np.array(arrays[key], dtype=np.float32)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where} key {key!r}: expected a float array: {e}") from None
        if x.ndim != 3:
            raise ValueError(
                f"{where} key {key!r}: expected shape (segments, steps, dim), found {x.shape}"
            )
        feats[name] = x
    n, steps = feats["text"].shape[:2]
    for key, name in MODALITY_KEYS.items():
        if name not in feats:
            continue
        shape = feats[name].shape
        if shape[:2] != (n, steps):
            raise ValueError(
                f"{where} key {key!r}: expected (segments, steps) = {(n, steps)} as in 'text', "
                f"found {shape[:2]} (an unaligned pickle has different steps per modality)"
            )
        if dims.setdefault(name, shape[2]) != shape[2]:
            raise ValueError(
                f"{where} key {key!r}: expected {dims[name]} features per step as in the "
                f"other splits, found {shape[2]}"
            )
    try:
        labels = np.asarray(arrays[label_key], dtype=np.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{where} key {label_key!r}: expected numbers: {e}") from None
    if labels.size != n:
        raise ValueError(
            f"{where} key {label_key!r}: expected one label per segment ({n}), "
            f"found shape {labels.shape}"
        )
    labels = labels.reshape(n)
    if "id" in arrays:
        segment_ids, video_ids = _ids(arrays["id"], n, file, split)
    else:
        segment_ids = [f"{split}_{i}" for i in range(n)]
        video_ids = list(segment_ids)
        report.notes.append(f"split {split!r} has no 'id' key: each segment is its own video")
    check_labels(labels, f"{where} key {label_key!r}", lambda i: f"{i} ({segment_ids[i]})")
    real = np.zeros((n, steps), bool)
    for name, x in feats.items():
        bad = np.flatnonzero(~np.isfinite(x).all(axis=tuple(range(1, x.ndim))))
        if bad.size:
            first.setdefault(name, f"{split} segment {segment_ids[bad[0]]}")
        report.nonfinite_replaced[name] = report.nonfinite_replaced.get(name, 0) + (
            replace_nonfinite(x)
        )
        # Padding rows are zero in every modality; a step is a word if any modality has a value.
        real |= (x != 0).any(axis=2)
    segments = SegmentList()
    for i in range(n):
        index = np.flatnonzero(real[i])
        if index.size == 0:
            report.dropped_segments.append(segment_ids[i])
            continue
        segments.add(
            {name: x[i, index] for name, x in feats.items()},
            labels[i],
            segment_ids[i],
            video_ids[i],
        )
    return segments


def _check_ids(file: Path, parts: Mapping[str, SegmentList]) -> None:
    """A segment id in two splits is refused: its test score would be of a segment the
    model was trained on. An id twice in one split is warned about (its rows are kept;
    predictions by id would mix them)."""
    seen: dict[str, str] = {}
    for split, part in parts.items():
        ids = list(part.segment_ids)
        counts = collections.Counter(ids)
        repeated = sorted(i for i, c in counts.items() if c > 1)
        if repeated:
            warnings.warn(
                f"{file}: split {split!r}: {len(repeated)} segment id(s) occur more than once "
                f"(first {repeated[0]!r}); their rows are kept as separate segments",
                Tfs2sWarning,
                stacklevel=3,
            )
        for segment in dict.fromkeys(ids):
            other = seen.setdefault(segment, split)
            if other != split:
                raise ValueError(
                    f"{file}: segment {segment!r} is in split {other!r} and in split "
                    f"{split!r}; expected each segment in one split only (a test score of a "
                    "segment trained on is not a test score)"
                )


def load_aligned_pickle(
    path: str,
    trust: bool,
    max_seq_len: int = 20,
    truncate: str = "head",
) -> MosiData:
    """Read a word-aligned MulT or MMSA CMU-MOSI pickle.

    Word steps are the steps where at least one modality is not all zero, kept in order,
    so padding may sit in front (MulT) or behind; a real word whose features are zero in
    every modality is indistinguishable from padding and is dropped with it. Segments
    without any word are dropped and listed in ``report.dropped_segments``. NaN/±inf
    become 0 and are counted per modality.

    Args:
        path: the ``.pkl`` file.
        trust: unpickling runs code stored in the file; it is refused unless True
            (the ``--trust-pickle`` flag; never a config file).
        max_seq_len: words kept per segment.
        truncate: ``"head"`` keeps a long segment's first words, ``"tail"`` its last.

    Returns:
        :class:`MosiData` whose splits are the pickle's; a split absent from the file is
        empty.

    Raises:
        FileNotFoundError: no such file.
        ValueError: untrusted file, unknown layout, inconsistent shapes or a label outside
            [-3, 3]; the message names the file, split and key.
    """
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"aligned pickle {file} does not exist")
    check_segment_options(max_seq_len, truncate)
    if not trust:
        raise ValueError(
            f"refusing to unpickle {file}: unpickling runs code stored in the file, so a "
            "malicious pickle can do anything your user can. If you trust this file, pass "
            "--trust-pickle."
        )
    obj = _unpickle(file)
    present = [s for s in SPLITS if isinstance(obj, Mapping) and s in obj]
    if not present:
        found = sorted(map(str, obj)) if isinstance(obj, Mapping) else type(obj).__name__
        raise ValueError(
            f"{file}: expected a dict with splits {list(SPLITS)} (MulT/MMSA aligned layout), "
            f"found {found}"
        )
    layouts = {s: _layout(file, s, obj[s]) for s in present}
    keys = {s: [k for k in MODALITY_KEYS if k in obj[s]] for s in present}
    if len({tuple(k) for k in keys.values()}) > 1:
        raise ValueError(f"{file}: the splits hold different modality keys: {keys}")
    report = DataReport()
    dims: dict[str, int] = {}
    first: dict[str, str] = {}
    parts = {
        s: _read_split(file, s, obj[s], LABEL_KEYS[layouts[s]], dims, report, first)
        for s in present
    }
    _check_ids(file, parts)
    names = [n for n in MODALITY_KEYS.values() if n in dims]
    dims = {n: dims[n] for n in names}
    splits = {}
    for split in SPLITS:
        if split not in parts:
            splits[split] = Split.empty(dims, max_seq_len)
            report.notes.append(f"{file.name} has no {split!r} split; it is empty")
            continue
        splits[split] = parts[split].to_split(dims, max_seq_len, truncate)
    layout = " + ".join(sorted(set(layouts.values())))
    report.notes.append(
        f"{layout} layout; a step is a word when any modality is non-zero there (padding is "
        "all zero)"
    )
    warn_about_cleaning(report, {n: str(file) for n in names}, first)
    return MosiData(
        splits=splits,
        dims=dims,
        max_seq_len=max_seq_len,
        source=f"aligned pickle {file} ({layout})",
        report=report,
    )
