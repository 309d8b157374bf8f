"""Client payloads and responses, checked against the loaded SavedModel as TF-Serving runs it."""

from __future__ import annotations

import io
import json
import urllib.error

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2

from tfs2s.serving import client as client_mod
from tfs2s.serving import testing
from tfs2s.serving.client import (
    GrpcClient,
    RestClient,
    ServingError,
    parse_predict_response,
    parse_rest_response,
    predict_request,
    predict_url,
    rest_columnar_payload,
    rest_row_payload,
)
from tfs2s.serving.signatures import SERVING_DEFAULT, TRANSLATE
from tfs2s.serving.warmup import example_inputs

DTYPES = {"text": np.float32, "mask": np.float32}


def test_predict_url():
    assert predict_url("tfs2s") == "http://localhost:8501/v1/models/tfs2s:predict"
    assert (
        predict_url("m", host="10.0.0.2", port=9000, version=3)
        == "http://10.0.0.2:9000/v1/models/m/versions/3:predict"
    )


def test_payload_shapes_follow_the_rest_api():
    x = example_inputs({"text": 3}, batch=2, steps=4)
    row = rest_row_payload(x, TRANSLATE)
    assert row["signature_name"] == TRANSLATE and len(row["instances"]) == 2
    assert set(row["instances"][0]) == {"text", "mask"}
    assert np.asarray(row["instances"][1]["text"]).shape == (4, 3)
    col = rest_columnar_payload(x)
    assert col["signature_name"] == SERVING_DEFAULT and "instances" not in col
    assert np.asarray(col["inputs"]["mask"]).shape == (2, 4)
    json.dumps(row), json.dumps(col)  # plain JSON
    with pytest.raises(ValueError, match="same batch dimension"):
        rest_row_payload({"text": np.zeros((2, 4, 3)), "mask": np.zeros((3, 4))})


def test_parse_rest_responses_of_both_formats():
    row = {
        "predictions": [
            {"sentiment": 1.5, "polarity_label": "non-negative"},
            {"sentiment": -0.5, "polarity_label": "negative"},
        ]
    }
    out = parse_rest_response(row)
    np.testing.assert_array_equal(out["sentiment"], np.array([1.5, -0.5], np.float32))
    assert out["sentiment"].dtype == np.float32
    assert out["polarity_label"].tolist() == ["non-negative", "negative"]
    col = {"outputs": {"polarity": [1, 0], "sentiment": [1.5, -0.5]}}
    out = parse_rest_response(col)
    assert out["polarity"].tolist() == [1, 0] and out["sentiment"].dtype == np.float32
    # a single-output signature comes back without its name
    single = parse_rest_response({"predictions": [[[0.5]], [[1.0]]]}, "translation")
    assert single["translation"].shape == (2, 1, 1)
    assert parse_rest_response({"outputs": [1.0, 2.0]})["output"].shape == (2,)
    with pytest.raises(ServingError, match="bad input"):
        parse_rest_response({"error": "bad input"})


def test_predict_request_is_a_predict_request_with_float32_tensors():
    x = example_inputs({"text": 3}, batch=2, steps=4)
    request = predict_request(x, "tfs2s", TRANSLATE, version=7)
    assert request.model_spec.name == "tfs2s" and request.model_spec.signature_name == TRANSLATE
    assert request.model_spec.version.value == 7
    for name, value in x.items():
        np.testing.assert_array_equal(tf.make_ndarray(request.inputs[name]), value)
        assert request.inputs[name].dtype == tf.float32.as_datatype_enum


def _response(outputs: dict) -> predict_pb2.PredictResponse:
    response = predict_pb2.PredictResponse()
    for name, value in outputs.items():
        response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
    return response


def test_parse_predict_response_decodes_strings():
    out = parse_predict_response(
        _response(
            {"sentiment": np.array([0.5], np.float32), "polarity_label": np.array([b"negative"])}
        )
    )
    assert out["sentiment"].dtype == np.float32 and out["polarity_label"].tolist() == ["negative"]


# --------------------------------------------------------------------------- against the export


@pytest.fixture(scope="module")
def served(tiny_export):
    result, _ = tiny_export
    return result, tf.saved_model.load(str(result.path))


def _run(loaded, signature, tensors):
    out = loaded.signatures[signature](**{k: tf.constant(v) for k, v in tensors.items()})
    return {k: v.numpy() for k, v in out.items()}


def _as_server_would_answer(outputs: dict, row: bool) -> dict:
    """The JSON TF-Serving sends back for ``outputs`` (strings decoded, arrays as lists)."""

    def plain(a):
        return np.char.decode(a.astype(bytes)).tolist() if a.dtype == object else a.tolist()

    if row:
        batch = next(iter(outputs.values())).shape[0]
        return {
            "predictions": [
                {k: plain(v[i : i + 1])[0] for k, v in outputs.items()} for i in range(batch)
            ]
        }
    return {"outputs": {k: plain(v) for k, v in outputs.items()}}


