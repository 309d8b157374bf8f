import numpy as np

from tfs2s.layers.masking import masked_softmax, shift_right, zero_padded_steps

MASK = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]], np.float32)


def test_masked_softmax_gives_padded_steps_no_weight():
    scores = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    weights = np.asarray(masked_softmax(scores, MASK))
    np.testing.assert_array_equal(weights[MASK == 0], 0.0)
    np.testing.assert_allclose(weights.sum(-1), [1.0, 1.0, 0.0], rtol=1e-6)
    scores[0, 2:] = 1e6  # huge padded scores change nothing
    np.testing.assert_allclose(np.asarray(masked_softmax(scores, MASK))[0], weights[0])


def test_zero_padded_steps_and_shift_right():
    x = np.arange(3 * 4 * 2, dtype=np.float32).reshape(3, 4, 2) + 1
    zeroed = np.asarray(zero_padded_steps(x, MASK))
    np.testing.assert_array_equal(zeroed[MASK == 0], 0.0)
    np.testing.assert_array_equal(zeroed[MASK == 1], x[MASK == 1])
    shifted = np.asarray(shift_right(x))
    np.testing.assert_array_equal(shifted[:, 0], 0.0)
    np.testing.assert_array_equal(shifted[:, 1:], x[:, :-1])
