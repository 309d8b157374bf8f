"""Word-level alignment of frame features: the CMU-SDK ``align`` with an averaging collapse.

Every word gets the mean of the frames whose interval overlaps the word's interval by a
positive length. Frames may be dense (COVAREP 100 Hz, FACET 30 Hz) or one vector per
segment; the computation is vectorised per video (sort once, ``searchsorted``, float64
sums between range ends and their cumulative sum), with an exact fallback for frames that
overlap each other irregularly.
"""

from __future__ import annotations

import numpy as np

# Boolean overlap matrices of the fallback path are built in chunks of at most this many
# cells so that memory stays bounded (~4M cells: 4 MB of bools, 32 MB as float64).
_FALLBACK_CELLS = 1 << 22


def replace_nonfinite(x: np.ndarray) -> int:
    """Replace NaN and ±inf by 0 in place and return how many values were replaced.

    Alignment sums features with cumulative sums, where a single NaN or inf would spread
    to every later word, so readers clean features with this first.

    Args:
        x: float array of any shape, modified in place.

    Returns:
        The number of values replaced.
    """
    bad = ~np.isfinite(x)
    count = int(np.count_nonzero(bad))
    if count:
        x[bad] = 0
    return count


def check_intervals(x: np.ndarray, where: str, nonnegative: bool = False) -> np.ndarray:
    """Check ``[start, end]`` intervals and return them as float64.

    Args:
        x: (n, 2) numbers.
        where: what is checked (file and video, or argument name), used in messages.
        nonnegative: also require times >= 0 (seconds from a video's start).

    Returns:
        float64 (n, 2).

    Raises:
        ValueError: wrong shape or dtype, a non-finite or negative time, or an interval
            that ends before it starts; the message gives the first bad row.
    """
    x = np.asarray(x)
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(
            f"{where}: expected intervals of shape (n, 2) [start, end], found {x.shape}"
        )
    if x.dtype.kind not in "fiu":
        raise ValueError(f"{where}: expected numeric intervals, found dtype {x.dtype}")
    x = x.astype(np.float64, copy=False)
    finite = np.isfinite(x).all(axis=1)
    if not finite.all():
        row = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{where}: interval row {row} is not finite: {x[row].tolist()}")
    if nonnegative and (x < 0).any():
        row = int(np.flatnonzero((x < 0).any(axis=1))[0])
        raise ValueError(
            f"{where}: interval row {row} has a negative time {x[row].tolist()}; "
            "expected seconds from the video start (>= 0)"
        )
    reversed_rows = np.flatnonzero(x[:, 1] < x[:, 0])
    if reversed_rows.size:
        row = int(reversed_rows[0])
        raise ValueError(
            f"{where}: {reversed_rows.size} intervals end before they start, first row "
            f"{row}: [start, end] = {x[row].tolist()}; expected end >= start"
        )
    return x


def _is_sorted(x: np.ndarray) -> bool:
    return bool(np.all(x[1:] >= x[:-1]))


