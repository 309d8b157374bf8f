"""In-memory word-aligned data: the common form every data source produces.

Every reader (built-in synthetic, CMU-SDK ``.csd``, aligned pickles) ends with a
:class:`MosiData`: per split, padded float32 arrays ``(segments, max_seq_len, dim)``
per modality name, the number of real words per segment, and the labels.
Padded steps are exactly zero.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from tfs2s import Tfs2sWarning
from tfs2s import modalities as M
from tfs2s.config import Truncate, choices

SPLITS: tuple[str, ...] = ("train", "valid", "test")
TRUNCATE_MODES: tuple[str, ...] = choices(Truncate)


@dataclasses.dataclass
class Split:
    """One fold of word-aligned segments.

    Attributes:
        features: modality name -> float32 (segments, max_seq_len, dim), zero past length.
        lengths: int32 (segments,), real words per segment (1..max_seq_len).
        labels: float32 (segments,), sentiment in [-3, 3].
        segment_ids: str (segments,), e.g. ``"2iD-tVS8NPw_3"``.
        video_ids: str (segments,).
        raw_lengths: int32 (segments,), words before truncation to max_seq_len, when the
            reader knows them (``None`` otherwise).
    """

    features: dict[str, np.ndarray]
    lengths: np.ndarray
    labels: np.ndarray
    segment_ids: np.ndarray
    video_ids: np.ndarray
    raw_lengths: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def max_seq_len(self) -> int:
        return int(next(iter(self.features.values())).shape[1]) if self.features else 0

    def mask(self) -> np.ndarray:
        """float32 (segments, max_seq_len): 1.0 on real words, 0.0 on padding."""
        steps = np.arange(self.max_seq_len)[None, :]
        return (steps < self.lengths[:, None]).astype(np.float32)

    def take(self, index: np.ndarray) -> Split:
        """A new split holding the segments at ``index``."""
        return Split(
            features={k: v[index] for k, v in self.features.items()},
            lengths=self.lengths[index],
            labels=self.labels[index],
            segment_ids=self.segment_ids[index],
            video_ids=self.video_ids[index],
            raw_lengths=None if self.raw_lengths is None else self.raw_lengths[index],
        )

    @classmethod
    def empty(cls, dims: Mapping[str, int], max_seq_len: int) -> Split:
        return cls(
            features={k: np.zeros((0, max_seq_len, d), np.float32) for k, d in dims.items()},
            lengths=np.zeros((0,), np.int32),
            labels=np.zeros((0,), np.float32),
            segment_ids=np.zeros((0,), dtype=str),
            video_ids=np.zeros((0,), dtype=str),
        )


@dataclasses.dataclass
class DataReport:
    """What happened while reading: shown by ``tfs2s data inspect``."""

    #: modality name -> number of NaN/±inf values replaced by 0.
    nonfinite_replaced: dict[str, int] = dataclasses.field(default_factory=dict)
    #: segment ids dropped because they had no word.
    dropped_segments: list[str] = dataclasses.field(default_factory=list)
    #: split -> fold video ids that are absent from the data.
    missing_videos: dict[str, list[str]] = dataclasses.field(default_factory=dict)
    #: labelled segments whose videos are in no fold (ignored).
    unassigned_segments: int = 0
    #: free-form notes (e.g. how overlapping segments were handled).
    notes: list[str] = dataclasses.field(default_factory=list)


def warn_about_cleaning(
    report: DataReport, files: Mapping[str, str], first: Mapping[str, str] | None = None
) -> None:
    """Warn (one line each) about what a reader changed in the data it was given.

    Non-finite features are replaced by 0 so that alignment and training work (COVAREP
    holds -inf in many frames), and a segment with no words is left out of its split. A
    model then scores such data without complaint, so the user is told which file did it.

    Args:
        report: the reader's report.
        files: modality name -> the file it was read from (as the message should name it).
        first: modality name -> the first video or segment with a replaced value.
    """
    first = first or {}
    for name, count in report.nonfinite_replaced.items():
        if count:
            where = f", first in {first[name]}" if name in first else ""
            warnings.warn(
                f"{files.get(name, name)}: {count} non-finite {name} value(s) (NaN or inf"
                f"{where}) were replaced by 0, and models read them as 0; `tfs2s data "
                "inspect` counts them",
                Tfs2sWarning,
                stacklevel=3,
            )
    dropped = report.dropped_segments
    if dropped:
        warnings.warn(
            f"{files.get('text', 'text')}: {len(dropped)} labelled segment(s) have no words "
            f"and are left out of every split, so nothing scores them (first: {dropped[0]}); "
            "`tfs2s data inspect` lists them",
            Tfs2sWarning,
            stacklevel=3,
        )


@dataclasses.dataclass
class MosiData:
    """Word-aligned CMU-MOSI-shaped data split into folds.

    Attributes:
        splits: ``"train"``, ``"valid"``, ``"test"`` -> :class:`Split` (possibly empty).
        dims: modality name -> feature size, for the modalities present only.
        max_seq_len: padded steps per segment.
        source: human-readable description of where the data came from.
        report: counts of replaced/dropped/missing items.
    """

    splits: dict[str, Split]
    dims: dict[str, int]
    max_seq_len: int
    source: str
    report: DataReport = dataclasses.field(default_factory=DataReport)

    @property
    def modalities(self) -> tuple[str, ...]:
        """Names of the modalities present, in canonical order."""
        return tuple(M.NAMES[c] for c in M.CODES if M.NAMES[c] in self.dims)

    def require(self, names: Iterable[str], what: str) -> None:
        """Raise ValueError if any modality in ``names`` is absent from the data."""
        missing = [n for n in names if n not in self.dims]
        if missing:
            raise ValueError(
                f"{what} needs modalities {sorted(set(names))} but the data ({self.source}) "
                f"has only {list(self.modalities)}; missing: {missing}"
            )

    def split(self, name: str) -> Split:
        """The named split; raises a clear error if it is empty (cannot be evaluated)."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {list(SPLITS)}")
        split = self.splits.get(name)
        if split is None or len(split) == 0:
            raise ValueError(
                f"split {name!r} of {self.source} is empty (no segment of its fold videos "
                "is in the data); cannot train or evaluate on it"
            )
        return split

    def nonempty_splits(self) -> list[str]:
        return [s for s in SPLITS if s in self.splits and len(self.splits[s]) > 0]


