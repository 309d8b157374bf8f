import numpy as np
import pytest

from tfs2s.layers.masked_normalization import MaskedNormalization, normalize_features
from tfs2s.testing import run_layer_test

MEAN = np.array([1.0, -2.0, 0.5], np.float32)
VAR = np.array([4.0, 1.0, 0.25], np.float32)
MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], np.float32)


def features(seed=0):
    return np.random.default_rng(seed).normal(size=(2, 4, 3)).astype(np.float32)


def test_standardises_real_steps_and_zeroes_padding():
    x = features()
    out = np.asarray(MaskedNormalization(MEAN, VAR)(x, step_mask=MASK))
    expected = (x - MEAN) / np.sqrt(VAR)
    np.testing.assert_allclose(out[MASK == 1], expected[MASK == 1], rtol=1e-5)
    np.testing.assert_array_equal(out[MASK == 0], 0.0)
    np.testing.assert_allclose(out, np.asarray(normalize_features(x, MEAN, VAR, MASK)))


def test_invert_round_trips_real_steps():
    x = features() * MASK[..., None]
    normed = MaskedNormalization(MEAN, VAR)(x, step_mask=MASK)
    back = np.asarray(MaskedNormalization(MEAN, VAR, invert=True)(normed, step_mask=MASK))
    np.testing.assert_allclose(back, x, rtol=1e-5, atol=1e-6)


def test_config_round_trip_and_fit_step():
    layer = MaskedNormalization(MEAN, VAR, invert=True, name="norm")
    clone = MaskedNormalization.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    x = features(1)
    np.testing.assert_array_equal(
        np.asarray(clone(x, step_mask=MASK)), np.asarray(layer(x, step_mask=MASK))
    )
    run_layer_test(
        layer,
        {"x": x, "mask": MASK},
        lambda layer, d: layer(d["x"], step_mask=d["mask"]),
        expected_output_shape=(2, 4, 3),
    )


def test_refuses_mismatched_sizes():
    with pytest.raises(ValueError, match="variance"):
        MaskedNormalization([0.0, 1.0], [1.0])
    with pytest.raises(ValueError, match="expected 3 features"):
        MaskedNormalization(MEAN, VAR)(
            np.zeros((1, 2, 5), np.float32), step_mask=np.ones((1, 2), np.float32)
        )
