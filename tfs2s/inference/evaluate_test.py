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


def _only(data, names):
    """``data`` holding the modalities ``names`` only."""
    return dataclasses.replace(
        data,
        dims={n: data.dims[n] for n in names},
        splits={
            name: dataclasses.replace(split, features={n: split.features[n] for n in names})
            for name, split in data.splits.items()
        },
    )


def test_a_modality_not_read_at_inference_may_be_absent(opened):
    from tfs2s.data.pipeline import InMemorySource

    run, source = opened
    without_audio = InMemorySource(_only(source.data, ["text"]))
    run.check_source(without_audio)
    found = evaluate_run(run, without_audio, "test")["test"]
    assert found == evaluate_run(run, source, "test")["test"]
    assert np.isfinite(found["mae"])
    with pytest.raises(ValueError, match=r"missing: \['text'\]"):
        run.check_source(InMemorySource(_only(source.data, ["audio"])))
