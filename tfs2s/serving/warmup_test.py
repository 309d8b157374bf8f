"""Warmup requests: TFRecord of PredictionLog, one per signature and batch size."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from tfs2s.serving.signatures import SERVING_DEFAULT, TRANSLATE, ServingSpec
from tfs2s.serving.warmup import example_inputs, read_warmup, warmup_logs, write_warmup

SPEC = ServingSpec("concat_TV_A", 5, {"text": 4, "video": 2}, {"audio": 3})


def test_example_inputs_are_masked_like_real_segments():
    x = example_inputs({"text": 4}, batch=6, steps=5, seed=1)
    assert x["text"].shape == (6, 5, 4) and x["mask"].shape == (6, 5)
    lengths = x["mask"].sum(1)
    assert lengths.min() >= 1 and lengths.max() <= 5
    # a mask is ones then zeros, and features are zero past it
    assert np.all(np.diff(x["mask"], axis=1) <= 0)
    assert np.all(x["text"][x["mask"] == 0] == 0)


def test_warmup_file_round_trips(tmp_path):
    path = write_warmup(tmp_path, warmup_logs(SPEC, "m", batch_sizes=(1, 3)))
    assert path.endswith("assets.extra/tf_serving_warmup_requests")
    logs = list(read_warmup(tmp_path))
    keys = [
        (
            log.predict_log.request.model_spec.signature_name,
            tf.make_ndarray(log.predict_log.request.inputs["mask"]).shape[0],
        )
        for log in logs
    ]
    assert keys == [(SERVING_DEFAULT, 1), (SERVING_DEFAULT, 3), (TRANSLATE, 1), (TRANSLATE, 3)]
    request = logs[1].predict_log.request
    assert request.model_spec.name == "m" and set(request.inputs) == {"text", "video", "mask"}
    assert tf.make_ndarray(request.inputs["video"]).shape == (3, 5, 2)


def test_at_most_1000_records():
    with pytest.raises(ValueError, match="at most 1000"):
        warmup_logs(SPEC, "m", batch_sizes=[1] * 501)


def test_missing_warmup_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="tf_serving_warmup_requests does not exist"):
        next(read_warmup(tmp_path))
