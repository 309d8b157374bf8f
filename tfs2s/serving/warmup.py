"""SavedModel warmup requests for TF-Serving.

TF-Serving replays ``assets.extra/tf_serving_warmup_requests`` when it loads a
version (``--enable_model_warmup``, on by default): a TFRecord file of
``tensorflow.serving.PredictionLog`` protos (at most 1000), here one
``predict_log.request`` per signature and batch size, so the first real request
does not pay for lazy initialisation.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence

import numpy as np

from tfs2s import modalities as M
from tfs2s.serving.signatures import ServingSpec

#: Location of the warmup file inside a SavedModel directory (fixed by TF-Serving).
WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")

#: Batch sizes replayed at load time: every batch bucket of an XLA export up to 64
#: (each compiles once), which covers single requests and the batches we benchmark.
WARMUP_BATCH_SIZES: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64)

#: TF-Serving reads at most this many warmup records.
MAX_WARMUP_RECORDS = 1000


def example_inputs(
    dims: Mapping[str, int], batch: int, steps: int, seed: int = 0
) -> dict[str, np.ndarray]:
    """Request-shaped inputs: standard-normal features, segment lengths drawn in 1..steps.

    Returns:
        name -> float32 ``(batch, steps, dim)`` per modality of ``dims`` (zero past each
        segment's length) and ``mask`` float32 ``(batch, steps)``.
    """
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, steps + 1, size=batch)
    mask = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)
    out = {
        name: rng.standard_normal((batch, steps, dim)).astype(np.float32) * mask[..., None]
        for name, dim in dims.items()
    }
    out[M.MASK] = mask
    return out


def warmup_logs(
    spec: ServingSpec, model_name: str, batch_sizes: Sequence[int] = WARMUP_BATCH_SIZES
) -> list:
    """One ``PredictionLog`` per signature and batch size, with full-length requests."""
    from tensorflow_serving.apis import prediction_log_pb2

    from tfs2s.serving.client import predict_request

    logs = []
    for signature in spec.signature_names:
        for i, batch in enumerate(batch_sizes):
            request = predict_request(
                example_inputs(spec.inputs, batch, spec.max_seq_len, seed=i),
                model_name,
                signature_name=signature,
            )
            logs.append(
                prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request)
                )
            )
    if len(logs) > MAX_WARMUP_RECORDS:
        raise ValueError(
            f"{len(logs)} warmup records; TF-Serving reads at most {MAX_WARMUP_RECORDS}"
        )
    return logs


def write_warmup(saved_model_dir: str | os.PathLike, logs: Iterable) -> str:
    """Write ``logs`` as ``assets.extra/tf_serving_warmup_requests``; return its path."""
    import tensorflow as tf

    path = os.path.join(os.fspath(saved_model_dir), WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def read_warmup(saved_model_dir: str | os.PathLike) -> Iterator:
    """Yield the ``PredictionLog`` records of a SavedModel's warmup file."""
    import tensorflow as tf
    from tensorflow_serving.apis import prediction_log_pb2

    path = os.path.join(os.fspath(saved_model_dir), WARMUP_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} does not exist: the SavedModel has no warmup requests")
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        yield prediction_log_pb2.PredictionLog.FromString(record)
