"""Tests of the CMU-SDK ``.csd`` reader on tiny generated files."""

from __future__ import annotations

import re
import warnings

import h5py
import numpy as np
import pytest

from tfs2s import Tfs2sWarning
from tfs2s.data.align import align_to_words
from tfs2s.data.csd import load_csd_dir, read_csd
from tfs2s.data.testing import tiny_sdk_dir, write_csd

VIDEOS = {"vidA": [3, 2, 0], "vidB": [4], "vidC": [2, 5], "extra": [1, 1]}
FOLDS = {"train": ["vidA"], "valid": ["vidB"], "test": ["vidC", "gone1"]}
LABELS = "CMU_MOSI_Opinion_Labels.csd"


@pytest.fixture
def sdk(tmp_path):
    return tmp_path, tiny_sdk_dir(tmp_path, VIDEOS)


def load(path, data_map=None, folds=None, **kwargs):
    """load_csd_dir with the test folds, silencing the expected missing-video warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return load_csd_dir(str(path), data_map, FOLDS if folds is None else folds, **kwargs)


def test_read_csd_returns_root_metadata_and_data(sdk):
    path, written = sdk
    csd = read_csd(str(path / LABELS))
    assert csd.root_name == "Opinion Segment Labels"
    assert csd.metadata["root name"] == "Opinion Segment Labels"
    assert csd.metadata["md5"] is None
    assert sorted(csd.data) == sorted(VIDEOS)
    features, intervals = csd.data["vidA"]
    assert features.dtype == np.float32 and features.shape == (3, 1)
    np.testing.assert_array_equal(intervals, written["labels"]["vidA"][1])


def test_read_csd_keeps_words_as_bytes(tmp_path):
    words = np.array([[b"hello"], [b"world"]])
    write_csd(tmp_path / "w.csd", "Words", {"v": (words, np.array([[0.0, 1.0], [1.0, 2.0]]))})
    features, _ = read_csd(str(tmp_path / "w.csd")).data["v"]
    assert features[:, 0].astype(str).tolist() == ["hello", "world"]


def test_load_default_map_aligns_and_splits(sdk):
    path, written = sdk
    dropped = r"TimestampedWordVectors.csd: 1 labelled segment\(s\) have no words .*first: vidA_3"
    with (
        pytest.warns(Tfs2sWarning, match=dropped),
        pytest.warns(Tfs2sWarning, match=r"1 fold videos are absent .* \(test: 1\)"),
    ):
        data = load_csd_dir(str(path), None, FOLDS, max_seq_len=6)
    assert data.dims == {"text": 4, "audio": 3, "video": 2}
    train = data.splits["train"]
    assert train.segment_ids.tolist() == ["vidA_1", "vidA_2"]
    assert train.video_ids.tolist() == ["vidA", "vidA"]
    assert train.lengths.tolist() == [3, 2]
    np.testing.assert_array_equal(train.labels, [-3.0, -2.0])
    assert data.splits["test"].segment_ids.tolist() == ["vidC_1", "vidC_2"]
    assert data.report.dropped_segments == ["vidA_3"]
    assert data.report.missing_videos == {"test": ["gone1"]}
    assert data.report.unassigned_segments == 2
    assert data.report.nonfinite_replaced == {"text": 0, "audio": 0, "video": 0}

    word_feats, word_iv = written["words"]["vidA"]
    np.testing.assert_array_equal(train.features["text"][0, :3], word_feats[:3])
    np.testing.assert_array_equal(train.features["text"][1, :2], word_feats[3:5])
    for name in ("audio", "video"):
        frame_feats, frame_iv = written["frames"][name]["vidA"]
        want, counts = align_to_words(word_iv, frame_iv, frame_feats)
        assert (counts > 1).all()
        np.testing.assert_allclose(train.features[name][0, :3], want[:3], rtol=1e-6)
        np.testing.assert_allclose(train.features[name][1, :2], want[3:5], rtol=1e-6)
    # Padding is exactly zero.
    assert not train.features["audio"][0, 3:].any() and not train.features["text"][1, 2:].any()


@pytest.mark.parametrize(("truncate", "kept"), [("head", [0, 1]), ("tail", [2, 3])])
def test_truncation(sdk, truncate, kept):
    path, written = sdk
    data = load(path, max_seq_len=2, truncate=truncate)
    valid = data.splits["valid"]
    assert valid.lengths.tolist() == [2]
    np.testing.assert_array_equal(valid.features["text"][0], written["words"]["vidB"][0][kept])


def test_absent_optional_modalities_and_facet_42(tmp_path):
    tiny_sdk_dir(tmp_path, VIDEOS, dims={"text": 4, "video": 2})
    (tmp_path / "CMU_MOSI_Visual_Facet_41.csd").rename(tmp_path / "CMU_MOSI_Visual_Facet_42.csd")
    data = load(tmp_path)
    assert data.dims == {"text": 4, "video": 2}
    assert data.modalities == ("text", "video")
    (tmp_path / "CMU_MOSI_Visual_Facet_42.csd").unlink()
    assert load(tmp_path).dims == {"text": 4}


def test_data_map_names_with_or_without_suffix(sdk):
    path, _ = sdk
    data = load(
        path,
        {
            "text": "CMU_MOSI_TimestampedWordVectors.csd",
            "audio": "CMU_MOSI_COVAREP",
            "labels": LABELS,
        },
    )
    assert data.dims == {"text": 4, "audio": 3}
    assert "audio=CMU_MOSI_COVAREP.csd" in data.source


def test_data_map_errors(sdk):
    path, _ = sdk
    with pytest.raises(ValueError, match=r"unknown keys \['vision'\]; valid keys: \['text', 'aud"):
        load(path, {"text": "CMU_MOSI_COVAREP", "labels": LABELS, "vision": "x"})
    with pytest.raises(ValueError, match=r"\['text'\] missing"):
        load(path, {"labels": LABELS})
    with pytest.raises(FileNotFoundError, match=r"audio=nope.*CMU_MOSI_COVAREP.csd"):
        load(path, {"text": "CMU_MOSI_TimestampedWordVectors", "audio": "nope", "labels": LABELS})


def test_default_map_requires_text_file(tmp_path):
    tiny_sdk_dir(tmp_path, VIDEOS, names={"text": "CMU_MOSI_GloVe50_WordVectors"})
    with pytest.raises(FileNotFoundError, match="CMU_MOSI_TimestampedWordVectors.csd.*GloVe50"):
        load(tmp_path)


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load(tmp_path / "nowhere")


def test_nonfinite_values_are_replaced_and_counted(sdk):
    path, written = sdk
    audio = dict(written["frames"]["audio"])
    feats, iv = audio["vidA"]
    feats = feats.copy()
    feats[0, 0], feats[1, :] = np.nan, -np.inf
    audio["vidA"] = (feats, iv)
    write_csd(path / "CMU_MOSI_COVAREP.csd", "COVAREP", audio)
    # The user is told: a model reads those values as 0 and scores the segment anyway.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_csd_dir(str(path), None, FOLDS)
    said = [str(w.message) for w in caught if issubclass(w.category, Tfs2sWarning)]
    assert any(
        re.search(
            r"CMU_MOSI_COVAREP.csd: 4 non-finite audio value\(s\) \(NaN or inf, first in "
            r"video vidA\) were replaced by 0",
            m,
        )
        for m in said
    ), said
    assert data.report.nonfinite_replaced["audio"] == 4
    assert np.isfinite(data.splits["train"].features["audio"]).all()


def write_dir(tmp_path, words, labels, audio=None):
    """Text/labels (and audio) files for one video 'v' from (features, intervals) pairs."""
    write_csd(tmp_path / "CMU_MOSI_TimestampedWordVectors.csd", "glove", {"v": words})
    write_csd(tmp_path / LABELS, "Opinion Segment Labels", {"v": labels})
    if audio is not None:
        write_csd(tmp_path / "CMU_MOSI_COVAREP.csd", "COVAREP", {"v": audio})


ONE = {"train": ["v"], "valid": [], "test": []}


def test_overlapping_and_zero_length_segments(tmp_path):
    word_iv = np.array([[2.0, 3.0], [0.0, 1.0], [2.5, 2.5], [1.0, 2.0]])  # unsorted rows
    word_feats = np.array([[3.0], [1.0], [4.0], [2.0]], np.float32)
    seg_iv = np.array([[0.0, 2.0], [1.5, 3.0], [3.0, 3.0]])
    write_dir(tmp_path, (word_feats, word_iv), (np.zeros((3, 1), np.float32), seg_iv))
    data = load(tmp_path, folds=ONE)
    train = data.splits["train"]
    assert train.segment_ids.tolist() == ["v_1", "v_2"]
    # Word [1, 2] overlaps both segments and appears in both; the zero-length word at 2.5
    # lies inside segment 2; words are in time order.
    assert train.features["text"][0, :2, 0].tolist() == [1.0, 2.0]
    assert train.features["text"][1, :3, 0].tolist() == [2.0, 3.0, 4.0]
    assert data.report.dropped_segments == ["v_3"]
    assert any("1 words did" in n for n in data.report.notes)
    assert data.splits["valid"].features["text"].shape == (0, 20, 1)


def bad_layout(path, build):
    with h5py.File(path, "w") as f:
        build(f)
    return path


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (
            lambda f: (f.create_group("a"), f.create_group("b")),
            r"exactly one root group, found \['a', 'b'\]",
        ),
        (
            lambda f: f.create_group("r").create_group("metadata"),
            "root group 'r' has no 'data' group",
        ),
        (
            lambda f: f.create_dataset("r/data/vid1/features", data=np.zeros((2, 1))),
            "video 'vid1' has no 'intervals' dataset",
        ),
        (
            lambda f: (
                f.create_dataset("r/data/vid1/features", data=np.zeros((3, 1))),
                f.create_dataset("r/data/vid1/intervals", data=np.zeros((2, 2))),
            ),
            "video 'vid1': features have 3 rows but intervals have 2",
        ),
        (
            lambda f: (
                f.create_dataset("r/data/vid1/features", data=np.zeros((2, 1))),
                f.create_dataset("r/data/vid1/intervals", data=[[0.0, 1.0], [3.0, 2.0]]),
            ),
            r"video 'vid1': 1 intervals end before they start, first row 1: .*\[3.0, 2.0\]",
        ),
        (
            lambda f: (
                f.create_dataset("r/data/vid1/features", data=np.zeros((1, 1))),
                f.create_dataset("r/data/vid1/intervals", data=[[-1.0, 1.0]]),
            ),
            "video 'vid1': interval row 0 has a negative time",
        ),
        (
            lambda f: (
                f.create_dataset("r/data/vid1/features", data=np.zeros((1, 3))),
                f.create_dataset("r/data/vid1/intervals", data=[[0.0, 1.0]]),
                f.create_dataset("r/data/vid2/features", data=np.zeros((1, 4))),
                f.create_dataset("r/data/vid2/intervals", data=[[0.0, 1.0]]),
            ),
            "video 'vid2': feature dimension changes between videos: expected 3 .*'vid1'.*found 4",
        ),
    ],
)
def test_bad_layout_messages(tmp_path, build, match):
    path = bad_layout(tmp_path / "broken.csd", build)
    with pytest.raises(ValueError, match=match) as info:
        read_csd(str(path))
    assert "broken.csd" in str(info.value)


def test_not_hdf5(tmp_path):
    (tmp_path / "fake.csd").write_text("not hdf5")
    with pytest.raises(ValueError, match="fake.csd is not an HDF5 file"):
        read_csd(str(tmp_path / "fake.csd"))
    with pytest.raises(FileNotFoundError, match="missing.csd"):
        read_csd(str(tmp_path / "missing.csd"))


def test_label_out_of_range_names_file_video_segment(tmp_path):
    words = (np.ones((2, 1), np.float32), np.array([[0.0, 1.0], [1.0, 2.0]]))
    labels = (np.array([[1.0], [3.5]], np.float32), np.array([[0.0, 1.0], [1.0, 2.0]]))
    write_dir(tmp_path, words, labels)
    with pytest.raises(
        ValueError, match=rf"{LABELS}: video 'v', segment v_2: expected .* \[-3.0, 3.0\], found 3.5"
    ):
        load(tmp_path, folds=ONE)


def test_word_strings_as_text_are_refused(tmp_path):
    words = (np.array([[b"hi"], [b"there"]]), np.array([[0.0, 1.0], [1.0, 2.0]]))
    labels = (np.zeros((1, 1), np.float32), np.array([[0.0, 2.0]]))
    write_dir(tmp_path, words, labels)
    with pytest.raises(ValueError, match="TimestampedWordVectors.csd: video 'v': features are str"):
        load(tmp_path, folds=ONE)


def test_invalid_folds_and_options(sdk):
    path, _ = sdk
    with pytest.raises(ValueError, match="video 'vidA' is listed in both"):
        load(path, folds={"train": ["vidA"], "valid": ["vidA"], "test": []})
    with pytest.raises(ValueError, match="truncate must be one of"):
        load(path, truncate="middle")


def test_video_absent_from_one_modality_file_is_missing(sdk):
    path, written = sdk
    audio = {v: x for v, x in written["frames"]["audio"].items() if v != "vidB"}
    write_csd(path / "CMU_MOSI_COVAREP.csd", "COVAREP", audio)
    with (
        pytest.warns(Tfs2sWarning, match="have no words"),
        pytest.warns(Tfs2sWarning, match=r"2 fold videos are absent .*valid: 1, test: 1"),
    ):
        data = load_csd_dir(str(path), None, FOLDS)
    assert data.report.missing_videos == {"valid": ["vidB"], "test": ["gone1"]}
    assert len(data.splits["valid"]) == 0
    assert any("1 videos are in some but not all" in n and "vidB" in n for n in data.report.notes)
    with pytest.raises(ValueError, match="split 'valid' .* is empty"):
        data.split("valid")


def test_zero_length_segment_takes_the_zero_length_words_at_its_instant(tmp_path):
    # Like real CMU-MOSI's 2WGyTLYerpo_44: a zero-length segment whose words sit at its
    # instant, which is also where the next segment starts.
    word_iv = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 2.0]])
    word_feats = np.array([[1.0], [2.0], [3.0], [4.0]], np.float32)
    seg_iv = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 2.0]])
    write_dir(tmp_path, (word_feats, word_iv), (np.zeros((3, 1), np.float32), seg_iv))
    data = load(tmp_path, folds=ONE)
    train = data.splits["train"]
    assert data.report.dropped_segments == []
    assert train.lengths.tolist() == [1, 2, 1]
    assert train.features["text"][1, :2, 0].tolist() == [2.0, 3.0]
    assert train.features["text"][2, :1, 0].tolist() == [4.0]


def test_threads_change_nothing_and_the_first_video_error_wins(tmp_path, monkeypatch):
    import tfs2s.data.csd as csd

    videos = {f"v{i}": [3, 0, 2 + i % 3] for i in range(9)}
    folds = {"train": [f"v{i}" for i in range(5)], "valid": ["v5", "v6"], "test": ["v7", "v8"]}
    written = tiny_sdk_dir(tmp_path, videos)
    monkeypatch.setattr(csd, "ALIGN_THREADS", 1)
    one = load(tmp_path, folds=folds)
    monkeypatch.setattr(csd, "ALIGN_THREADS", 3)
    three = load(tmp_path, folds=folds)
    for split in ("train", "valid", "test"):
        a, b = one.splits[split], three.splits[split]
        assert a.segment_ids.tolist() == b.segment_ids.tolist() and len(a) > 0
        for name in a.features:
            np.testing.assert_array_equal(a.features[name], b.features[name])
    assert one.report.dropped_segments == three.report.dropped_segments
    assert one.report.notes == three.report.notes
    # v1 has a bad label, v3 a missing audio dataset: v1's error is raised although
    # v3 is read while v1 is aligned
    labels = dict(written["labels"])
    feats, iv = labels["v1"]
    labels["v1"] = (np.full_like(feats, 9.0), iv)
    write_csd(tmp_path / LABELS, "Opinion Segment Labels", labels)
    with h5py.File(tmp_path / "CMU_MOSI_COVAREP.csd", "a") as f:
        del f[next(iter(f))]["data"]["v3"]["features"]
    with pytest.raises(ValueError, match=r"video 'v1', segment v1_1: expected"):
        load(tmp_path, folds=folds)