def feature_stats(split: Split) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per-feature mean and variance over the real (unpadded) words of a split.

    Computed in float64: a finite but huge feature (``3e38``) squares past float32.

    Returns:
        name -> (mean float32 (dim,), variance float32 (dim,)). Variance is floored at
        1e-6 so constant features normalise to 0 rather than inf.

    Raises:
        ValueError: a modality has no words, or a feature's mean or variance does not fit
            in float32 (naming the modality and feature indices): normalising it would
            silently turn it into zeros.
    """
    stats = {}
    for name, (mean, var) in _float64_stats(split).items():
        too_large = np.flatnonzero(~(np.abs(mean) <= FLOAT32_MAX) | ~(var <= FLOAT32_MAX))
        if too_large.size:
            i = int(too_large[0])
            raise ValueError(
                f"feature {name}{too_large[:10].tolist()} of the train split: variance "
                f"{var[i]:.3g} (mean {mean[i]:.3g}) does not fit in float32; rescale "
                "these features (normalising them would silently zero them)"
            )
        stats[name] = (mean.astype(np.float32), np.maximum(var, 1e-6).astype(np.float32))
    return stats


#: Largest finite float32: statistics beyond it overflow the float32 normalisation.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _float64_stats(split: Split) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    mask = split.mask().astype(bool)
    out = {}
    for name, x in split.features.items():
        words = x[mask].astype(np.float64)
        if words.shape[0] == 0:
            raise ValueError(
                f"cannot compute normalisation statistics: split has no words for {name}"
            )
        with np.errstate(over="ignore", invalid="ignore"):
            out[name] = (words.mean(axis=0), words.var(axis=0))
    return out


def feature_health(split: Split) -> dict[str, dict[str, list[int]]]:
    """Feature indices per modality that are ``constant``, ``nonfinite`` (a NaN/inf value)
    or ``too_large`` (a float64 mean or variance beyond float32) over the split's words."""
    out = {}
    mask = split.mask().astype(bool)
    for name, (mean, var) in _float64_stats(split).items():
        words = split.features[name][mask]
        out[name] = {
            "constant": np.flatnonzero(var == 0).tolist(),
            "nonfinite": np.flatnonzero(~np.isfinite(words).all(axis=0)).tolist(),
            "too_large": np.flatnonzero(
                np.isfinite(mean) & np.isfinite(var) & (var > FLOAT32_MAX)
                | (np.abs(mean) > FLOAT32_MAX)
            ).tolist(),
        }
    return out


def pad_segments(
    segments: Sequence[Mapping[str, np.ndarray]],
    dims: Mapping[str, int],
    max_seq_len: int,
    truncate: str = "head",
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Pad/truncate variable-length word sequences to ``max_seq_len`` steps.

    Args:
        segments: per segment, modality name -> float32 (words, dim); every modality
            of a segment has the same number of words (>= 1).
        dims: modality name -> dim.
        max_seq_len: steps to keep.
        truncate: ``"head"`` keeps the first ``max_seq_len`` words, ``"tail"`` the last.

    Returns:
        (name -> float32 (segments, max_seq_len, dim), lengths int32 (segments,)).
        Real words always start at step 0; padding follows them.
    """
    if truncate not in TRUNCATE_MODES:
        raise ValueError(f"truncate must be one of {list(TRUNCATE_MODES)}, found {truncate!r}")
    n = len(segments)
    out = {k: np.zeros((n, max_seq_len, d), np.float32) for k, d in dims.items()}
    lengths = np.zeros((n,), np.int32)
    for i, seg in enumerate(segments):
        words = len(next(iter(seg.values())))
        keep = min(words, max_seq_len)
        sl = slice(0, keep) if truncate == "head" else slice(words - keep, words)
        for k in dims:
            out[k][i, :keep] = seg[k][sl]
        lengths[i] = keep
    return out, lengths
