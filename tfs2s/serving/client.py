"""A small TF-Serving client for exported tfs2s models: REST and gRPC.

Payloads follow the TF-Serving Predict API:

* REST row format: ``{"signature_name": ..., "instances": [{name: example}, ...]}``;
  every named input shares the batch dimension; the response is
  ``{"predictions": [{output: value}, ...]}`` (or a bare list for one output).
* REST columnar format: ``{"signature_name": ..., "inputs": {name: batch}}``; the
  response is ``{"outputs": {output: batch}}`` (or a bare value for one output).
* gRPC: ``tensorflow.serving.PredictRequest`` with ``model_spec`` and one
  ``TensorProto`` per input, sent with ``PredictionService.Predict``.

Responses come back as ``{output name: numpy array}``; strings as ``str``.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any

import numpy as np

from tfs2s.serving.signatures import SERVING_DEFAULT, TRANSLATE, TRANSLATION

REST_PORT = 8501
GRPC_PORT = 8500
DEFAULT_TIMEOUT = 10.0

#: Key under which a single-output response is returned when its name is not given.
SINGLE_OUTPUT = "output"


class ServingError(RuntimeError):
    """The model server answered with an error."""


def _arrays(inputs: Mapping[str, Any]) -> dict[str, np.ndarray]:
    out = {name: np.asarray(value, np.float32) for name, value in inputs.items()}
    batches = {name: a.shape[0] if a.ndim else None for name, a in out.items()}
    if len(set(batches.values())) != 1 or None in batches.values():
        raise ValueError(f"every input needs the same batch dimension, found {batches}")
    return out


def predict_url(
    model_name: str,
    host: str = "localhost",
    port: int = REST_PORT,
    version: int | None = None,
    verb: str = "predict",
) -> str:
    """``http://host:port/v1/models/<name>[/versions/<v>]:<verb>``."""
    path = f"/v1/models/{model_name}"
    if version is not None:
        path += f"/versions/{int(version)}"
    return f"http://{host}:{port}{path}:{verb}"


def rest_row_payload(
    inputs: Mapping[str, Any], signature_name: str = SERVING_DEFAULT
) -> dict[str, Any]:
    """Row (``instances``) payload: one ``{input: example}`` object per batch element."""
    arrays = _arrays(inputs)
    batch = next(iter(arrays.values())).shape[0]
    return {
        "signature_name": signature_name,
        "instances": [{name: a[i].tolist() for name, a in arrays.items()} for i in range(batch)],
    }


def rest_columnar_payload(
    inputs: Mapping[str, Any], signature_name: str = SERVING_DEFAULT
) -> dict[str, Any]:
    """Columnar (``inputs``) payload: ``{input: whole batch}``."""
    return {
        "signature_name": signature_name,
        "inputs": {name: a.tolist() for name, a in _arrays(inputs).items()},
    }


def _to_numpy(value: Any) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype == np.float64:
        # JSON drops the dtype; every float a tfs2s signature returns is float32.
        a = a.astype(np.float32)
    return a


def parse_rest_response(body: Mapping[str, Any], output_name: str | None = None) -> dict:
    """Read a REST predict response (either format) into ``{output: numpy array}``.

    Args:
        body: the decoded JSON response.
        output_name: key for a single-output response, which TF-Serving sends without
            the output's name (default :data:`SINGLE_OUTPUT`).
    """
    if "error" in body:
        raise ServingError(str(body["error"]))
    single = output_name or SINGLE_OUTPUT
    if "outputs" in body:
        outputs = body["outputs"]
        if isinstance(outputs, Mapping):
            return {name: _to_numpy(v) for name, v in outputs.items()}
        return {single: _to_numpy(outputs)}
    if "predictions" in body:
        rows = body["predictions"]
        if rows and all(isinstance(r, Mapping) for r in rows):
            return {name: _to_numpy([r[name] for r in rows]) for name in rows[0]}
        return {single: _to_numpy(rows)}
    raise ServingError(f"unexpected predict response: keys {sorted(body)}")


def predict_request(
    inputs: Mapping[str, Any],
    model_name: str,
    signature_name: str = SERVING_DEFAULT,
    version: int | None = None,
):
    """A gRPC ``PredictRequest`` with one float32 ``TensorProto`` per input."""
    import tensorflow as tf
    from tensorflow_serving.apis import predict_pb2

    request = predict_pb2.PredictRequest()
    request.model_spec.name = model_name
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = int(version)
    for name, a in _arrays(inputs).items():
        request.inputs[name].CopyFrom(tf.make_tensor_proto(a))
    return request


def _decode(a: np.ndarray) -> np.ndarray:
    if a.dtype == object:
        return np.vectorize(lambda b: b.decode() if isinstance(b, bytes) else b, otypes=[str])(a)
    return a


def parse_predict_response(response) -> dict[str, np.ndarray]:
    """Read a gRPC ``PredictResponse`` into ``{output: numpy array}``."""
    import tensorflow as tf

    return {name: _decode(tf.make_ndarray(t)) for name, t in response.outputs.items()}


class RestClient:
    """Predict over TF-Serving's REST API (urllib, no extra dependency).

    Args:
        model_name: the name in ``models.config``.
        host, port: the server's REST endpoint (``--rest_api_port``, 8501 in the image).
        version: a fixed version; None for the latest one the server has.
        row_format: send ``instances`` (row format) instead of ``inputs`` (columnar).
        timeout: seconds for the whole request.
    """

    def __init__(
        self,
        model_name: str,
        host: str = "localhost",
        port: int = REST_PORT,
        version: int | None = None,
        row_format: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.url = predict_url(model_name, host, port, version)
        self.row_format = row_format
        self.timeout = timeout

    def payload(self, inputs: Mapping[str, Any], signature_name: str) -> dict[str, Any]:
        build = rest_row_payload if self.row_format else rest_columnar_payload
        return build(inputs, signature_name)

    def predict(
        self,
        inputs: Mapping[str, Any],
        signature_name: str = SERVING_DEFAULT,
        output_name: str | None = None,
    ) -> dict[str, np.ndarray]:
        """POST ``inputs`` to ``signature_name``; ``output_name`` names a single-output answer
        (default ``translation`` for ``translate``, whose single-target form has one output).
        """
        if output_name is None and signature_name == TRANSLATE:
            output_name = TRANSLATION
        data = json.dumps(self.payload(inputs, signature_name)).encode()
        request = urllib.request.Request(
            self.url, data=data, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            try:
                detail = json.loads(detail).get("error", detail)
            except ValueError:
                pass
            raise ServingError(f"POST {self.url}: HTTP {e.code}: {detail}") from None
        return parse_rest_response(body, output_name)


class GrpcClient:
    """Predict over TF-Serving's gRPC API (``PredictionService.Predict``).

    Args:
        model_name: the name in ``models.config``.
        host, port: the server's gRPC endpoint (``--port``, 8500 in the image).
        version: a fixed version; None for the latest one the server has.
        timeout: seconds per call.
    """

    def __init__(
        self,
        model_name: str,
        host: str = "localhost",
        port: int = GRPC_PORT,
        version: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        self._channel = grpc.insecure_channel(f"{host}:{port}")
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def predict(
        self, inputs: Mapping[str, Any], signature_name: str = SERVING_DEFAULT
    ) -> dict[str, np.ndarray]:
        import grpc

        request = predict_request(inputs, self.model_name, signature_name, self.version)
        try:
            response = self._stub.Predict(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise ServingError(f"Predict {self.model_name}: {e.code()}: {e.details()}") from None
        return parse_predict_response(response)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> GrpcClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
