import numpy as np
import pytest
import tensorflow as tf

from tfs2s.experiments.corruptions import CORRUPTIONS, Corruption, check_corruptions

MEAN = np.array([1.0, -2.0, 0.5], np.float32)
STD = np.array([0.5, 2.0, 1.0], np.float32)


def _batch(seed=0, batch=64, steps=10):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, steps, 3)).astype(np.float32)
    lengths = rng.integers(1, steps + 1, size=batch)
    mask = (np.arange(steps)[None, :] < lengths[:, None]).astype(np.float32)
    x *= mask[..., None]
    return {"audio": tf.constant(x), "mask": tf.constant(mask), "text": tf.constant(x + 1)}


def _apply(kind, level, features, index=0):
    out = Corruption("audio", kind, level, MEAN, STD, seed=3).apply(features, index)
    np.testing.assert_array_equal(out["text"], features["text"])  # other modalities untouched
    return out["audio"].numpy()


def test_level_zero_is_the_identity():
    f = _batch()
    for kind in CORRUPTIONS:
        np.testing.assert_array_equal(_apply(kind, 0.0, f), f["audio"].numpy())


def test_missing_is_the_train_mean_on_real_steps_and_zero_on_padding():
    f = _batch()
    x, real = _apply("missing", 1.0, f), f["mask"].numpy() > 0
    np.testing.assert_array_equal(x[real], np.broadcast_to(MEAN, x[real].shape))
    assert np.all(x[~real] == 0)


def test_gaussian_noise_scales_with_train_std():
    f = _batch(batch=512)
    real = f["mask"].numpy() > 0
    noise = (_apply("gaussian", 2.0, f) - f["audio"].numpy())[real]
    np.testing.assert_allclose(noise.std(axis=0), 2.0 * STD, rtol=0.05)
    assert np.all((_apply("gaussian", 2.0, f) - f["audio"].numpy())[~real] == 0)
    # keyed by (seed, batch index): reproducible, another batch draws other noise
    np.testing.assert_array_equal(_apply("gaussian", 1.0, f), _apply("gaussian", 1.0, f))
    assert not np.array_equal(_apply("gaussian", 1.0, f, 0), _apply("gaussian", 1.0, f, 1))


def test_word_dropout_replaces_whole_steps_with_probability_p():
    f = _batch(batch=512)
    real = f["mask"].numpy() > 0
    x = _apply("dropout", 0.3, f)
    dropped = np.all(x == MEAN, axis=-1) & real
    assert abs(dropped.sum() / real.sum() - 0.3) < 0.03
    kept = real & ~dropped
    np.testing.assert_array_equal(x[kept], f["audio"].numpy()[kept])


def test_unknown_corruption_and_bad_levels():
    with pytest.raises(ValueError, match="unknown corruption 'blur'"):
        check_corruptions(["missing", "blur"])
    with pytest.raises(ValueError, match="unknown corruption"):
        Corruption("audio", "blur", 1.0, MEAN, STD)
    with pytest.raises(ValueError, match="probability"):
        Corruption("audio", "dropout", 1.5, MEAN, STD)
    with pytest.raises(ValueError, match="0 or 1"):
        Corruption("audio", "missing", 0.5, MEAN, STD)


def test_transform_corrupts_every_batch_of_a_dataset():
    f = _batch()
    ds = tf.data.Dataset.from_tensors((f, tf.zeros([64]))).repeat(2)
    c = Corruption("audio", "missing", 1.0, MEAN, STD)
    for features, _ in c.transform(ds):
        real = f["mask"].numpy() > 0
        assert np.all(features["audio"].numpy()[real] == np.broadcast_to(MEAN, (real.sum(), 3)))
