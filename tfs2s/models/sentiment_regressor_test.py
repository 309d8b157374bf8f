import numpy as np

from tfs2s.models.sentiment_regressor import SentimentRegressor
from tfs2s.testing import run_model_test

MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)


def sequence(seed=0):
    x = np.random.default_rng(seed).normal(size=(2, 4, 5)).astype(np.float32)
    return x * MASK[..., None]


def test_output_shape_and_padding_invariance():
    regressor = SentimentRegressor(5, 4, depth=2)
    x = sequence()
    out = np.asarray(regressor({"sequence": x, "mask": MASK})["sentiment"])
    assert out.shape == (2,)
    x[0, 2:] = 7.0
    np.testing.assert_allclose(
        np.asarray(regressor({"sequence": x, "mask": MASK})["sentiment"]), out, atol=1e-6
    )


def test_config_round_trip_and_fit_step():
    run_model_test(
        SentimentRegressor(5, 4, depth=2, dropout=0.2, name="reg"),
        {"sequence": sequence(), "mask": MASK},
        {"sentiment": np.array([1.0, -2.0], np.float32)},
        {"sentiment": "mae"},
    )


def test_attention_output_is_zero_on_padding_and_sums_to_one():
    regressor = SentimentRegressor(5, 4, depth=2)
    out = regressor({"sequence": sequence(), "mask": MASK})
    attention = np.asarray(out["attention"])
    assert attention.shape == (2, 4)
    assert np.all(attention[MASK == 0] == 0.0)
    np.testing.assert_allclose(attention.sum(axis=1), 1.0, atol=1e-6)
