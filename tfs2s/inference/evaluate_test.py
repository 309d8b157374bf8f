import dataclasses
import json
import os

import numpy as np
import pytest

from tfs2s.inference.evaluate import evaluate_run, format_metrics


def test_evaluate_reproduces_metrics_json_exactly(opened, tiny_run):
    run, source = opened
    with open(os.path.join(tiny_run, "metrics.json")) as f:
        expected = json.load(f)
    found = json.loads(json.dumps(evaluate_run(run, source)))
    assert found == expected


def test_evaluate_other_splits(opened):
    run, source = opened
    every = evaluate_run(run, source, "all")
    assert list(every) == ["train", "valid", "test"]
    assert evaluate_run(run, source, "test")["test"] == every["test"]
    assert "train" in format_metrics(every)
    with pytest.raises(ValueError, match="unknown split"):
        evaluate_run(run, source, "dev")


def test_a_modality_not_read_at_inference_may_be_absent(opened):
    from tfs2s.data.pipeline import InMemorySource

    run, source = opened
    data = source.data
    text_only = dataclasses.replace(
        data,
        dims={"text": data.dims["text"]},
        splits={
            name: dataclasses.replace(split, features={"text": split.features["text"]})
            for name, split in data.splits.items()
        },
    )
    without_audio = InMemorySource(text_only)
    run.check_source(without_audio)
    found = evaluate_run(run, without_audio, "test")["test"]
    assert found == evaluate_run(run, source, "test")["test"]
    no_text = dataclasses.replace(
        data,
        dims={"audio": data.dims["audio"]},
        splits={
            name: dataclasses.replace(split, features={"audio": split.features["audio"]})
            for name, split in data.splits.items()
        },
    )
    with pytest.raises(ValueError, match=r"missing: \['text'\]"):
        run.check_source(InMemorySource(no_text))
    assert np.isfinite(found["mae"])
