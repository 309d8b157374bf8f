import subprocess
import sys

import keras
import numpy as np
import tensorflow as tf

from tfs2s.models.sentiment_model import SentimentModel
from tfs2s.models.sentiment_regressor import SentimentRegressor
from tfs2s.models.sequence_encoder import SequenceEncoder
from tfs2s.testing import run_model_test

DIMS = {"text": 5, "audio": 4}
MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)
STATS = {n: (np.full(d, 0.5), np.full(d, 2.0)) for n, d in DIMS.items()}


def batch(names=("text", "audio"), seed=0):
    rng = np.random.default_rng(seed)
    out = {n: rng.normal(size=(2, 4, DIMS[n])).astype(np.float32) for n in names}
    out["mask"] = MASK
    return out


def seq2seq_model():
    encoder = SequenceEncoder(9, 4, name="encoder_1")
    return SentimentModel(
        ("text", "audio"),
        STATS,
        SentimentRegressor(8, 4, name="regressor"),
        [encoder],
        name="sentiment",
    )


def test_baseline_reads_normalised_concat_and_ignores_padding():
    model = SentimentModel(("audio",), STATS, SentimentRegressor(4, 4))
    assert set(model.input) == {"audio", "mask"}
    x = batch(("audio",))
    out = np.asarray(model(x)["sentiment"])
    assert out.shape == (2,)
    x["audio"][0, 2:] = 1e4
    np.testing.assert_allclose(np.asarray(model(x)["sentiment"]), out, atol=1e-6)


def test_config_round_trip_copies_weights_and_fits():
    run_model_test(
        seq2seq_model(),
        batch(),
        {"sentiment": np.array([1.0, -1.0], np.float32)},
        {"sentiment": "mae"},
    )


def test_keras_file_round_trip_in_a_fresh_process(tmp_path):
    model = seq2seq_model()
    x = batch()
    expected = np.asarray(model(x)["sentiment"])
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)["sentiment"]), expected, atol=1e-6)
    np.savez(tmp_path / "x.npz", **x)
    script = (
        "import sys, numpy as np, keras, tfs2s.models\n"
        "x = dict(np.load(sys.argv[2]))\n"
        "print(list(keras.saving.load_model(sys.argv[1])(x)['sentiment'].numpy()))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), str(tmp_path / "x.npz")],
        capture_output=True,
        text=True,
        check=True,
    )
    found = np.array(eval(out.stdout.strip().splitlines()[-1]), np.float32)  # noqa: S307
    np.testing.assert_allclose(found, expected, atol=1e-6)


def test_attention_output_for_explanations():
    """``predict(x)["attention"]`` -> (batch, steps): 0 on padding, 1 over the real steps;
    a loss on ``sentiment`` alone trains the model, and the weights round-trip."""
    model = seq2seq_model()
    x = batch()
    out = model.predict(x, verbose=0)
    assert set(out) == {"sentiment", "attention"}
    assert out["attention"].shape == (2, 4) and out["attention"].dtype == np.float32
    assert np.all(out["attention"][MASK == 0] == 0.0)
    np.testing.assert_allclose(out["attention"].sum(axis=1), 1.0, atol=1e-6)
    data = tf.data.Dataset.from_tensor_slices(
        (x, {"sentiment": np.array([1.0, -1.0], np.float32)})
    ).batch(2)
    # Eager: tracing the step would take longer than the step itself.
    model.compile(optimizer="adam", loss={"sentiment": "mae"}, run_eagerly=True)
    before = [w.copy() for w in model.get_weights()]
    history = model.fit(data, epochs=1, verbose=0, shuffle=False)
    assert list(history.history) == ["loss"]
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    clone = SentimentModel.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(
        np.asarray(clone(x)["attention"]), np.asarray(model(x)["attention"]), atol=1e-6
    )
