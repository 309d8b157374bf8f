"""Tests of word alignment against a brute-force loop."""

from __future__ import annotations

import numpy as np
import pytest

from tfs2s.data import align
from tfs2s.data.align import align_to_words, replace_nonfinite
from tfs2s.data.testing import frames


def brute_force(words: np.ndarray, frame_iv: np.ndarray, feats: np.ndarray):
    """The documented rule, one (word, frame) pair at a time."""
    sums = np.zeros((len(words), feats.shape[1]))
    counts = np.zeros(len(words), np.int64)
    for i, (ws, we) in enumerate(words):
        for j, (fs, fe) in enumerate(frame_iv):
            if ws < we:
                meets = min(we, fe) - max(ws, fs) > 0
            else:
                meets = fs <= ws <= fe
            if meets:
                sums[i] += feats[j]
                counts[i] += 1
    return sums / np.maximum(counts, 1)[:, None], counts


def random_words(rng: np.random.Generator, n: int, duration: float) -> np.ndarray:
    """Words with gaps, some zero-length, some on frame boundaries, in random order."""
    start = rng.uniform(-0.5, duration + 0.5, n)
    start[: n // 4] = np.round(start[: n // 4], 1)  # on 10 Hz / 100 Hz boundaries
    length = np.where(rng.random(n) < 0.25, 0.0, rng.uniform(0.0, 0.6, n))
    return np.stack([start, start + length], axis=1)


def check(words, frame_iv, feats):
    got, got_counts = align_to_words(words, frame_iv, feats)
    want, want_counts = brute_force(words, frame_iv, feats)
    assert got.dtype == np.float32 and got.shape == (len(words), feats.shape[1])
    assert got_counts.dtype == np.int64
    np.testing.assert_array_equal(got_counts, want_counts)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    return got_counts


@pytest.mark.parametrize("rate", [100.0, 30.0, 3.0])
def test_dense_frames_match_brute_force(rate):
    rng = np.random.default_rng(int(rate))
    iv = frames(4.0, rate)
    feats = rng.normal(size=(len(iv), 3)) * 50
    words = random_words(rng, 40, 4.0)
    counts = check(words, iv, feats)
    assert (counts == 0).any() and (counts > 1).any()


def test_unsorted_and_zero_length_frames_match_brute_force():
    rng = np.random.default_rng(1)
    iv = frames(3.0, 10.0)
    iv[::7, 1] = iv[::7, 0]  # zero-length frames: only zero-length words can take them
    feats = rng.normal(size=(len(iv), 2))
    perm = rng.permutation(len(iv))
    check(random_words(rng, 30, 3.0), iv[perm], feats[perm])


def test_overlapping_segment_frames_use_exact_fallback():
    rng = np.random.default_rng(2)
    # One vector per segment; segments overlap irregularly (a long one contains others),
    # so ends are not non-decreasing after sorting by start.
    seg = np.array([[0.0, 5.0], [0.5, 1.0], [1.0, 2.0], [1.8, 3.0], [3.0, 3.0], [4.0, 4.5]])
    feats = rng.normal(size=(len(seg), 4))
    words = random_words(rng, 50, 5.0)
    words[:3] = [[3.0, 3.0], [1.0, 1.0], [0.7, 0.7]]
    counts = check(words, seg, feats)
    assert counts.max() >= 3


def test_fallback_is_chunked(monkeypatch):
    monkeypatch.setattr(align, "_FALLBACK_CELLS", 8)
    rng = np.random.default_rng(3)
    seg = np.array([[0.0, 4.0], [1.0, 2.0], [2.5, 3.0]])
    check(random_words(rng, 25, 4.0), seg, rng.normal(size=(3, 2)))


def test_rules_on_hand_made_cases():
    iv = np.array([[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]])
    feats = np.array([[1.0], [2.0], [4.0]])
    words = np.array(
        [
            [0.0, 1.0],  # exactly frame 0: touching frame 1 at 1.0 does not count
            [0.5, 1.5],  # frames 0 and 1
            [1.0, 1.0],  # zero length on a boundary: frames 0 and 1 contain the instant
            [2.5, 2.5],  # zero length inside frame 2
            [5.0, 6.0],  # after every frame: zeros
        ]
    )
    aligned, counts = align_to_words(words, iv, feats)
    np.testing.assert_array_equal(counts, [1, 2, 2, 1, 0])
    np.testing.assert_allclose(aligned[:, 0], [1.0, 1.5, 1.5, 4.0, 0.0])


def test_no_frames_or_no_words():
    aligned, counts = align_to_words(np.array([[0.0, 1.0]]), np.zeros((0, 2)), np.zeros((0, 3)))
    assert aligned.shape == (1, 3) and not aligned.any() and counts.tolist() == [0]
    aligned, counts = align_to_words(np.zeros((0, 2)), frames(1.0, 10.0), np.ones((10, 3)))
    assert aligned.shape == (0, 3) and counts.shape == (0,)


def test_large_values_stay_accurate():
    # Prefix sums over many frames of large values: float64 keeps the differences exact
    # enough for float32 output.
    iv = frames(100.0, 100.0)
    feats = np.full((len(iv), 1), 1e4, np.float32)
    feats[-3:] = 1.0
    aligned, counts = align_to_words(np.array([[99.97, 100.0]]), iv, feats)
    assert counts.tolist() == [3]
    assert aligned[0, 0] == 1.0


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((np.zeros((2, 3)), np.zeros((1, 2)), np.zeros((1, 1))), r"word_intervals.*\(n, 2\)"),
        ((np.zeros((2, 2)), np.zeros((3, 2)), np.zeros((2, 1))), r"frame_features.*\(3, d\)"),
        ((np.array([[2.0, 1.0]]), np.zeros((1, 2)), np.zeros((1, 1))), "end before .* row 0"),
        (
            (np.zeros((1, 2)), np.array([[0.0, 1.0]]), np.array([[np.nan]])),
            "NaN or inf",
        ),
    ],
)
def test_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        align_to_words(*args)


def test_replace_nonfinite_counts_values():
    x = np.array([[1.0, np.nan], [-np.inf, np.inf]], np.float32)
    assert replace_nonfinite(x) == 3
    np.testing.assert_array_equal(x, [[1.0, 0.0], [0.0, 0.0]])
    assert replace_nonfinite(x) == 0
