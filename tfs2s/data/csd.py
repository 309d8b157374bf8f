"""Reading CMU-MultimodalSDK computational sequences (``.csd``) into :class:`MosiData`.

A ``.csd`` file is HDF5 with a single root group::

    <root name>/data/<video_id>/features    (n, d)  float, or bytes for words
    <root name>/data/<video_id>/intervals   (n, 2)  [start, end] seconds from video start
    <root name>/metadata/<key>              (1,)    string holding a JSON value

:func:`load_csd_dir` aligns audio/visual frames to the words of the text file (the
time base) and cuts the word sequence into the labelled opinion segments. Every HDF5
dataset is read whole (``ds[()]``); per-video work is vectorised.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from tfs2s import Tfs2sWarning
from tfs2s import modalities as M
from tfs2s.data.align import align_to_words, check_intervals, replace_nonfinite
from tfs2s.data.dataset import (
    SPLITS,
    TRUNCATE_MODES,
    DataReport,
    MosiData,
    Split,
    pad_segments,
    warn_about_cleaning,
)
from tfs2s.data.folds import check_folds
from tfs2s.errors import read_error

#: Keys of a data map: the three modalities and the labels.
DATA_MAP_KEYS: tuple[str, ...] = (*M.NAMES.values(), "labels")

#: Modalities a data map must name (text is the time base).
REQUIRED_KEYS: tuple[str, ...] = ("text", "labels")

#: The SDK's CMU-MOSI file stems used without a data map, first existing one wins.
DEFAULT_DATA_MAP: dict[str, tuple[str, ...]] = {
    "text": ("CMU_MOSI_TimestampedWordVectors",),
    "audio": ("CMU_MOSI_COVAREP",),
    "video": ("CMU_MOSI_Visual_Facet_41", "CMU_MOSI_Visual_Facet_42"),
    "labels": ("CMU_MOSI_Opinion_Labels",),
}


@dataclasses.dataclass
class CsdFile:
    """One computational sequence, read whole.

    Attributes:
        root_name: name of the file's single root group, e.g. ``"Opinion Segment Labels"``.
        metadata: metadata key -> parsed JSON value (the raw string when it is not JSON).
        data: video id -> (features (n, d) float32, or bytes for word files;
            intervals (n, 2) float as stored).
        path: the file read.
    """

    root_name: str
    metadata: dict[str, Any]
    data: dict[str, tuple[np.ndarray, np.ndarray]]
    path: str = ""


def _metadata_value(ds: h5py.Dataset) -> Any:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0] if value.size else ""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value.item() if isinstance(value, np.generic) else value


def _named(method):
    """Turn any failure of an h5py read in ``method`` (a truncated file raises OSError,
    flipped bytes KeyError, ...) into one ``InputError`` naming the file."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as e:
            if isinstance(e, (ValueError, FileNotFoundError)) and str(self.path) in str(e):
                raise
            raise read_error(self.path, "a CMU-SDK computational sequence (.csd)", e) from None

    return wrapper


