"""Model selection on a valid sentiment metric (``train.select_metric``).

Keras' early stopping reads the epoch logs, which hold the valid loss. To select on the
valid MAE or binary F1 instead, :class:`ValidSentimentMetric` predicts the valid split
once per epoch with the servable sentiment view (it shares the phase's weights) and adds
``val_<metric>`` to the logs before :func:`early_stopping` reads them.
"""

from __future__ import annotations

import keras
import numpy as np

from tfs2s.config import METRIC_DIRECTIONS
from tfs2s.training.metrics import sentiment_metrics
from tfs2s.training.predict import predict


class ValidSentimentMetric(keras.callbacks.Callback):
    """Adds ``val_<metric>`` (of :func:`sentiment_metrics`) to every epoch's logs.

    Args:
        metric: ``mae`` or ``f1_2``.
        predictor: the sentiment model ``{modalities..., mask} -> {"sentiment"}``.
        dataset: the valid split's ``(features, label)`` batches, in data order.
        labels: float (n,) the valid split's labels, in the same order.
    """

    def __init__(self, metric: str, predictor: keras.Model, dataset, labels: np.ndarray):
        super().__init__()
        self.metric = metric
        self.predictor = predictor
        self.dataset = dataset
        self.labels = np.asarray(labels, np.float64).reshape(-1)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        out = predict(self.predictor, self.dataset)
        pred = np.asarray(out["sentiment"], np.float64).reshape(-1)
        logs[f"val_{self.metric}"] = float(sentiment_metrics(self.labels, pred)[self.metric])


def early_stopping(metric: str, patience: int) -> keras.callbacks.EarlyStopping:
    """Stop after ``patience`` epochs without a better valid ``metric``; restore the best
    epoch's weights at the end of the phase (``metric`` ``loss`` reads ``val_loss``)."""
    return keras.callbacks.EarlyStopping(
        monitor=f"val_{metric}",
        mode=METRIC_DIRECTIONS[metric],
        patience=patience,
        restore_best_weights=True,
    )
