import re

import numpy as np
import pytest
from sklearn.linear_model import Ridge

from tfs2s import modalities as M
from tfs2s.data.dataset import SPLITS, feature_stats
from tfs2s.data.folds import standard_folds as load_folds
from tfs2s.data.synthetic import fold_sizes, make_synthetic


@pytest.fixture(scope="module")
def mosi():
    return make_synthetic(seed=0)


def _normalised(split, stats, name):
    mean, var = stats[name]
    return (split.features[name] - mean) / np.sqrt(var)


def _pooled(split, stats, name):
    """float (segments, dim): mean over real words of normalised features."""
    x = _normalised(split, stats, name) * split.mask()[..., None]
    return x.sum(axis=1) / split.lengths[:, None]


def _words(split, stats, name):
    """float (words, dim): the normalised real words of a split."""
    return _normalised(split, stats, name)[split.mask().astype(bool)]


def _eval_splits(data):
    return [data.splits["valid"], data.splits["test"]]


def test_same_seed_same_arrays_other_seed_other_arrays():
    a, b, c = (make_synthetic(seed=s, segments=150) for s in (3, 3, 4))
    for s in SPLITS:
        for name in M.PAPER_DIMS:
            np.testing.assert_array_equal(a.splits[s].features[name], b.splits[s].features[name])
        np.testing.assert_array_equal(a.splits[s].labels, b.splits[s].labels)
        np.testing.assert_array_equal(a.splits[s].segment_ids, b.splits[s].segment_ids)
    assert not np.array_equal(
        a.splits["train"].features["text"], c.splits["train"].features["text"]
    )


def test_default_size_has_standard_folds_and_paper_dims(mosi):
    folds = load_folds()
    assert {s: len(mosi.splits[s]) for s in SPLITS} == {"train": 1284, "valid": 229, "test": 686}
    assert mosi.dims == M.PAPER_DIMS and mosi.max_seq_len == 20
    assert mosi.modalities == ("text", "audio", "video")
    for s in SPLITS:
        split = mosi.splits[s]
        assert set(split.video_ids) == set(folds[s])
        for name, dim in M.PAPER_DIMS.items():
            assert split.features[name].shape == (len(split), 20, dim)
            assert split.features[name].dtype == np.float32
        assert split.lengths.dtype == np.int32 and split.labels.dtype == np.float32
        for seg, video in zip(split.segment_ids, split.video_ids, strict=True):
            assert re.fullmatch(re.escape(video) + r"_[1-9]\d*", seg)
    assert sum(len(set(mosi.splits[s].video_ids)) for s in SPLITS) == 93
    ids = np.concatenate([mosi.splits[s].segment_ids for s in SPLITS])
    assert len(set(ids)) == ids.shape[0]
    assert mosi.source == "synthetic CMU-MOSI (seed 0, 2199 segments)"
    assert not mosi.report.nonfinite_replaced and not mosi.report.dropped_segments
    assert not mosi.report.missing_videos


def test_fold_sizes_scale_with_segments():
    assert fold_sizes(2199) == {"train": 1284, "valid": 229, "test": 686}
    big = fold_sizes(25000)
    assert sum(big.values()) == 25000
    assert abs(big["train"] / 25000 - 1284 / 2199) < 1e-3
    assert fold_sizes(3) == {"train": 1, "valid": 1, "test": 1}
    with pytest.raises(ValueError, match="at least 3"):
        fold_sizes(2)


def test_few_segments_report_missing_videos():
    data = make_synthetic(segments=20)
    assert sum(len(s) for s in data.splits.values()) == 20
    missing = data.report.missing_videos
    for s in SPLITS:
        present = set(data.splits[s].video_ids)
        assert present.isdisjoint(missing.get(s, []))
        assert len(present) + len(missing.get(s, [])) == len(load_folds()[s])


