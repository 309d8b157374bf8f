"""Tests of the aligned-pickle reader on tiny MulT- and MMSA-layout files."""

from __future__ import annotations

import numpy as np
import pytest

from tfs2s import Tfs2sWarning
from tfs2s.data.pickles import load_aligned_pickle
from tfs2s.data.testing import aligned_split, write_pickle

DIMS = {"text": 5, "audio": 3, "vision": 2}


def mult_split(lengths, seed=0, video="vid"):
    n = len(lengths)
    split = aligned_split(n, 6, lengths, DIMS, seed=seed, pad="front")
    split["labels"] = np.linspace(-3, 3, n, dtype=np.float32).reshape(n, 1, 1)
    split["id"] = np.array([[video.encode(), str(i + 1).encode(), b""] for i in range(n)])
    return split


def mmsa_split(lengths, seed=0, video="clip"):
    n = len(lengths)
    split = aligned_split(n, 6, lengths, DIMS, seed=seed, pad="back")
    split["regression_labels"] = np.full(n, 0.5, np.float32)
    split["classification_labels"] = np.ones(n)
    split["raw_text"] = np.array(["words"] * n)
    split["id"] = np.array([f"{video}{i % 2}$_${i}" for i in range(n)])
    return split


def test_mult_layout_front_padding(tmp_path):
    splits = {
        "train": mult_split([2, 6, 0]),
        "valid": mult_split([1], video="v2"),
        "test": mult_split([3], video="v3"),
    }
    path = write_pickle(tmp_path / "mosi_data.pkl", splits)
    with pytest.warns(Tfs2sWarning, match=r"mosi_data.pkl: 1 labelled segment.*first: vid_3"):
        data = load_aligned_pickle(str(path), trust=True, max_seq_len=4)
    assert data.dims == {"text": 5, "audio": 3, "video": 2}
    train = data.splits["train"]
    assert train.lengths.tolist() == [2, 4]
    assert train.segment_ids.tolist() == ["vid_1", "vid_2"]
    assert train.video_ids.tolist() == ["vid", "vid"]
    np.testing.assert_array_equal(train.labels, [-3.0, 0.0])
    # Front padding removed: the real steps start at step 0, in order.
    np.testing.assert_array_equal(train.features["text"][0, :2], splits["train"]["text"][0, 4:])
    np.testing.assert_array_equal(train.features["video"][1], splits["train"]["vision"][1, :4])
    assert not train.features["audio"][0, 2:].any()
    assert data.report.dropped_segments == ["vid_3"]
    assert "MulT" in data.source


def test_mmsa_layout_back_padding_and_tail_truncation(tmp_path):
    splits = {
        s: mmsa_split([3, 5], seed=i, video="clip" if s == "test" else s)
        for i, s in enumerate(("train", "valid", "test"))
    }
    path = write_pickle(tmp_path / "aligned_50.pkl", splits)
    data = load_aligned_pickle(str(path), trust=True, max_seq_len=2, truncate="tail")
    test = data.splits["test"]
    assert test.segment_ids.tolist() == ["clip0_0", "clip1_1"]
    assert test.video_ids.tolist() == ["clip0", "clip1"]
    assert test.lengths.tolist() == [2, 2]
    np.testing.assert_array_equal(test.features["text"][1], splits["test"]["text"][1, 3:5])
    np.testing.assert_array_equal(test.labels, [0.5, 0.5])
    assert "MMSA" in data.source


def test_untrusted_pickle_is_refused(tmp_path):
    path = write_pickle(tmp_path / "mosi_data.pkl", {"train": mult_split([1])})
    with pytest.raises(ValueError, match="runs code") as info:
        load_aligned_pickle(str(path), trust=False)
    assert "--trust-pickle" in str(info.value) and "data.trust_pickle" not in str(info.value)
    assert "mosi_data.pkl" in str(info.value)


def test_missing_split_is_empty_and_nonfinite_counted(tmp_path):
    train = mult_split([2, 2])
    train["audio"][0, -1, 0] = np.nan
    train["audio"][1, -2, :] = -np.inf
    path = write_pickle(tmp_path / "p.pkl", {"train": train})
    with pytest.warns(
        Tfs2sWarning, match=r"p.pkl: 4 non-finite audio value.*first in train segment vid_1\)"
    ):
        data = load_aligned_pickle(str(path), trust=True)
    assert data.report.nonfinite_replaced == {"text": 0, "audio": 4, "video": 0}
    assert np.isfinite(data.splits["train"].features["audio"]).all()
    assert len(data.splits["valid"]) == 0 and data.nonempty_splits() == ["train"]
    assert any("no 'valid' split" in n for n in data.report.notes)


