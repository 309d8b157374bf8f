import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfs2s.training.backup import METADATA_FILE, PhaseBackup


class Interrupt(keras.callbacks.Callback):
    """Simulates a kill at the start of epoch ``at`` (0-based)."""

    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise KeyboardInterrupt(f"killed at epoch {epoch}")


class Epochs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.seen.append(epoch)


def tiny_model(name="phase"):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs), name=name)
    model.compile(keras.optimizers.Adam(0.01), "mse")
    return model


def data():
    x = np.arange(24, dtype="float32").reshape(8, 3) / 10
    return tf.data.Dataset.from_tensor_slices((x, x.sum(1))).batch(4)


def fit(model, callbacks, epochs=4):
    return model.fit(data(), epochs=epochs, callbacks=callbacks, verbose=0)


def test_interrupted_phase_resumes_after_its_last_epoch_with_its_history(tmp_path):
    lines = []
    backup = PhaseBackup(str(tmp_path), fingerprint="cfg", log=lines.append)
    with pytest.raises(KeyboardInterrupt):
        fit(tiny_model(), [backup, Interrupt(at=2)])
    meta = json.loads((tmp_path / "phase" / METADATA_FILE).read_text())
    assert (meta["epoch"], meta["finished"], len(meta["history"]["loss"])) == (2, False, 2)

    model, epochs = tiny_model(), Epochs()
    history = fit(model, [PhaseBackup(str(tmp_path), fingerprint="cfg", log=lines.append), epochs])
    assert epochs.seen == [2, 3]
    assert history.history["loss"][:2] == meta["history"]["loss"]
    assert len(history.history["loss"]) == 4
    assert "after epoch 2 (next epoch 3/4)" in lines[-1]
    assert model._initial_epoch is None


def test_finished_phase_is_restored_not_retrained(tmp_path):
    trained = tiny_model()
    first = fit(trained, [PhaseBackup(str(tmp_path), fingerprint="cfg", log=print)])
    again, epochs = tiny_model(), Epochs()
    history = fit(again, [PhaseBackup(str(tmp_path), fingerprint="cfg", log=print), epochs])
    assert epochs.seen == []
    assert history.history["loss"] == first.history["loss"]
    for a, b in zip(trained.get_weights(), again.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_phases_are_kept_apart_and_workers_write_elsewhere(tmp_path):
    chief, worker = tmp_path / "chief", tmp_path / "worker"
    fit(tiny_model("one"), [PhaseBackup(str(chief), fingerprint="cfg")])
    fit(tiny_model("two"), [PhaseBackup(str(chief), str(worker), fingerprint="cfg")])
    assert sorted(p.name for p in chief.iterdir()) == ["one"]
    assert sorted(p.name for p in worker.iterdir()) == ["two"]


def test_a_backup_of_another_config_is_refused(tmp_path):
    fit(tiny_model(), [PhaseBackup(str(tmp_path), fingerprint="a")])
    with pytest.raises(ValueError, match="different config"):
        fit(tiny_model(), [PhaseBackup(str(tmp_path), fingerprint="b")])
