"""Built-in synthetic CMU-MOSI: the default dataset when no data is given.

The data has the shape of the real CMU-MOSI (93 videos with the standard fold video
ids, 1284 / 229 / 686 segments at the default 2199, MOSI-like words per segment and
label distribution, GloVe-300 / COVAREP-74 / FACET-47 sized word features) and a
planted generative story so that the paper's claims can be tested on it.

Generative story (one draw per data seed; the *maps* below are fixed by a constant
structural seed, so train/valid/test and every data seed share the same story):

0. **Segments.** Each fold's segments are spread over its videos as
   ``1 + Multinomial(weights ~ Gamma(5))`` (MOSI: 9..63 segments per video, mean 24).
1. **Sentiment.** Each video has an opinion offset ``mu_v ~ N(0.25, 0.5)``; each
   segment a latent sentiment ``z = mu_v + N(0, 1)``, pushed away from 0
   (``s = z + 0.7 tanh(2 z)``) because opinion segments are rarely neutral.
2. **Label.** Five annotators each give ``clip(round(s + N(0, 1)), -3, 3)``; the label
   is their mean, so it lies on a 0.2 grid in [-3, 3]. This reproduces MOSI's skew
   (about 42% negative, 3% exact zeros, 79% in [-2, 2], mean ~0.25; MOSI: 43%, 4%,
   82%, 0.25).
3. **Words.** ``round(LogNormal(ln 10, 0.6))`` words per segment (>= 1; MOSI: mean 12,
   median 10, 12% longer than 20, tail to ~100). Each word has 16 shared latent
   factors: 4 *sentiment* factors ``1.2 * g * s * u + e`` (``u`` a fixed unit
   direction; ``g`` in {0, 1} marks the half of the words that carry sentiment) and
   12 *neutral* factors (content, prosody, speaker: an AR(1) process over the words
   of a segment, rho = 0.5, plus a per-video speaker offset). ``e`` is AR(1) as well.
   Factors are drawn for every word before truncation, so ``head`` and ``tail`` keep
   different words of the same segment.
4. **Modalities.** Each modality is a fixed random two-layer tanh network of the 16
   factors plus its own noise: ``x_m = W2_m tanh(W1_m (a_m * h) + b_m) + n_m``. Text
   sees the sentiment factors at full weight (``a = 1``) with little per-word noise;
   audio (``a = 0.2``) and video (``a = 0.19``) see them attenuated, have ~2x the
   per-word noise and a per-segment noise (recording conditions) that pooling over
   words does not remove. All three see the same neutral factors, so one modality
   predicts another word by word. Audio and video then get per-feature scales
   (log-uniform over 0.05..20) and offsets, like raw COVAREP/FACET features, so
   normalisation matters.

What this buys (checked in ``synthetic_test.py``; seed 0, default size, ridge probes
fitted on train, scored on valid + test): text alone is clearly the best unimodal
predictor (binary accuracy of a linear probe on mean-pooled words 0.83, audio 0.65,
video 0.61, majority class 0.56), and a per-word linear translation explains most of
the target's variance (normalised MSE: text -> audio 0.38, audio -> video 0.47).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from tfs2s import modalities as M
from tfs2s.data.dataset import SPLITS, TRUNCATE_MODES, DataReport, MosiData, Split
from tfs2s.data.folds import standard_folds

#: Segments of the standard CMU-MOSI folds (train, valid, test) at 2199 segments.
FOLD_SEGMENTS: dict[str, int] = {"train": 1284, "valid": 229, "test": 686}
MOSI_SEGMENTS = 2199

#: Seed of the fixed generative maps: the same for every data seed.
_STRUCTURE_SEED = 2018_0627
_SENTIMENT_FACTORS = 4
_NEUTRAL_FACTORS = 12
_HIDDEN = 64
#: Per modality: weight of the sentiment factors; std of the per-word and of the
#: per-segment observation noise (relative to the map's output std); whether the
#: modality gets raw-feature-like scales and offsets.
_MODALITY_STORY: dict[str, tuple[float, float, float, bool]] = {
    "text": (1.0, 0.25, 0.0, False),
    "audio": (0.2, 0.5, 0.3, True),
    "video": (0.19, 0.55, 0.3, True),
}
_SENTIMENT_WORD_RATE = 0.5
_SENTIMENT_GAIN = 1.2
_AR_RHO = 0.5
_SPEAKER_STD = 0.5
_MAX_WORDS = 120
_CHUNK_WORDS = 1 << 15


def fold_sizes(segments: int) -> dict[str, int]:
    """Segments per split: the standard fold sizes scaled to ``segments`` in total.

    Exactly 1284 / 229 / 686 at 2199; otherwise proportional (largest remainder), with
    at least one segment per split.
    """
    if segments < len(SPLITS):
        raise ValueError(f"synthetic data needs at least {len(SPLITS)} segments, found {segments}")
    exact = {s: segments * n / MOSI_SEGMENTS for s, n in FOLD_SEGMENTS.items()}
    sizes = {s: max(1, int(np.floor(x))) for s, x in exact.items()}
    by_remainder = sorted(SPLITS, key=lambda s: exact[s] - np.floor(exact[s]), reverse=True)
    i = 0
    while sum(sizes.values()) != segments:
        s = by_remainder[i % len(SPLITS)]
        if sum(sizes.values()) < segments:
            sizes[s] += 1
        elif sizes[s] > 1:
            sizes[s] -= 1
        i += 1
    return sizes


def _check_dims(dims: Mapping[str, int]) -> dict[str, int]:
    """Validate ``dims`` and return it in canonical modality order."""
    unknown = [n for n in dims if n not in M.CODE_OF]
    if unknown or not dims:
        raise ValueError(f"dims must map some of {list(M.CODE_OF)} to sizes, found {dict(dims)!r}")
    bad = {n: d for n, d in dims.items() if isinstance(d, bool) or not isinstance(d, int) or d < 1}
    if bad:
        raise ValueError(f"dims must be positive integers, found {bad}")
    return {n: int(dims[n]) for n in M.NAMES.values() if n in dims}


class _Maps:
    """The fixed random non-linear maps from word factors to modality features."""

    def __init__(self, dims: Mapping[str, int]):
        rng = np.random.default_rng(_STRUCTURE_SEED)
        k = _SENTIMENT_FACTORS + _NEUTRAL_FACTORS
        direction = rng.normal(size=_SENTIMENT_FACTORS)
        self.direction = direction / np.linalg.norm(direction)
        self.layers = {}
        for i, name in enumerate(M.NAMES.values()):
            if name not in dims:
                continue
            # One generator per modality: its map does not depend on which other
            # modalities are generated or on their sizes.
            rng = np.random.default_rng([_STRUCTURE_SEED, i])
            weight, noise, segment_noise, raw = _MODALITY_STORY[name]
            scale = np.ones(k)
            scale[:_SENTIMENT_FACTORS] = weight
            # Unit-gain first layer: pre-activations ~N(0, 1), tanh mildly non-linear.
            w1 = rng.normal(size=(k, _HIDDEN)) / np.sqrt(k) * scale[:, None]
            b1 = rng.normal(scale=0.5, size=_HIDDEN)
            w2 = rng.normal(size=(_HIDDEN, dims[name])) / np.sqrt(_HIDDEN)
            if raw:
                feat_scale = np.exp(rng.uniform(np.log(0.05), np.log(20.0), dims[name]))
                offset = rng.normal(scale=2.0, size=dims[name]) * feat_scale
            else:
                # GloVe-like magnitudes: entries of std ~0.4, centred.
                feat_scale = np.full(dims[name], 0.4)
                offset = np.zeros(dims[name])
            self.layers[name] = (w1, b1, w2, noise, segment_noise, feat_scale, offset)

    def features(
        self,
        name: str,
        factors: np.ndarray,
        rows: np.ndarray,
        cols: np.ndarray,
        out: np.ndarray,
        rng: np.random.Generator,
    ) -> None:
        """Write the features of one modality into the padded array ``out``.

        Args:
            name: modality name.
            factors: float64 (words, k) latent factors of the kept words.
            rows: int (words,) segment index of each word.
            cols: int (words,) step of each word.
            out: float32 (segments, max_seq_len, dim), zero; filled at ``[rows, cols]``.
            rng: data random generator.
        """
        w1, b1, w2, noise, segment_noise, feat_scale, offset = self.layers[name]
        per_segment = None
        if segment_noise:
            # Recording conditions, posture, loudness: constant over a segment, so they
            # survive pooling over words (unlike per-word noise).
            per_segment = rng.normal(scale=segment_noise * 0.6, size=out.shape[::2])
        # In chunks of words, so that float64 temporaries stay small at MOSEI scale.
        for start in range(0, factors.shape[0], _CHUNK_WORDS):
            chunk = slice(start, start + _CHUNK_WORDS)
            # tanh outputs have std ~0.6, so W2 (std 1/sqrt(hidden)) outputs have std ~0.6.
            x = np.tanh(factors[chunk] @ w1 + b1) @ w2
            x += rng.normal(scale=noise * 0.6, size=x.shape)
            if per_segment is not None:
                x += per_segment[rows[chunk]]
            out[rows[chunk], cols[chunk]] = x / 0.6 * feat_scale + offset


def _ar1(rng: np.random.Generator, starts: np.ndarray, words: int, width: int) -> np.ndarray:
    """Unit-variance AR(1) noise over the words of each segment, float64 (words, width).

    Args:
        starts: bool (words,), True at the first word of each segment (the chain restarts).
    """
    innovations = rng.normal(size=(words, width))
    out = np.empty_like(innovations)
    # Vectorised over segments: the recursion runs over word positions, not words, so
    # the Python loop is only as long as the longest segment.
    position = np.arange(words) - np.maximum.accumulate(np.where(starts, np.arange(words), 0))
    first = position == 0
    out[first] = innovations[first]
    keep = np.sqrt(1.0 - _AR_RHO**2)
    for p in range(1, int(position.max(initial=0)) + 1):
        idx = np.flatnonzero(position == p)
        out[idx] = _AR_RHO * out[idx - 1] + keep * innovations[idx]
    return out


def _allocate(rng: np.random.Generator, count: int, videos: list[str]) -> np.ndarray:
    """Segments per video, int (videos,), summing to ``count``, uneven like MOSI (9..63)."""
    n = len(videos)
    if count < n:
        out = np.zeros(n, np.int64)
        out[rng.choice(n, size=count, replace=False)] = 1
        return out
    weights = rng.gamma(shape=5.0, size=n)  # MOSI: coefficient of variation ~0.45
    return 1 + rng.multinomial(count - n, weights / weights.sum())


def _sentiment(rng: np.random.Generator, video_index: np.ndarray, videos: int):
    """Latent sentiment float64 (segments,) and annotator-mean labels float32 (segments,)."""
    opinion = rng.normal(0.25, 0.5, size=videos)[video_index]
    z = opinion + rng.normal(size=video_index.shape[0])
    latent = z + 0.7 * np.tanh(2.0 * z)
    votes = np.clip(np.rint(latent[:, None] + rng.normal(size=(latent.shape[0], 5))), -3, 3)
    # Sum of five integers / 5: exactly representable 0.2 steps before the float32 cast.
    labels = (votes.sum(axis=1) / 5.0).astype(np.float32)
    return latent, labels


def make_synthetic(
    seed: int = 0,
    segments: int = MOSI_SEGMENTS,
    max_seq_len: int = 20,
    truncate: str = "head",
    dims: Mapping[str, int] | None = None,
) -> MosiData:
    """Generate the built-in synthetic CMU-MOSI.

    Args:
        seed: data seed; the same seed gives bit-identical arrays. The generative maps
            do not depend on it (see the module docstring).
        segments: total segments; 2199 gives the standard 1284 / 229 / 686 folds, other
            values scale them proportionally (e.g. 25000 for a CMU-MOSEI-sized set).
        max_seq_len: padded steps per segment.
        truncate: ``"head"`` keeps the first ``max_seq_len`` words of a longer segment,
            ``"tail"`` the last.
        dims: modality name -> feature size; ``None`` gives the paper's
            ``{"text": 300, "audio": 74, "video": 47}``. Tests pass tiny sizes or a
            subset of the modalities (the story is the same; the module docstring's
            numbers are for the paper's dims).

    Returns:
        A :class:`MosiData`; per split, for each modality of ``dims`` (by default
        ``text`` float32 (segments, max_seq_len, 300), ``audio`` (..., 74), ``video``
        (..., 47)), zero past each segment's length; labels float32 (segments,) on a
        0.2 grid in [-3, 3]; segment ids ``f"{video}_{i + 1}"``.
    """
    if truncate not in TRUNCATE_MODES:
        raise ValueError(f"truncate must be one of {list(TRUNCATE_MODES)}, found {truncate!r}")
    if max_seq_len < 1:
        raise ValueError(f"max_seq_len must be >= 1, found {max_seq_len}")
    dims = _check_dims(M.PAPER_DIMS if dims is None else dims)
    maps = _Maps(dims)
    rng = np.random.default_rng(seed)
    sizes = fold_sizes(segments)
    report = DataReport()
    # The draws below happen in a fixed order (segments, then words, then features):
    # the same seed gives bit-identical arrays.
    seg = _segments(rng, sizes, report)
    words = _words(rng, seg, maps, max_seq_len, truncate)
    features = {}
    for name in dims:
        features[name] = np.zeros((seg.count, max_seq_len, dims[name]), np.float32)
        maps.features(name, words.factors, words.rows, words.cols, features[name], rng)
    splits = _folds(features, seg, words, sizes)
    raw_lengths = words.raw_lengths
    n_seg = seg.count
    dims_note = "" if dims == M.PAPER_DIMS else f", dims {dims}"
    truncated = int((raw_lengths > max_seq_len).sum())
    report.notes.append(
        f"{truncated} of {n_seg} segments are longer than max_seq_len={max_seq_len} and "
        f"were truncated ({truncate})"
    )
    return MosiData(
        splits=splits,
        dims=dims,
        max_seq_len=max_seq_len,
        source=f"synthetic CMU-MOSI (seed {seed}, {segments} segments{dims_note})",
        report=report,
    )


@dataclasses.dataclass
class _SegmentDraw:
    """Segments of all splits at once, in fold order: their videos, ids and sentiment."""

    videos: list[str]
    video_index: np.ndarray  # int (segments,) index into ``videos``
    video_ids: np.ndarray  # str (segments,)
    segment_ids: np.ndarray  # str (segments,)
    latent: np.ndarray  # float (segments,) latent sentiment
    labels: np.ndarray  # float32 (segments,)

    @property
    def count(self) -> int:
        return self.video_index.shape[0]


def _segments(rng: np.random.Generator, sizes: Mapping[str, int], report) -> _SegmentDraw:
    """Allocate segments to the standard folds' videos and draw their sentiment."""
    folds = standard_folds()
    all_videos = [v for s in SPLITS for v in folds[s]]
    per_video = np.concatenate([_allocate(rng, sizes[s], folds[s]) for s in SPLITS])
    for s in SPLITS:
        missing = [v for v in folds[s] if per_video[all_videos.index(v)] == 0]
        if missing:
            report.missing_videos[s] = missing
    video_index = np.repeat(np.arange(len(all_videos)), per_video)
    n_seg = video_index.shape[0]
    clip_number = np.arange(n_seg) - np.repeat(np.cumsum(per_video) - per_video, per_video)
    video_ids = np.asarray(all_videos)[video_index]
    segment_ids = np.char.add(np.char.add(video_ids, "_"), (clip_number + 1).astype(str))
    segment_ids = np.asarray(segment_ids.tolist())  # narrowest unicode dtype
    latent, labels = _sentiment(rng, video_index, len(all_videos))
    return _SegmentDraw(all_videos, video_index, video_ids, segment_ids, latent, labels)


@dataclasses.dataclass
class _WordDraw:
    """The words of every segment: lengths and the latent factors of the kept words."""

    raw_lengths: np.ndarray  # int64 (segments,) before truncation
    lengths: np.ndarray  # int64 (segments,) after truncation
    factors: np.ndarray  # float (kept words, factors)
    rows: np.ndarray  # int (kept words,) segment of each kept word
    cols: np.ndarray  # int (kept words,) step of each kept word


def _words(
    rng: np.random.Generator, seg: _SegmentDraw, maps, max_seq_len: int, truncate: str
) -> _WordDraw:
    """Draw word counts, then latent factors for every word (before truncation, so head
    and tail truncation keep different words of the same segment)."""
    n_seg = seg.count
    raw_lengths = np.clip(np.rint(rng.lognormal(np.log(10.0), 0.6, n_seg)), 1, _MAX_WORDS)
    raw_lengths = raw_lengths.astype(np.int64)
    n_words = int(raw_lengths.sum())
    word_seg = np.repeat(np.arange(n_seg), raw_lengths)
    starts = np.zeros(n_words, bool)
    starts[np.cumsum(raw_lengths) - raw_lengths] = True
    position = np.arange(n_words) - np.repeat(np.cumsum(raw_lengths) - raw_lengths, raw_lengths)

    lengths = np.minimum(raw_lengths, max_seq_len)
    first_kept = 0 if truncate == "head" else raw_lengths - lengths
    step = position - np.repeat(np.broadcast_to(first_kept, (n_seg,)), raw_lengths)
    kept = (step >= 0) & (step < max_seq_len)

    carries = rng.random(n_words) < _SENTIMENT_WORD_RATE
    speaker = rng.normal(scale=_SPEAKER_STD, size=(len(seg.videos), _NEUTRAL_FACTORS))
    sent = _ar1(rng, starts, n_words, _SENTIMENT_FACTORS)
    sent += (_SENTIMENT_GAIN * carries * seg.latent[word_seg])[:, None] * maps.direction
    neutral = _ar1(rng, starts, n_words, _NEUTRAL_FACTORS) + speaker[seg.video_index[word_seg]]
    factors = np.concatenate([sent, neutral], axis=1)[kept]
    return _WordDraw(raw_lengths, lengths, factors, word_seg[kept], step[kept])


def _folds(features, seg: _SegmentDraw, words: _WordDraw, sizes) -> dict[str, Split]:
    """Cut the segments into the folds: consecutive blocks, in fold order."""
    splits = {}
    bounds = np.cumsum([0] + [sizes[s] for s in SPLITS])
    for i, s in enumerate(SPLITS):
        sl = slice(bounds[i], bounds[i + 1])
        splits[s] = Split(
            features={k: v[sl] for k, v in features.items()},
            lengths=words.lengths[sl].astype(np.int32),
            labels=seg.labels[sl],
            segment_ids=seg.segment_ids[sl],
            video_ids=seg.video_ids[sl],
            raw_lengths=words.raw_lengths[sl].astype(np.int32),
        )
    return splits
