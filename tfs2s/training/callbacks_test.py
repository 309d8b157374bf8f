import keras
import numpy as np
import pytest

from tfs2s.errors import TrainingDiverged
from tfs2s.training.callbacks import StopOnNonFinite


def _model(name: str) -> keras.Model:
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs), name=name)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), loss="mse")
    return model


def test_a_non_finite_loss_stops_naming_the_phase_and_epoch():
    x = np.ones((8, 3), np.float32)
    y = np.full((8, 1), np.nan, np.float32)
    model = _model("T_V_sentiment")
    with pytest.raises(
        TrainingDiverged, match=r"phase T_V_sentiment, epoch 1, batch 1: loss is nan"
    ):
        model.fit(x, y, batch_size=4, epochs=3, callbacks=[StopOnNonFinite()], verbose=0)


def test_finite_losses_train_every_epoch():
    x = np.ones((8, 3), np.float32)
    history = _model("ok").fit(
        x, np.zeros((8, 1), np.float32), epochs=2, callbacks=[StopOnNonFinite()], verbose=0
    )
    assert len(history.history["loss"]) == 2
