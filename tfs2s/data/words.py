"""The word strings of segments, from the SDK's ``TimestampedWords`` ``.csd``.

:func:`~tfs2s.data.csd.load_csd_dir` keeps word *vectors* only. To show which words a
model attended to, the strings are looked up afterwards for the few segments being
explained: the words file has one row per word with the word's interval, and each
segment takes the words of the word-vector file exactly as the reader does (same time
order, same membership rule, same truncation), so step ``i`` of a segment gets the word
whose interval is the one of its ``i``-th word vector.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfs2s.config import DataConfig
from tfs2s.data.csd import _CsdReader, _resolve_files, _segment_words

#: File-name ending of the SDK's word files (``CMU_MOSI_TimestampedWords.csd``).
WORDS_SUFFIX = "TimestampedWords.csd"


def find_words_file(path: str | Path | None) -> Path | None:
    """The ``*TimestampedWords.csd`` of a data directory, or None (no directory, no file)."""
    if path is None or not Path(path).is_dir():
        return None
    found = sorted(p for p in Path(path).glob(f"*{WORDS_SUFFIX}") if p.is_file())
    return found[0] if found else None


def _decode(value) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def segment_words(
    directory: str | Path,
    words_file: str | Path,
    segment_ids: Sequence[str],
    data: DataConfig,
) -> dict[str, list[str]]:
    """Segment id -> its words (as many as the segment has steps), for ``segment_ids``.

    Args:
        directory: the ``.csd`` directory the data was read from.
        words_file: its ``TimestampedWords`` file.
        segment_ids: ids ``<video>_<row + 1>`` as the reader names them.
        data: the data config (file map, ``max_seq_len``, ``truncate``).

    Returns:
        words of every segment found; a word-vector interval missing from the words file
        shows as ``"?"``. Segments of videos absent from the files are left out.
    """
    files = _resolve_files(Path(directory), data.data_map)
    by_video: dict[str, list[tuple[int, str]]] = {}
    for sid in segment_ids:
        video, _, row = sid.rpartition("_")
        if video and row.isdigit():
            by_video.setdefault(video, []).append((int(row) - 1, sid))
    out: dict[str, list[str]] = {}
    with contextlib.ExitStack() as stack:
        text = stack.enter_context(_CsdReader(files["text"]))
        labels = stack.enter_context(_CsdReader(files["labels"]))
        words = stack.enter_context(_CsdReader(Path(words_file)))
        present = set(text.videos) & set(labels.videos) & set(words.videos)
        for video, rows in by_video.items():
            if video not in present:
                continue
            _, text_iv = text.read(video, numeric=True)
            text_iv = text_iv.astype(np.float64)
            # the reader's time order: a stable sort by start
            text_iv = text_iv[np.argsort(text_iv[:, 0], kind="stable")]
            strings, word_iv = words.read(video)
            lookup: dict[tuple[float, float], str] = {}
            for value, (start, end) in zip(strings[:, 0], word_iv.astype(np.float64), strict=True):
                lookup.setdefault((float(start), float(end)), _decode(value))
            _, label_iv = labels.read(video, numeric=True)
            member = _segment_words(label_iv.astype(np.float64), text_iv)
            for row, sid in rows:
                if not 0 <= row < member.shape[0]:
                    continue
                index = np.flatnonzero(member[row])
                if data.truncate == "tail":
                    index = index[-data.max_seq_len :]
                else:
                    index = index[: data.max_seq_len]
                out[sid] = [
                    lookup.get((float(text_iv[i, 0]), float(text_iv[i, 1])), "?") for i in index
                ]
    return out
