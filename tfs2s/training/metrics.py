"""The paper's evaluation metrics, shared by every command.

Binary: negative (< 0) vs non-negative (>= 0) (the bc-LSTM split); ``acc2_nonzero``
drops labels equal to 0 and scores positive (> 0) vs negative. 7-class:
``round(clip(x, -3, 3))``. Precision, recall and F1 are scikit-learn weighted
averages called as ``(y_true, y_pred)``.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, precision_recall_fscore_support

#: Metric keys, in reporting order.
METRIC_KEYS: tuple[str, ...] = (
    "acc2",
    "acc2_nonzero",
    "prec2",
    "rec2",
    "f1_2",
    "acc7",
    "prec7",
    "rec7",
    "f1_7",
    "mae",
    "corr",
)


def to_binary(x: np.ndarray) -> np.ndarray:
    """1 for non-negative (>= 0), 0 for negative."""
    return (np.asarray(x) >= 0).astype(np.int64)


def to_class7(x: np.ndarray) -> np.ndarray:
    """Integer class in -3..3: ``round(clip(x, -3, 3))`` (numpy rounds half to even)."""
    return np.round(np.clip(np.asarray(x, np.float64), -3.0, 3.0)).astype(np.int64)


def _prf(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float]:
    p, r, f, _ = precision_recall_fscore_support(
        y_true, y_pred, average="weighted", zero_division=0
    )
    return float(p), float(r), float(f)


def sentiment_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """All metrics of :data:`METRIC_KEYS`.

    Args:
        y_true: float (n,), labels in [-3, 3].
        y_pred: float (n,), predicted scores.

    Returns:
        Metric name -> value. ``acc2_nonzero`` is NaN when every label is 0; ``corr``
        is NaN when either side is constant.
    """
    y_true = np.asarray(y_true, np.float64).reshape(-1)
    y_pred = np.asarray(y_pred, np.float64).reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"labels and predictions differ in length: {y_true.shape} vs {y_pred.shape}"
        )
    if y_true.size == 0:
        raise ValueError("cannot compute metrics on an empty split")
    if not np.all(np.isfinite(y_pred)):
        raise ValueError(
            f"predictions contain {int(np.sum(~np.isfinite(y_pred)))} non-finite values"
        )

    b_true, b_pred = to_binary(y_true), to_binary(y_pred)
    c_true, c_pred = to_class7(y_true), to_class7(y_pred)
    nonzero = y_true != 0
    prec2, rec2, f1_2 = _prf(b_true, b_pred)
    prec7, rec7, f1_7 = _prf(c_true, c_pred)
    if y_true.std() > 0 and y_pred.std() > 0:
        corr = float(np.corrcoef(y_true, y_pred)[0, 1])
    else:
        corr = float("nan")
    return {
        "acc2": float(accuracy_score(b_true, b_pred)),
        "acc2_nonzero": (
            float(accuracy_score(y_true[nonzero] > 0, y_pred[nonzero] > 0))
            if nonzero.any()
            else float("nan")
        ),
        "prec2": prec2,
        "rec2": rec2,
        "f1_2": f1_2,
        "acc7": float(accuracy_score(c_true, c_pred)),
        "prec7": prec7,
        "rec7": rec7,
        "f1_7": f1_7,
        "mae": float(np.mean(np.abs(y_true - y_pred))),
        "corr": corr,
    }