def test_ids_are_optional(tmp_path):
    train = mult_split([1, 2])
    del train["id"]
    data = load_aligned_pickle(str(write_pickle(tmp_path / "p.pkl", {"train": train})), True)
    assert data.splits["train"].segment_ids.tolist() == ["train_0", "train_1"]


def broken(key, value):
    split = mult_split([1, 2])
    split[key] = value
    return split


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ([1, 2], r"expected a dict with splits \['train', 'valid', 'test'\].* found list"),
        ({"train": [1]}, "split 'train': expected a dict of arrays, found list"),
        ({"valid": {"text": np.zeros((1, 2, 3))}}, "split 'valid': no label key"),
        ({"train": broken("audio", np.zeros((2, 5, 3)))}, r"'audio'.*\(2, 6\).*found \(2, 5\)"),
        ({"train": broken("vision", np.zeros((3, 6, 2)))}, r"'vision'.*found \(3, 6\)"),
        ({"train": broken("text", np.zeros((2, 6)))}, r"'text'.*\(segments, steps, dim\)"),
        ({"train": broken("labels", np.zeros(3))}, r"'labels'.*one label per segment \(2\)"),
        (
            {"train": broken("labels", np.array([0.0, -3.5]))},
            r"'labels', segment 1 \(vid_2\): expected .* found -3.5",
        ),
        (
            {"train": mult_split([1]), "test": aligned_split(1, 6, [1], {"text": 5, "audio": 4})},
            "split 'test': no label key",
        ),
    ],
)
def test_bad_pickles_name_file_split_key(tmp_path, obj, match):
    path = write_pickle(tmp_path / "bad.pkl", obj)
    with pytest.raises(ValueError, match=match) as info:
        load_aligned_pickle(str(path), trust=True)
    assert "bad.pkl" in str(info.value)


def test_feature_size_must_agree_across_splits(tmp_path):
    test = mult_split([1])
    test["audio"] = np.ones((1, 6, 4), np.float32)
    path = write_pickle(tmp_path / "bad.pkl", {"train": mult_split([1]), "test": test})
    with pytest.raises(ValueError, match=r"split 'test' key 'audio': expected 3 .* found 4"):
        load_aligned_pickle(str(path), trust=True)


def test_splits_must_hold_the_same_modalities(tmp_path):
    test = mult_split([1])
    del test["vision"]
    path = write_pickle(tmp_path / "bad.pkl", {"train": mult_split([1]), "test": test})
    with pytest.raises(ValueError, match="bad.pkl: the splits hold different modality keys"):
        load_aligned_pickle(str(path), trust=True)


def test_not_a_pickle_and_missing_file(tmp_path):
    (tmp_path / "junk.pkl").write_bytes(b"\x00junk")
    with pytest.raises(ValueError, match="junk.pkl: cannot unpickle"):
        load_aligned_pickle(str(tmp_path / "junk.pkl"), trust=True)
    with pytest.raises(FileNotFoundError, match="nope.pkl"):
        load_aligned_pickle(str(tmp_path / "nope.pkl"), trust=True)


def test_a_segment_in_two_splits_is_refused_and_a_repeated_id_warned(tmp_path):
    leak = {"train": mult_split([2, 3]), "test": mult_split([2], video="vid")}
    path = write_pickle(tmp_path / "leak.pkl", leak)
    with pytest.raises(
        ValueError, match=r"leak.pkl: segment 'vid_1' is in split 'train' and in split 'test'"
    ):
        load_aligned_pickle(str(path), trust=True)
    twice = mult_split([2, 3])
    twice["id"][1] = twice["id"][0]
    path = write_pickle(
        tmp_path / "twice.pkl", {"train": twice, "test": mult_split([2], video="t")}
    )
    with pytest.warns(
        Tfs2sWarning,
        match=r"split 'train': 1 segment id\(s\) occur more than once \(first 'vid_1'\)",
    ):
        data = load_aligned_pickle(str(path), trust=True)
    assert data.splits["train"].segment_ids.tolist() == ["vid_1", "vid_1"]
