"""Resume a killed run: Keras ``BackupAndRestore`` per training phase, multi-worker aware.

:class:`PhaseBackup` is one callback given to every phase's ``fit`` (see
``tfs2s.training.fit.train_model(callbacks=...)``). It keeps one backup directory per
phase, named after the phase's model (``T_V_translation_1``, ``T_V_sentiment`` or, when the
regression phase trains the regressor alone, ``T_V_regressor``, ...):

- at the end of every epoch: the phase model's weights and optimizer state
  (``latest.weights.h5``) and ``training_metadata.json`` (the next epoch, the phase's
  history so far, a fingerprint of the run's config);
- at the end of the phase (after early stopping restored the best weights): the final
  weights, marked ``finished``.

On a rerun, a finished phase is not trained again (its weights are restored and ``fit``
runs zero epochs), and an interrupted phase continues from the epoch after its last
backup, with the history of the epochs before it. As with Keras' ``BackupAndRestore``,
what is not in the weights starts afresh on resume: early-stopping patience and best
weights, the data order of the epoch, dropout RNG state.

Multi-worker (the Keras/TF pattern): every worker *reads* the chief's backup, so all
workers resume from the same epoch (the run directory must be on a file system all
workers see, or the same machine); only the chief writes into the run directory, the
other workers write their (identical) backups into their temporary directory.
"""

from __future__ import annotations

import json
import os

import keras

from tfs2s import compat
from tfs2s.errors import InputError, describe

METADATA_FILE = "training_metadata.json"
WEIGHTS_FILE = "latest.weights.h5"


class PhaseBackup(keras.callbacks.BackupAndRestore):
    """Back up and restore each training phase in its own directory.

    Args:
        read_dir: the run's backup directory, read on (re)start; one sub-directory per
            phase. The chief's, on every worker.
        write_dir: where this process writes its backups (``read_dir`` on the chief; a
            temporary directory on the other workers of a multi-worker run).
        fingerprint: identifies the run's config; a backup with another fingerprint is
            refused (resuming it would mix two configs).
        log: called with one line when a phase is restored or skipped.
    """

    def __init__(
        self, read_dir: str, write_dir: str | None = None, *, fingerprint: str = "", log=print
    ):
        super().__init__(read_dir, save_freq="epoch", delete_checkpoint=False)
        self.read_dir = read_dir
        self.write_dir = write_dir or read_dir
        self.fingerprint = fingerprint
        self.log = log
        self._history: dict[str, list] = {}
        self._phase = ""
        #: One entry per phase restored from a backup: ``{"phase", "after_epoch",
        #: "phase_finished"}`` (what a resumed run's ``metrics.json`` records).
        self.restored: list[dict] = []

    # Paths of the current phase -------------------------------------------------------

    def _paths(self, root: str) -> tuple[str, str]:
        phase_dir = os.path.join(root, self._phase)
        return os.path.join(phase_dir, WEIGHTS_FILE), os.path.join(phase_dir, METADATA_FILE)

    def _read_metadata(self) -> dict | None:
        _, meta_path = self._paths(self.read_dir)
        if not os.path.exists(meta_path):
            return None
        try:
            with open(meta_path) as f:
                meta = json.load(f)
            int(meta["epoch"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise InputError(
                f"{meta_path}: cannot read this training backup ({describe(e)}); delete "
                f"{os.path.dirname(meta_path)} to train that phase again"
            ) from None
        if meta.get("fingerprint") != self.fingerprint:
            raise ValueError(
                f"{os.path.dirname(meta_path)} holds a backup of a run with a different "
                "config; delete that directory (or use another run directory) to start over"
            )
        return meta

    # Keras hooks ----------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._phase = self.model.name
        self._history = {}
        self._weights_path, self._training_metadata_path = self._paths(self.read_dir)
        meta = self._read_metadata()
        if meta is None:
            return
        # Restores weights + optimizer state and sets the model's initial epoch.
        try:
            compat.restore_backup(self)
        except Exception as e:
            raise InputError(
                f"{self._weights_path}: cannot restore this training backup ({describe(e)}); "
                f"delete {os.path.dirname(self._weights_path)} to train that phase again"
            ) from None
        self.restored.append(
            {
                "phase": self._phase,
                "after_epoch": int(meta["epoch"]),
                "phase_finished": bool(meta.get("finished")),
            }
        )
        self._history = {k: list(v) for k, v in meta.get("history", {}).items()}
        history = getattr(self.model, "history", None)
        if isinstance(history, keras.callbacks.History):
            # The History of this fit() returns the epochs run before the interruption too.
            history.history.update({k: list(v) for k, v in self._history.items()})
        epochs = self.params.get("epochs", 0)
        if meta.get("finished"):
            compat.set_initial_epoch(self.model, max(epochs, meta["epoch"]))
            self.log(f"tfs2s: phase {self._phase}: finished before the restart, restored")
        else:
            self.log(
                f"tfs2s: phase {self._phase}: resuming from the backup after epoch "
                f"{meta['epoch']} (next epoch {meta['epoch'] + 1}/{epochs})"
            )

    def on_epoch_end(self, epoch, logs=None):
        for key, value in (logs or {}).items():
            self._history.setdefault(key, []).append(float(value))
        self._current_epoch = epoch + 1
        self._write(finished=False)

    def on_train_batch_end(self, batch, logs=None):
        pass

    def on_train_end(self, logs=None):
        # EarlyStopping (earlier in the callback list) has restored the best weights.
        self._write(finished=True)
        compat.set_initial_epoch(self.model, None)

    # Writing --------------------------------------------------------------------------

    def _write(self, finished: bool) -> None:
        weights_path, meta_path = self._paths(self.write_dir)
        os.makedirs(os.path.dirname(weights_path), exist_ok=True)
        if finished:
            epoch = max(len(v) for v in self._history.values()) if self._history else 0
        else:
            epoch = self._current_epoch
        meta = {
            "epoch": epoch,
            "finished": finished,
            "fingerprint": self.fingerprint,
            "history": self._history,
        }
        # Write-then-rename, weights first: a kill leaves the previous backup usable.
        tmp_weights = weights_path[: -len(".weights.h5")] + ".tmp.weights.h5"
        self.model.save_weights(tmp_weights, overwrite=True)
        os.replace(tmp_weights, weights_path)
        with open(meta_path + ".tmp", "w") as f:
            json.dump(meta, f)
        os.replace(meta_path + ".tmp", meta_path)