class _CsdReader:
    """An open ``.csd`` file whose layout has been checked; reads and checks one video at a time."""

    @_named
    def __init__(self, path: Path):
        self.path = path
        if not path.is_file():
            raise FileNotFoundError(f"computational sequence {path} does not exist")
        if not h5py.is_hdf5(path):
            raise ValueError(
                f"{path} is not an HDF5 file; a CMU-SDK computational sequence (.csd) is HDF5"
            )
        self._file = h5py.File(path, "r")
        try:
            self._open_layout()
        except BaseException:
            self._file.close()
            raise

    @_named
    def _open_layout(self) -> None:
        keys = list(self._file.keys())
        if len(keys) != 1 or not isinstance(self._file[keys[0]], h5py.Group):
            raise ValueError(
                f"{self.path}: not a CMU-SDK computational sequence: expected exactly one root "
                f"group, found {keys}"
            )
        self.root_name = keys[0]
        self._root = self._file[keys[0]]
        data = self._root.get("data")
        if not isinstance(data, h5py.Group):
            raise ValueError(
                f"{self.path}: not a CMU-SDK computational sequence: root group "
                f"{self.root_name!r} has no 'data' group (found {list(self._root.keys())})"
            )
        self._data = data
        self.videos: list[str] = list(data.keys())
        if not self.videos:
            raise ValueError(f"{self.path}: the 'data' group holds no video")
        # Every video is checked against the first one, whose size also gives MosiData.dims.
        self._expected_dim = (self.videos[0], self.dim())

    def __enter__(self) -> _CsdReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self._file.close()

    @_named
    def metadata(self) -> dict[str, Any]:
        md = self._root.get("metadata")
        if not isinstance(md, h5py.Group):
            return {}
        return {k: _metadata_value(v) for k, v in md.items() if isinstance(v, h5py.Dataset)}

    @_named
    def _datasets(self, video: str) -> tuple[h5py.Dataset, h5py.Dataset]:
        group = self._data[video]
        found = list(group.keys()) if isinstance(group, h5py.Group) else type(group).__name__
        pair = []
        for name in ("features", "intervals"):
            ds = group.get(name) if isinstance(group, h5py.Group) else None
            if not isinstance(ds, h5py.Dataset):
                raise ValueError(
                    f"{self.path}: video {video!r} has no {name!r} dataset "
                    f"(expected data/{video}/features and data/{video}/intervals, found {found})"
                )
            pair.append(ds)
        return pair[0], pair[1]

    @_named
    def rows(self, video: str) -> int:
        """Rows of a video without reading its data."""
        return int(self._datasets(video)[0].shape[0])

    @_named
    def dim(self) -> int:
        """Feature size of the file (its first video's), without reading data."""
        features = self._datasets(self.videos[0])[0]
        return int(features.shape[1]) if features.ndim == 2 else 0

    @_named
    def read(self, video: str, numeric: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Read and check one video.

        Args:
            video: video id.
            numeric: refuse byte/string features (words) with a clear message.

        Returns:
            (features float32 (n, d) or bytes/str (n, d), intervals (n, 2) as stored).
        """
        ds_f, ds_i = self._datasets(video)
        where = f"{self.path}: video {video!r}"
        text_kind = ds_f.dtype.kind in "SUO"
        if numeric and text_kind:
            raise ValueError(
                f"{where}: features are strings ({ds_f.dtype}), expected numbers; this looks "
                "like a words file: map the modality to a word-vector file instead"
            )
        features = ds_f[()]
        intervals = ds_i[()]
        if features.ndim != 2:
            raise ValueError(f"{where}: expected features of shape (n, d), found {features.shape}")
        check_intervals(intervals, where, nonnegative=True)
        if features.shape[0] != intervals.shape[0]:
            raise ValueError(
                f"{where}: features have {features.shape[0]} rows but intervals have "
                f"{intervals.shape[0]}; expected one interval per feature row"
            )
        if not text_kind:
            features = features.astype(np.float32, copy=False)
        d = features.shape[1]
        first, d0 = self._expected_dim
        if d != d0:
            raise ValueError(
                f"{where}: feature dimension changes between videos: expected {d0} "
                f"(as in video {first!r}), found {d}"
            )
        return features, intervals


def read_csd(path: str) -> CsdFile:
    """Read a whole CMU-SDK computational sequence.

    Features are returned as stored apart from a cast of numbers to float32; NaN/inf are
    kept (:func:`load_csd_dir` replaces them).

    Args:
        path: the ``.csd`` file.

    Returns:
        A :class:`CsdFile`; ``data[video] = (features (n, d), intervals (n, 2))``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: not HDF5, not the SDK layout, or a video with inconsistent data (the
            message names the file, the video, the expected and the found value).
    """
    with _CsdReader(Path(path)) as reader:
        return CsdFile(
            root_name=reader.root_name,
            metadata=reader.metadata(),
            data={video: reader.read(video) for video in reader.videos},
            path=str(path),
        )


def _resolve_files(directory: Path, data_map: Mapping[str, str] | None) -> dict[str, Path]:
    """Map ``text``/``audio``/``video``/``labels`` to existing files in ``directory``."""
    existing = sorted(p.name for p in directory.glob("*.csd"))
    listing = f".csd files there: {existing}" if existing else "there is no .csd file there"
    files: dict[str, Path] = {}
    if data_map is None:
        for key, stems in DEFAULT_DATA_MAP.items():
            found = [directory / f"{s}.csd" for s in stems if (directory / f"{s}.csd").is_file()]
            if found:
                files[key] = found[0]
            elif key in REQUIRED_KEYS:
                wanted = " or ".join(f"{s}.csd" for s in stems)
                raise FileNotFoundError(
                    f"{directory}: no {key} file {wanted} (the CMU-SDK's CMU-MOSI name); "
                    f"{listing}; give a data map (data.data_map, e.g. "
                    "text=CMU_MOSI_GloVe50_WordVectors,labels=CMU_MOSI_Opinion_Labels) to use "
                    "other files"
                )
        return files
    unknown = [k for k in data_map if k not in DATA_MAP_KEYS]
    if unknown:
        raise ValueError(f"data map: unknown keys {unknown}; valid keys: {list(DATA_MAP_KEYS)}")
    absent = [k for k in REQUIRED_KEYS if k not in data_map]
    if absent:
        raise ValueError(
            f"data map: {absent} missing; {list(REQUIRED_KEYS)} are required "
            f"(valid keys: {list(DATA_MAP_KEYS)})"
        )
    missing = []
    for key, name in data_map.items():
        candidates = [directory / name]
        if not name.endswith(".csd"):
            candidates.append(directory / f"{name}.csd")
        found = [p for p in candidates if p.is_file()]
        if found:
            files[key] = found[0]
        else:
            missing.append(f"{key}={name}")
    if missing:
        raise FileNotFoundError(f"data map: no such file in {directory} for {missing}; {listing}")
    return files


def _segment_words(segments: np.ndarray, words: np.ndarray) -> np.ndarray:
    """Which words belong to which segment.

    A word belongs to a segment when their intervals overlap by a positive length (the
    SDK's rule); a zero-length word belongs to a segment whose interior holds its instant,
    and a zero-length segment takes the zero-length words at exactly its instant (real
    CMU-MOSI has one: ``2WGyTLYerpo_44``, whose two words share its instant, which is also
    where the next segment starts; that next segment does not take them).

    Args:
        segments: float64 (n_segments, 2).
        words: float64 (n_words, 2).

    Returns:
        bool (n_segments, n_words).
    """
    ss, se = segments[:, :1], segments[:, 1:]
    ws, we = words[None, :, 0], words[None, :, 1]
    overlap = (np.minimum(se, we) - np.maximum(ss, ws)) > 0
    point = ws == we
    inside = point & (ss < ws) & (ws < se)
    same_instant = point & (ss == se) & (ws == ss)
    return overlap | inside | same_instant


def check_segment_options(max_seq_len: int, truncate: str) -> None:
    """Raise ValueError unless ``max_seq_len >= 1`` and ``truncate`` is ``head``/``tail``."""
    if truncate not in TRUNCATE_MODES:
        raise ValueError(f"truncate must be one of {list(TRUNCATE_MODES)}, found {truncate!r}")
    if not isinstance(max_seq_len, int) or max_seq_len < 1:
        raise ValueError(f"max_seq_len must be a positive integer, found {max_seq_len!r}")


@dataclasses.dataclass
class SegmentList:
    """Variable-length word-aligned segments gathered by a reader, before padding.

    Attributes:
        features: per segment, modality name -> float32 (words, dim), words >= 1.
        labels: per segment, sentiment in [-3, 3].
        segment_ids: per segment id.
        video_ids: per segment video id.
    """

    features: list[dict[str, np.ndarray]] = dataclasses.field(default_factory=list)
    labels: list[float] = dataclasses.field(default_factory=list)
    segment_ids: list[str] = dataclasses.field(default_factory=list)
    video_ids: list[str] = dataclasses.field(default_factory=list)

    def add(self, features: dict[str, np.ndarray], label: float, segment: str, video: str) -> None:
        self.features.append(features)
        self.labels.append(float(label))
        self.segment_ids.append(segment)
        self.video_ids.append(video)

    def to_split(self, dims: Mapping[str, int], max_seq_len: int, truncate: str) -> Split:
        """Pad/truncate with :func:`pad_segments` into a :class:`Split`."""
        features, lengths = pad_segments(self.features, dims, max_seq_len, truncate)
        return Split(
            features=features,
            lengths=lengths,
            labels=np.asarray(self.labels, np.float32),
            segment_ids=np.asarray(self.segment_ids, dtype=str),
            video_ids=np.asarray(self.video_ids, dtype=str),
        )


def check_labels(labels: np.ndarray, where: str, segment: Callable[[int], str]) -> None:
    """Raise if a sentiment label is not finite or outside [-3, 3].

    Args:
        labels: float (segments,).
        where: file (and video or split) for the message.
        segment: row -> segment name for the message.

    Raises:
        ValueError: naming the first bad segment, the expected range and the found value.
    """
    bad = np.flatnonzero(
        ~np.isfinite(labels) | (labels < M.SENTIMENT_MIN) | (labels > M.SENTIMENT_MAX)
    )
    if bad.size:
        i = int(bad[0])
        more = f" ({bad.size} labels are out of range there)" if bad.size > 1 else ""
        raise ValueError(
            f"{where}, segment {segment(i)}: expected a label in "
            f"[{M.SENTIMENT_MIN}, {M.SENTIMENT_MAX}], found {float(labels[i])}{more}"
        )


@dataclasses.dataclass
class _Tally:
    """Counts gathered over videos for the report."""

    nonfinite: dict[str, int]
    #: modality -> the first video with a replaced value.
    nonfinite_first: dict[str, str] = dataclasses.field(default_factory=dict)
    dropped: list[str] = dataclasses.field(default_factory=list)
    shared_words: int = 0
    unused_words: int = 0
    point_words: int = 0
    wide_labels: bool = False


#: Threads that align videos while the main thread reads the next ones. h5py releases
#: the GIL while it decompresses and numpy while it aligns, so reading and aligning
#: overlap; every HDF5 call stays on the main thread (h5py serialises them anyway).
ALIGN_THREADS = 2


@dataclasses.dataclass
class _VideoRead:
    """One video's arrays as read from every file (the HDF5 part of the work)."""

    video: str
    words: tuple[np.ndarray, np.ndarray]
    frames: dict[str, tuple[np.ndarray, np.ndarray]]
    labels: tuple[np.ndarray, np.ndarray]
    labels_path: Path


def _read_video(video: str, readers: Mapping[str, _CsdReader]) -> _VideoRead:
    """Read (and check the layout of) one video from every file."""
    return _VideoRead(
        video=video,
        words=readers["text"].read(video, numeric=True),
        frames={
            name: readers[name].read(video, numeric=True)
            for name in ("audio", "video")
            if name in readers
        },
        labels=readers["labels"].read(video, numeric=True),
        labels_path=readers["labels"].path,
    )


@dataclasses.dataclass
class _VideoSegments:
    """One video's word-aligned segments and its counts for the report."""

    video: str
    segments: list[tuple[str, dict[str, np.ndarray], float]]
    dropped: list[str]
    nonfinite: dict[str, int]
    shared_words: int
    unused_words: int
    point_words: int
    wide_labels: bool

    def add_to(self, tally: _Tally, out: SegmentList) -> None:
        for name, count in self.nonfinite.items():
            tally.nonfinite[name] += count
            if count:
                tally.nonfinite_first.setdefault(name, f"video {self.video}")
        tally.dropped += self.dropped
        tally.shared_words += self.shared_words
        tally.unused_words += self.unused_words
        tally.point_words += self.point_words
        tally.wide_labels |= self.wide_labels
        for segment_id, features, score in self.segments:
            out.add(features, score, segment_id, self.video)


def _video_segments(read: _VideoRead) -> _VideoSegments:
    """The word-aligned features of every labelled segment of one video (numpy only, so
    it can run in a thread beside the HDF5 reads)."""
    video = read.video
    word_feats, word_iv = read.words
    word_iv = word_iv.astype(np.float64)
    if not np.all(word_iv[1:, 0] >= word_iv[:-1, 0]):
        # Time order is what segments and alignment need; a stable sort keeps the file order
        # of words that start together.
        order = np.argsort(word_iv[:, 0], kind="stable")
        word_feats, word_iv = word_feats[order], word_iv[order]
    nonfinite = {"text": replace_nonfinite(word_feats)}
    per_word = {"text": word_feats}
    for name, (feats, iv) in read.frames.items():
        nonfinite[name] = replace_nonfinite(feats)
        per_word[name] = align_to_words(word_iv, iv, feats)[0]

    label_feats, label_iv = read.labels
    if label_feats.shape[1] == 0:
        raise ValueError(
            f"{read.labels_path}: video {video!r}: expected at least 1 label column, found 0"
        )
    scores = label_feats[:, 0]
    check_labels(scores, f"{read.labels_path}: video {video!r}", lambda i: f"{video}_{i + 1}")

    member = _segment_words(label_iv.astype(np.float64), word_iv)
    per_segment = member.sum(axis=0)
    segments, dropped = [], []
    for s in range(member.shape[0]):
        segment_id = f"{video}_{s + 1}"
        index = np.flatnonzero(member[s])
        if index.size == 0:
            dropped.append(segment_id)
            continue
        segments.append((segment_id, {name: x[index] for name, x in per_word.items()}, scores[s]))
    return _VideoSegments(
        video=video,
        segments=segments,
        dropped=dropped,
        nonfinite=nonfinite,
        shared_words=int(np.count_nonzero(per_segment > 1)),
        unused_words=int(np.count_nonzero(per_segment == 0)),
        point_words=int(np.count_nonzero(word_iv[:, 0] == word_iv[:, 1])),
        wide_labels=label_feats.shape[1] > 1,
    )


def _segment_videos(
    jobs: list[tuple[str, str]],
    readers: Mapping[str, _CsdReader],
    tally: _Tally,
    outs: Mapping[str, SegmentList],
) -> None:
    """Read, align and gather ``(split, video)`` jobs in order into ``outs[split]``.

    The main thread reads video k + 1 while threads align video k; results are gathered in
    job order, so the splits, the report and the first error raised are those of a
    one-video-at-a-time loop.
    """
    pending: collections.deque = collections.deque()

    def gather_one() -> None:
        split, future = pending.popleft()
        future.result().add_to(tally, outs[split])

    with concurrent.futures.ThreadPoolExecutor(ALIGN_THREADS) as pool:
        try:
            for split, video in jobs:
                read = _read_video(video, readers)
                pending.append((split, pool.submit(_video_segments, read)))
                while len(pending) > ALIGN_THREADS:
                    gather_one()
        except BaseException:
            # An earlier video's error comes first, as in a one-at-a-time loop.
            while pending:
                gather_one()
            raise
        while pending:
            gather_one()


def load_csd_dir(
    path: str,
    data_map: dict[str, str] | None,
    folds: dict[str, list[str]],
    max_seq_len: int = 20,
    truncate: str = "head",
) -> MosiData:
    """Read a directory of CMU-SDK ``.csd`` files into word-aligned folds.

    The text file's word intervals are the time base: audio and visual frames are
    averaged per word with :func:`~tfs2s.data.align.align_to_words`. Row ``i`` of video
    ``v`` in the labels file is segment ``f"{v}_{i+1}"``; a segment takes every word (in
    time order) whose interval overlaps it by a positive length, as the SDK's ``align``
    does, a zero-length word joins a segment whose interior holds its instant, and a
    zero-length segment takes the zero-length words at its instant.
    Labelled segments overlap in real CMU-MOSI, so a word near a boundary can belong to
    two segments and then appears in both (counted in ``report.notes``). Segments without
    words (e.g. a zero-length segment without words) are dropped and listed in
    ``report.dropped_segments``. NaN/±inf features become 0 and are counted per modality.

    Args:
        path: directory holding the files.
        data_map: ``text``/``audio``/``video``/``labels`` -> file name in ``path``
            (``.csd`` optional); text and labels are required and unnamed modalities are
            absent. ``None`` uses the SDK's CMU-MOSI names (:data:`DEFAULT_DATA_MAP`),
            where a missing audio/visual file just means that modality is absent.
        folds: ``{"train": [...], "valid": [...], "test": [...]}`` video ids. Fold videos
            absent from the data are warned about and listed in ``report.missing_videos``.
        max_seq_len: words kept per segment.
        truncate: ``"head"`` keeps a long segment's first words, ``"tail"`` its last.

    Returns:
        :class:`MosiData` with float32 features (segments, max_seq_len, dim) per split.

    Raises:
        FileNotFoundError: no such directory or file.
        ValueError: a bad data map, folds, file layout or value; the message names the
            file, the video/segment, the expected and the found value.
    """
    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"data directory {directory} does not exist")
    check_segment_options(max_seq_len, truncate)
    folds = check_folds(folds, "passed to load_csd_dir")
    files = _resolve_files(directory, data_map)

    with contextlib.ExitStack() as stack:
        readers = {key: stack.enter_context(_CsdReader(p)) for key, p in files.items()}
        names = [n for n in M.NAMES.values() if n in readers]
        dims = {n: readers[n].dim() for n in names}
        available = set.intersection(*(set(r.videos) for r in readers.values()))
        report = DataReport(nonfinite_replaced={n: 0 for n in names})
        tally = _Tally(nonfinite=report.nonfinite_replaced)
        in_folds = {v for videos in folds.values() for v in videos}
        report.unassigned_segments = sum(
            readers["labels"].rows(v) for v in readers["labels"].videos if v not in in_folds
        )
        jobs = []
        for split in SPLITS:
            for video in folds[split]:
                if video in available:
                    jobs.append((split, video))
                else:
                    report.missing_videos.setdefault(split, []).append(video)
        segments = {split: SegmentList() for split in SPLITS}
        _segment_videos(jobs, readers, tally, segments)
        splits = {split: segments[split].to_split(dims, max_seq_len, truncate) for split in SPLITS}
        partial = sorted(set.union(*(set(r.videos) for r in readers.values())) - available)

    report.dropped_segments = tally.dropped
    report.notes = _notes(tally, partial, files)
    if report.missing_videos:
        counts = ", ".join(f"{s}: {len(v)}" for s, v in report.missing_videos.items())
        total = sum(len(v) for v in report.missing_videos.values())
        warnings.warn(
            f"{total} fold videos are absent from the data in {directory} ({counts}); their "
            "splits are smaller or empty (see report.missing_videos)",
            Tfs2sWarning,
            stacklevel=2,
        )
    warn_about_cleaning(report, {name: str(files[name]) for name in files}, tally.nonfinite_first)
    source = "CMU-SDK .csd files in {} ({})".format(
        directory, ", ".join(f"{k}={p.name}" for k, p in files.items())
    )
    return MosiData(splits=splits, dims=dims, max_seq_len=max_seq_len, source=source, report=report)


def _notes(tally: _Tally, partial: list[str], files: Mapping[str, Path]) -> list[str]:
    notes = [
        "segments take every word overlapping them by a positive length (CMU-SDK align "
        "semantics); labelled segments may overlap, so a word near a boundary can belong to "
        f"two segments and appear in both: {tally.shared_words} words did"
    ]
    if tally.unused_words:
        notes.append(f"{tally.unused_words} words lie in no labelled segment and are unused")
    if tally.point_words:
        notes.append(
            f"{tally.point_words} words have zero length; such a word joins a segment only "
            "when the segment's interior holds its instant, or the segment has zero length at "
            "that same instant"
        )
    if tally.dropped:
        notes.append(
            f"{len(tally.dropped)} segments have no word overlapping them by a positive length "
            "(e.g. zero-length segments) and were dropped: see dropped_segments"
        )
    if partial:
        notes.append(
            f"{len(partial)} videos are in some but not all of the files and are treated as "
            "absent (a fold video among them is in missing_videos): "
            f"{partial[:10]}{' ...' if len(partial) > 10 else ''}"
        )
    if tally.wide_labels:
        notes.append(f"{files['labels'].name} has several label columns; column 0 is used")
    return notes
