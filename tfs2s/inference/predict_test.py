import csv
import json
import types

import numpy as np
import pytest

from tfs2s.inference.evaluate import evaluate_run
from tfs2s.inference.predict import COLUMNS, write_predictions
from tfs2s.training.metrics import sentiment_metrics


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_predict_matches_evaluate(opened, tmp_path):
    run, source = opened
    out = tmp_path / "preds.csv"
    count = write_predictions(run, source, out)
    rows = _read_csv(out)
    assert count == len(rows) == sum(source.num_examples(s) for s in source.nonempty_splits())
    assert list(rows[0]) == list(COLUMNS)
    test = [r for r in rows if r["split"] == "test"]
    assert [r["segment_id"] for r in test] == list(source.data.split("test").segment_ids)
    labels = np.array([float(r["label"]) for r in test])
    preds = np.array([float(r["sentiment"]) for r in test])
    assert sentiment_metrics(labels, preds) == evaluate_run(run, source, "test")["test"]
    for r in test:
        s = float(r["sentiment"])
        assert int(r["polarity"]) == int(s >= 0)
        assert int(r["sentiment_class"]) == int(np.round(np.clip(s, -3, 3)))
    # another batch size: the same rows, scores equal up to float32 summation order
    write_predictions(run, source, tmp_path / "b7.csv", batch_size=7)
    other = _read_csv(tmp_path / "b7.csv")
    assert [r["segment_id"] for r in other] == [r["segment_id"] for r in rows]
    np.testing.assert_allclose(
        [float(r["sentiment"]) for r in other], [float(r["sentiment"]) for r in rows], atol=1e-5
    )


def test_jsonl_has_the_same_rows(opened, tmp_path):
    run, source = opened
    write_predictions(run, source, tmp_path / "p.csv", split="valid")
    write_predictions(run, source, tmp_path / "p.jsonl", fmt="jsonl", split="valid")
    rows = [json.loads(line) for line in open(tmp_path / "p.jsonl")]
    from_csv = _read_csv(tmp_path / "p.csv")
    assert [r["segment_id"] for r in rows] == [r["segment_id"] for r in from_csv]
    assert [r["sentiment"] for r in rows] == [float(r["sentiment"]) for r in from_csv]


def test_a_failed_prediction_leaves_the_old_file(opened, tmp_path):
    run, source = opened
    out = tmp_path / "p.csv"
    out.write_text("old\n")
    with pytest.raises(ValueError, match="unknown split"):
        write_predictions(run, source, out, split="dev")
    with pytest.raises(ValueError, match="--format"):
        write_predictions(run, source, out, fmt="xml")
    assert out.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["p.csv"]


def test_saved_model_version_predicts_like_the_run(tiny_export, opened, tmp_path):
    # The session's export of the tiny run (shared with the serving tests).
    from tfs2s.inference.runs import open_run

    run, source = opened
    result, _ = tiny_export
    exported = open_run(result.path)
    assert exported.is_saved_model and exported.topology == run.topology
    write_predictions(run, source, tmp_path / "run.csv", split="test")
    write_predictions(exported, source, tmp_path / "sm.csv", split="test")
    a, b = _read_csv(tmp_path / "run.csv"), _read_csv(tmp_path / "sm.csv")
    assert [r["segment_id"] for r in a] == [r["segment_id"] for r in b]
    diff = np.abs(np.array([float(r["sentiment"]) for r in a]) - [float(r["sentiment"]) for r in b])
    assert diff.max() <= 1e-4
    # serving_default carries the attention too, so explain works on the export
    features, _ = next(iter(source.dataset("test", ["text"], 16)))
    got = exported.predict_batch(features, attention=True)["attention"]
    want = run.predict_batch(features, attention=True)["attention"]
    np.testing.assert_allclose(got, want, atol=1e-4)
    # On the built-in data of another size, the error says that the export records no data.
    other = types.SimpleNamespace(
        dims={"text": source.dims["text"] + 1},
        max_seq_len=source.max_seq_len,
        modalities=("text",),
        source="synthetic CMU-MOSI (seed 0, 2199 segments)",
    )
    with pytest.raises(ValueError, match="expects .*does not record the data.*--data"):
        exported.check_source(other)
    with pytest.raises(ValueError, match=r"expects \d+$"):
        run.check_source(other)


def test_a_prepared_cache_streams_the_same_rows(opened, tmp_path):
    from tfs2s.data.cache import CachedSource, prepare

    run, source = opened
    prepare(source.data, tmp_path / "cache", shard_size=20)  # several shards per split
    cached = CachedSource(tmp_path / "cache")
    run.check_source(cached)
    write_predictions(run, source, tmp_path / "mem.csv", split="train", batch_size=32)
    write_predictions(run, cached, tmp_path / "cache.csv", split="train", batch_size=32)
    mem, streamed = _read_csv(tmp_path / "mem.csv"), _read_csv(tmp_path / "cache.csv")
    assert [(r["segment_id"], r["video_id"]) for r in streamed] == [
        (r["segment_id"], r["video_id"]) for r in mem
    ]
    np.testing.assert_allclose(
        [float(r["sentiment"]) for r in streamed], [float(r["sentiment"]) for r in mem], atol=1e-6
    )