def _overlap_sums(
    q_start: np.ndarray,
    q_end: np.ndarray,
    f_start: np.ndarray,
    f_end: np.ndarray,
    feats: np.ndarray,
    closed: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count the frames that meet each query interval.

    A frame meets a query when ``f_start < q_end and f_end > q_start`` (``closed=False``)
    or ``f_start <= q_end and f_end >= q_start`` (``closed=True``).

    Args:
        q_start, q_end: float64 (n_queries,).
        f_start, f_end: float64 (n_frames,), ``f_start <= f_end``.
        feats: (n_frames, d) finite features.
        closed: which of the two conditions above to use.

    Returns:
        (sums float64 (n_queries, d), counts int64 (n_queries,)).
    """
    n_frames, d = feats.shape
    if n_frames == 0:
        return np.zeros((q_start.shape[0], d)), np.zeros(q_start.shape[0], np.int64)
    if not (_is_sorted(f_start) and _is_sorted(f_end)):
        # Ties in start are broken by end so that equal-start frames do not by themselves
        # break the monotone-end property the fast path needs.
        order = np.lexsort((f_end, f_start))
        f_start, f_end, feats = f_start[order], f_end[order], feats[order]
    if _is_sorted(f_end):
        # Starts and ends both non-decreasing: frames starting before the query end form a
        # prefix, frames ending after the query start form a suffix, and the frames meeting
        # the query are their intersection, a contiguous range [lo, hi).
        hi = np.searchsorted(f_start, q_end, side="right" if closed else "left")
        lo = np.searchsorted(f_end, q_start, side="left" if closed else "right")
        hi = np.maximum(hi, lo)
        counts = (hi - lo).astype(np.int64)
        # Prefix sums are only needed at the range ends, so sum the frames between
        # consecutive ends (one reduceat pass, no (n_frames, d) float64 prefix array) and
        # take a float64 cumulative sum over those pieces; float64 keeps the difference of
        # two large prefix sums accurate.
        ends = np.unique(np.concatenate([lo, hi]))
        starts = ends[ends < n_frames]
        if starts.size == 0:
            return np.zeros((q_start.shape[0], d)), counts
        pieces = np.add.reduceat(feats, starts, axis=0, dtype=np.float64)
        prefix = np.zeros((starts.size + 1, d), np.float64)
        np.cumsum(pieces, axis=0, out=prefix[1:])
        # Every lo/hi is in `starts` or equals n_frames (-> the total, the last prefix row).
        return prefix[np.searchsorted(starts, hi)] - prefix[np.searchsorted(starts, lo)], counts
    # Frames that overlap each other irregularly (e.g. one vector per overlapping segment):
    # the meeting frames are not contiguous, so test every (query, frame) pair. Such inputs
    # have few frames, and chunking bounds memory when they do not.
    n_q = q_start.shape[0]
    sums = np.zeros((n_q, d), np.float64)
    counts = np.zeros(n_q, np.int64)
    feats64 = feats.astype(np.float64)
    step = max(1, _FALLBACK_CELLS // n_frames)
    for a in range(0, n_q, step):
        qs, qe = q_start[a : a + step, None], q_end[a : a + step, None]
        if closed:
            meets = (f_start[None, :] <= qe) & (f_end[None, :] >= qs)
        else:
            meets = (f_start[None, :] < qe) & (f_end[None, :] > qs)
        counts[a : a + step] = meets.sum(axis=1)
        sums[a : a + step] = meets.astype(np.float64) @ feats64
    return sums, counts


def align_to_words(
    word_intervals: np.ndarray,
    frame_intervals: np.ndarray,
    frame_features: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Average the frames that overlap each word.

    Rules:

    * A word with a positive-length interval ``[ws, we]`` takes every frame
      ``[fs, fe]`` with ``min(we, fe) - max(ws, fs) > 0`` (a positive-length overlap, as
      in the CMU-SDK ``align``). Frames that merely touch the word at an end point, and
      zero-length frames, do not count.
    * A zero-length word at instant ``t`` (``ws == we``) takes every frame that contains
      ``t``, end points included: ``fs <= t <= fe``. On a frame boundary this averages the
      two neighbouring frames; a zero-length frame at ``t`` counts too.
    * A word that no frame meets gets zeros and a count of 0.

    Frames need not be sorted and may overlap each other. The usual case (after sorting
    by start, ends are non-decreasing too: dense 100 Hz/30 Hz frames, non-overlapping
    segment vectors) costs one sort, two ``searchsorted`` and one cumulative sum; frames
    that overlap irregularly use an exact chunked pairwise test.

    Args:
        word_intervals: float (n_words, 2) [start, end] in seconds, any order.
        frame_intervals: float (n_frames, 2) [start, end] in seconds, any order.
        frame_features: float (n_frames, d), finite (see :func:`replace_nonfinite`).

    Returns:
        (aligned float32 (n_words, d), counts int64 (n_words,)): per word, the mean of its
        frames and how many frames were averaged.

    Raises:
        ValueError: wrong shapes, mismatched frame counts, non-finite values, or an
            interval that ends before it starts.
    """
    words = check_intervals(word_intervals, "word_intervals")
    frames = check_intervals(frame_intervals, "frame_intervals")
    feats = np.asarray(frame_features)
    if feats.ndim != 2 or feats.shape[0] != frames.shape[0]:
        raise ValueError(
            f"frame_features: expected shape ({frames.shape[0]}, d) to match frame_intervals, "
            f"found {feats.shape}"
        )
    if not np.issubdtype(feats.dtype, np.number):
        raise ValueError(f"frame_features: expected numbers, found dtype {feats.dtype}")
    if not np.isfinite(feats).all():
        raise ValueError("frame_features: contains NaN or inf; replace them first")

    n_words, d = words.shape[0], feats.shape[1]
    ws, we = words[:, 0], words[:, 1]
    fs, fe = frames[:, 0], frames[:, 1]
    point = ws == we
    if not point.any():
        # Common case: no zero-length word; zero-length frames cannot overlap any word.
        spans = fe > fs
        if not spans.all():
            fs, fe, feats = fs[spans], fe[spans], feats[spans]
        sums, counts = _overlap_sums(ws, we, fs, fe, feats, closed=False)
    else:
        sums = np.zeros((n_words, d), np.float64)
        counts = np.zeros(n_words, np.int64)
        span_w = ~point
        if span_w.any():
            spans = fe > fs
            sums[span_w], counts[span_w] = _overlap_sums(
                ws[span_w], we[span_w], fs[spans], fe[spans], feats[spans], closed=False
            )
        sums[point], counts[point] = _overlap_sums(ws[point], we[point], fs, fe, feats, closed=True)
    aligned = sums / np.maximum(counts, 1)[:, None]
    return aligned.astype(np.float32), counts