@pytest.mark.parametrize("signature", [SERVING_DEFAULT, TRANSLATE])
@pytest.mark.parametrize("row", [True, False], ids=["instances", "inputs"])
def test_rest_payloads_run_against_the_signature(served, signature, row):
    result, loaded = served
    x = example_inputs(result.spec.inputs, batch=3, steps=4, seed=2)
    payload = (rest_row_payload if row else rest_columnar_payload)(x, signature)
    payload = json.loads(json.dumps(payload))  # over the wire
    assert payload["signature_name"] == signature
    tensors = testing.rest_to_tensors(payload, DTYPES)
    got = _run(loaded, signature, tensors)
    want = _run(loaded, signature, x)
    for name in want:
        np.testing.assert_array_equal(got[name], want[name])
    body = json.loads(json.dumps(_as_server_would_answer(got, row)))
    parsed = parse_rest_response(body, output_name="translation")
    assert set(parsed) == set(want)
    for name, value in want.items():
        if value.dtype == object:
            assert parsed[name].tolist() == [v.decode() for v in value.tolist()]
        else:
            np.testing.assert_allclose(parsed[name], value, atol=1e-6)


@pytest.mark.parametrize("signature", [SERVING_DEFAULT, TRANSLATE])
def test_grpc_request_runs_against_the_signature(served, signature):
    result, loaded = served
    x = example_inputs(result.spec.inputs, batch=2, steps=result.spec.max_seq_len, seed=3)
    request = predict_pb2.PredictRequest.FromString(
        predict_request(x, "tfs2s", signature).SerializeToString()
    )
    tensors = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    got = _run(loaded, request.model_spec.signature_name, tensors)
    want = _run(loaded, signature, x)
    parsed = parse_predict_response(_response(got))
    for name, value in want.items():
        if value.dtype == object:
            assert parsed[name].tolist() == [v.decode() for v in value.tolist()]
        else:
            np.testing.assert_array_equal(parsed[name], value)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"text": (0, 1, 2, np.nan)}, "input `text` must be finite"),
        ({"mask": (1, 0, np.inf)}, "input `mask` must be finite"),
        ({"mask": None}, "input `mask` must have at least one real step"),
    ],
    ids=["nan text", "inf mask", "empty mask row"],
)
@pytest.mark.parametrize("transport", ["rest", "grpc"])
def test_bad_values_sent_by_the_clients_are_refused(served, change, message, transport):
    """What a client sends (REST JSON or a gRPC request) reaches the in-graph checks."""
    result, loaded = served
    x = example_inputs(result.spec.inputs, batch=2, steps=5, seed=4)
    for name, where in change.items():
        if where is None:
            x[name][1] = 0.0
        else:
            x[name][where[:-1]] = where[-1]
    if transport == "rest":
        # TF-Serving's JSON parser reads NaN and Infinity literals, as json does
        tensors = testing.rest_to_tensors(json.loads(json.dumps(rest_row_payload(x))), DTYPES)
    else:
        request = predict_pb2.PredictRequest.FromString(
            predict_request(x, "tfs2s").SerializeToString()
        )
        tensors = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
    for signature in (SERVING_DEFAULT, TRANSLATE):
        with pytest.raises(tf.errors.InvalidArgumentError, match=message.replace("`", ".")):
            _run(loaded, signature, tensors)


# --------------------------------------------------------------------------- transports


class _FakeHTTP(io.BytesIO):
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_rest_client_posts_json_with_a_timeout(monkeypatch):
    seen = []
    answers = [{"outputs": {"sentiment": [0.25]}}, {"outputs": [[[0.5]]]}]

    def urlopen(request, timeout):
        seen.append(
            dict(
                url=request.full_url,
                body=json.loads(request.data),
                timeout=timeout,
                method=request.get_method(),
                ctype=request.get_header("Content-type"),
            )
        )
        return _FakeHTTP(json.dumps(answers[len(seen) - 1]).encode())

    monkeypatch.setattr(client_mod.urllib.request, "urlopen", urlopen)
    c = RestClient("tfs2s", host="h", version=2, timeout=3.0)
    x = example_inputs({"text": 3}, 1, 1)
    assert c.predict(x)["sentiment"].tolist() == [0.25]
    # a one-output translate is answered without its name
    assert c.predict(x, TRANSLATE)["translation"].shape == (1, 1, 1)
    first = seen[0]
    assert first["url"] == "http://h:8501/v1/models/tfs2s/versions/2:predict"
    assert (first["method"], first["timeout"], first["ctype"]) == ("POST", 3.0, "application/json")
    assert first["body"]["signature_name"] == SERVING_DEFAULT and "inputs" in first["body"]
    assert seen[1]["body"]["signature_name"] == TRANSLATE
    row = RestClient("tfs2s", row_format=True).payload(x, TRANSLATE)
    assert row["signature_name"] == TRANSLATE and "instances" in row


def test_rest_client_reports_the_server_error(monkeypatch):
    def urlopen(request, timeout):
        raise urllib.error.HTTPError(
            request.full_url,
            400,
            "Bad Request",
            {},
            io.BytesIO(b'{"error": "input `text` must be float32"}'),
        )

    monkeypatch.setattr(client_mod.urllib.request, "urlopen", urlopen)
    with pytest.raises(ServingError, match="HTTP 400: input `text` must be float32"):
        RestClient("tfs2s").predict(example_inputs({"text": 3}, 1, 2))


def test_grpc_client_calls_predict_with_a_timeout():
    calls = []

    class Stub:
        def Predict(self, request, timeout):
            calls.append((request, timeout))
            return _response({"sentiment": np.array([1.0], np.float32)})

    with GrpcClient("tfs2s", host="localhost", port=1, timeout=2.5) as c:
        c._stub = Stub()
        out = c.predict(example_inputs({"text": 3}, 1, 2), SERVING_DEFAULT)
    assert out["sentiment"].tolist() == [1.0]
    request, timeout = calls[0]
    assert timeout == 2.5 and request.model_spec.name == "tfs2s"
