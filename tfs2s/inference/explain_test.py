import json

import numpy as np
import pytest

from tfs2s.inference.explain import explain, parse_segments


def test_attention_sums_to_one_over_real_words(opened):
    run, source = opened
    features, _ = next(iter(source.dataset("test", ["text"], 32)))
    out = run.predict_batch(features, attention=True)
    mask = features["mask"].numpy()
    weights = out["attention"]
    assert weights.shape == mask.shape
    np.testing.assert_allclose((weights * mask).sum(axis=1), 1.0, atol=1e-5)
    assert np.all(weights[mask == 0] == 0)
    assert np.all(weights[mask == 1] > 0)
    # asking for the weights does not change the scores
    np.testing.assert_array_equal(out["sentiment"], run.predict_batch(features)["sentiment"])


def test_top_picks_confident_wrong_and_right(opened, tmp_path):
    run, source = opened
    written = explain(run, source, tmp_path / "x", top=2)
    assert sorted(p.name for p in written) == ["explain.json", "explain.png"]
    report = json.loads((tmp_path / "x" / "explain.json").read_text())
    segs = report["segments"]
    assert [s["group"] for s in segs] == ["wrong", "wrong", "right", "right"]
    assert [s["correct_polarity"] for s in segs] == [False, False, True, True]
    assert abs(segs[0]["prediction"]) >= abs(segs[1]["prediction"])
    assert abs(segs[2]["prediction"]) >= abs(segs[3]["prediction"])
    # the most confident right one is the most confident of all right test segments
    from tfs2s.inference.scoring import predictions

    labels, preds = predictions(run, source, "test")
    right = (preds >= 0) == (labels >= 0)
    assert abs(segs[2]["prediction"]) == pytest.approx(np.abs(preds[right]).max(), abs=1e-6)
    for s in segs:
        assert s["words"] is None  # synthetic data has no words
        assert sum(s["attention"]) == pytest.approx(1.0, abs=1e-5)


def test_chosen_segments_and_unknown_ids(opened, tmp_path):
    run, source = opened
    ids = [
        str(source.data.split("valid").segment_ids[1]),
        str(source.data.split("test").segment_ids[0]),
    ]
    explain(run, source, tmp_path / "x", segments=ids)
    report = json.loads((tmp_path / "x" / "explain.json").read_text())
    assert [s["segment_id"] for s in report["segments"]] == ids
    assert [s["split"] for s in report["segments"]] == ["valid", "test"]
    length = int(source.data.split("test").lengths[0])
    assert len(report["segments"][1]["attention"]) == length
    with pytest.raises(ValueError, match=r"unknown segment ids \['nope_1'\]"):
        explain(run, source, tmp_path / "y", segments=[ids[0], "nope_1"])
    assert not (tmp_path / "y").exists()


def test_parse_segments():
    assert parse_segments(" a_1, b_2 ,a_1") == ["a_1", "b_2"]
    with pytest.raises(ValueError, match="segment ids"):
        parse_segments(" , ")