def test_labels_on_annotator_grid_and_skewed_like_mosi(mosi):
    y = np.concatenate([mosi.splits[s].labels for s in SPLITS])
    assert y.min() >= -3 and y.max() <= 3
    np.testing.assert_allclose(y * 5, np.round(y * 5), atol=1e-5)
    assert 0.35 < (y < 0).mean() < 0.48  # slightly more positive than negative
    assert 0.005 < (y == 0).mean() < 0.08
    assert 0.7 < (np.abs(y) <= 2).mean() < 0.9
    assert 0.05 < y.mean() < 0.5
    assert np.unique(np.round(y * 5)).shape[0] >= 25  # many distinct averaged scores


def test_words_per_segment_like_mosi(mosi):
    lengths = np.concatenate([mosi.splits[s].lengths for s in SPLITS])
    assert lengths.min() == 1 and lengths.max() == 20
    assert 8 <= np.median(lengths) <= 11
    assert 0.07 < (lengths == 20).mean() < 0.2  # MOSI: 12% longer than 20 words
    assert "truncated" in mosi.report.notes[0]


def test_padding_is_zero_and_real_words_are_not(mosi):
    split = mosi.splits["valid"]
    mask = split.mask().astype(bool)
    for name in M.PAPER_DIMS:
        x = split.features[name]
        assert not x[~mask].any()
        assert (np.abs(x[mask]).sum(axis=-1) > 0).all()
        assert np.isfinite(x).all()


def test_tail_truncation_keeps_other_words_of_the_same_segments():
    head = make_synthetic(segments=300, max_seq_len=5)
    tail = make_synthetic(segments=300, max_seq_len=5, truncate="tail")
    h, t = head.splits["train"], tail.splits["train"]
    np.testing.assert_array_equal(h.labels, t.labels)
    np.testing.assert_array_equal(h.lengths, t.lengths)
    short = np.flatnonzero(h.lengths < 5)
    assert not np.array_equal(h.features["text"], t.features["text"])
    # Segments that fit are whole either way (same words; noise draws are shared too).
    np.testing.assert_array_equal(h.features["text"][short], t.features["text"][short])


def test_text_probe_clearly_beats_audio_and_video(mosi):
    """(a): ridge on mean-pooled words, trained on train, scored on valid + test."""
    stats = feature_stats(mosi.splits["train"])
    y_eval = np.concatenate([s.labels for s in _eval_splits(mosi)])
    majority = max((y_eval >= 0).mean(), (y_eval < 0).mean())
    acc = {}
    for name in M.PAPER_DIMS:
        probe = Ridge(alpha=30.0).fit(
            _pooled(mosi.splits["train"], stats, name), mosi.splits["train"].labels
        )
        pred = probe.predict(np.concatenate([_pooled(s, stats, name) for s in _eval_splits(mosi)]))
        acc[name] = ((pred >= 0) == (y_eval >= 0)).mean()
    assert 0.75 <= acc["text"] <= 0.92, acc
    assert acc["text"] >= max(acc["audio"], acc["video"]) + 0.1, acc
    assert min(acc["audio"], acc["video"]) >= max(majority, 0.5) + 0.03, (acc, majority)


def test_word_level_translation_explains_most_target_variance(mosi):
    """(b): per-word ridge T -> A and A -> V on normalised features, MSE / target variance."""
    train = mosi.splits["train"]
    stats = feature_stats(train)
    for src, tgt in (("text", "audio"), ("audio", "video")):
        probe = Ridge(alpha=10.0).fit(_words(train, stats, src), _words(train, stats, tgt))
        x = np.concatenate([_words(s, stats, src) for s in _eval_splits(mosi)])
        y = np.concatenate([_words(s, stats, tgt) for s in _eval_splits(mosi)])
        ratio = ((probe.predict(x) - y) ** 2).mean() / y.var(axis=0).mean()
        assert ratio < 0.6, (src, tgt, ratio)


def test_generative_maps_do_not_depend_on_the_data_seed(mosi):
    """A text probe fitted on seed 0 transfers to seed 1: the story is shared."""
    stats = feature_stats(mosi.splits["train"])
    probe = Ridge(alpha=30.0).fit(
        _pooled(mosi.splits["train"], stats, "text"), mosi.splits["train"].labels
    )
    other = make_synthetic(seed=1, segments=400).splits["train"]
    pred = probe.predict(_pooled(other, stats, "text"))
    assert ((pred >= 0) == (other.labels >= 0)).mean() > 0.75
