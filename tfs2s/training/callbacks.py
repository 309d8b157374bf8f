"""Keras callbacks that :func:`tfs2s.training.run.run` adds to every training phase."""

from __future__ import annotations

import math
import time

import keras

from tfs2s.errors import TrainingDiverged


class StopOnNonFinite(keras.callbacks.Callback):
    """Stop training at the first non-finite loss, naming the phase and epoch.

    Unlike ``keras.callbacks.TerminateOnNaN`` (which ends ``fit`` as if it had finished),
    this raises :class:`~tfs2s.errors.TrainingDiverged`, so the caller writes no model.
    Listed before the backup callback, so no diverged epoch is backed up either. With a
    whole epoch per compiled call, the loss is seen once per epoch.
    """

    def __init__(self):
        super().__init__()
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self._check(logs, f"epoch {self._epoch + 1}, batch {batch + 1}")

    def on_epoch_end(self, epoch, logs=None):
        self._check(logs, f"epoch {epoch + 1}")

    def _check(self, logs, where: str) -> None:
        for key in ("loss", "val_loss"):
            value = (logs or {}).get(key)
            if value is None:
                continue
            value = float(value)
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"training diverged in phase {self.model.name}, {where}: {key} is "
                    f"{value}; no model was written (try a lower train.learning_rate)"
                )


class EpochClock(keras.callbacks.Callback):
    """Wall seconds of every epoch of one ``fit``, validation included.

    Attributes:
        seconds: one float per finished epoch of the last ``fit``.
    """

    def __init__(self):
        super().__init__()
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_begin(self, logs=None):
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._start)
