import json

import numpy as np
import pytest

from tfs2s.data.cache import CachedSource, prepare
from tfs2s.data.dataset import SPLITS, DataReport, MosiData, Split
from tfs2s.data.inspect import inspect_data, inspect_source


def _split(labels, lengths, videos, steps=4, dims=None):
    dims = dims or {"text": 3, "audio": 2}
    n = len(labels)
    lengths = np.asarray(lengths, np.int32)
    mask = (np.arange(steps)[None, :] < lengths[:, None])[..., None]
    features = {k: np.ones((n, steps, d), np.float32) * mask for k, d in dims.items()}
    return Split(
        features=features,
        lengths=lengths,
        labels=np.asarray(labels, np.float32),
        segment_ids=np.asarray([f"{v}_{i + 1}" for i, v in enumerate(videos)]),
        video_ids=np.asarray(videos),
    )


@pytest.fixture
def data():
    return MosiData(
        splits={
            "train": _split(
                [-2.6, -0.4, 0.0, 0.6, 3.0], [1, 4, 4, 2, 3], ["a", "a", "b", "b", "b"]
            ),
            "valid": _split([1.4], [2], ["c"]),
            "test": Split.empty({"text": 3, "audio": 2}, 4),
        },
        dims={"text": 3, "audio": 2},
        max_seq_len=4,
        source="hand-made",
        report=DataReport(
            nonfinite_replaced={"audio": 7},
            dropped_segments=[f"z_{i}" for i in range(12)],
            missing_videos={"test": ["d", "e"]},
            unassigned_segments=2,
            notes=["hello"],
        ),
    )


def test_inspect_data_counts(data):
    out = inspect_data(data)
    assert json.loads(json.dumps(out)) == out
    assert out["source"] == "hand-made" and out["max_seq_len"] == 4
    assert out["dims"] == {"text": 3, "audio": 2}
    train = out["splits"]["train"]
    assert train["segments"] == 5 and train["videos"] == 2
    assert train["words"] == {
        "min": 1,
        "max": 4,
        "mean": 2.8,
        "median": 3.0,
        "at_max_seq_len": 2,
        "truncated": None,
    }
    labels = train["labels"]
    assert labels["min"] == pytest.approx(-2.6) and labels["max"] == 3.0
    assert labels["mean"] == pytest.approx(0.12)
    assert labels["binary"] == {"negative": 2, "non_negative": 3}
    assert labels["seven_class"] == {"-3": 1, "-2": 0, "-1": 0, "0": 2, "1": 1, "2": 0, "3": 1}
    test = out["splits"]["test"]
    assert test["segments"] == 0 and test["words"]["mean"] is None
    assert sum(test["labels"]["seven_class"].values()) == 0
    assert out["total"] == {"segments": 6, "videos": 3}
    assert out["nonfinite_replaced"] == {"audio": 7}
    assert out["dropped_segments"]["count"] == 12
    assert out["dropped_segments"]["first"] == [f"z_{i}" for i in range(10)]
    assert out["missing_videos"]["test"] == {"count": 2, "ids": ["d", "e"]}
    assert out["missing_videos"]["train"] == {"count": 0, "ids": []}
    assert out["unassigned_segments"] == 2 and out["notes"] == ["hello"]


def test_inspect_counts_truncation_when_raw_lengths_are_known(data):
    data.splits["train"].raw_lengths = np.asarray([1, 9, 4, 2, 3])
    assert inspect_data(data)["splits"]["train"]["words"]["truncated"] == 1


def test_inspect_source_matches_inspect_data(data, tmp_path):
    prepare(data, tmp_path / "c")
    out = inspect_source(CachedSource(tmp_path / "c"))
    cache_info = out.pop("cache")
    assert out == inspect_data(data)
    assert cache_info["format_version"] == 1
    assert cache_info["shards"] == {"train": 1, "valid": 1, "test": 0}
    assert set(cache_info) == {"path", "format_version", "compression", "shards"}
    assert list(out["splits"]) == list(SPLITS)
