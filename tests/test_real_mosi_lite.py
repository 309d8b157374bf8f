"""The ``.csd`` reader on the real cmu-mosi-lite bundle (train/valid videos of CMU-MOSI).

The bundle is found through ``TFS2S_MOSI_LITE`` or at ``<repo>/../shared/data/cmu-mosi-lite``;
the tests are skipped when it is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tfs2s.data.csd import load_csd_dir, read_csd
from tfs2s.data.folds import standard_folds

pytestmark = pytest.mark.integration

BUNDLE = Path(
    os.environ.get(
        "TFS2S_MOSI_LITE",
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cmu-mosi-lite",
    )
)
DATA_MAP = {
    "text": "CMU_MOSI_GloVe50_WordVectors",
    "audio": "CMU_MOSI_openSMILE_Segment",
    "labels": "CMU_MOSI_Opinion_Labels",
}


@pytest.fixture(scope="module")
def data():
    if not (BUNDLE / "CMU_MOSI_Opinion_Labels.csd").is_file():
        pytest.skip(f"cmu-mosi-lite bundle not found at {BUNDLE} (set TFS2S_MOSI_LITE)")
    with pytest.warns(UserWarning, match=r"31 fold videos are absent .*\(test: 31\)"):
        return load_csd_dir(str(BUNDLE), DATA_MAP, standard_folds())


def test_bundle_folds_are_the_standard_folds():
    if not (BUNDLE / "folds.json").is_file():
        pytest.skip(f"cmu-mosi-lite bundle not found at {BUNDLE} (set TFS2S_MOSI_LITE)")
    assert json.loads((BUNDLE / "folds.json").read_text()) == standard_folds()


def test_segment_counts_keep_the_zero_length_segment(data):
    # The bundle has 1284 train and 229 valid labelled segments. Segment 2WGyTLYerpo_44
    # (train) has a zero-length interval [127.213, 127.213]; its own two words are
    # zero-length at that same instant (also where segment 45 starts). No word overlaps it
    # by a positive length, but a zero-length segment takes the zero-length words at its
    # instant, so it keeps them and no segment is dropped.
    assert data.report.dropped_segments == []
    assert len(data.splits["train"]) == 1284
    train = data.splits["train"]
    (i,) = np.flatnonzero(train.segment_ids == "2WGyTLYerpo_44")
    assert train.lengths[i] == 2
    (j,) = np.flatnonzero(train.segment_ids == "2WGyTLYerpo_45")
    # segment 45 does not take segment 44's zero-length words at its start
    np.testing.assert_raises(
        AssertionError,
        np.testing.assert_array_equal,
        train.features["text"][j, :2],
        train.features["text"][i, :2],
    )
    assert len(data.splits["valid"]) == 229
    assert len(data.splits["test"]) == 0
    assert len(data.report.missing_videos["test"]) == 31
    assert "train" not in data.report.missing_videos
    assert data.report.unassigned_segments == 0


def test_dims_labels_and_lengths(data):
    assert data.dims == {"text": 50, "audio": 73}
    assert data.modalities == ("text", "audio")
    assert data.report.nonfinite_replaced == {"text": 0, "audio": 0}
    for name in ("train", "valid"):
        split = data.splits[name]
        assert split.labels.min() >= -3 and split.labels.max() <= 3
        assert split.lengths.min() >= 1 and split.lengths.max() <= 20
        assert split.features["text"].shape == (len(split), 20, 50)
        assert len(set(split.segment_ids)) == len(split)
    # The audio vector is segment level: every word of 2iD-tVS8NPw_1, which overlaps no
    # other segment, carries that segment's openSMILE vector.
    train = data.splits["train"]
    assert train.segment_ids[0] == "2iD-tVS8NPw_1"
    vector = read_csd(str(BUNDLE / "CMU_MOSI_openSMILE_Segment.csd")).data["2iD-tVS8NPw"][0][0]
    first = train.features["audio"][0, : train.lengths[0]]
    np.testing.assert_allclose(first, np.broadcast_to(vector, first.shape), rtol=1e-6)
    # Words shared by overlapping segments are reported.
    assert any("295 words did" in note for note in data.report.notes)
