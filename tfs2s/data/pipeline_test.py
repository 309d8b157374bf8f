import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfs2s import modalities as M
from tfs2s.data.dataset import feature_stats
from tfs2s.data.pipeline import DataSource, InMemorySource, split_dataset
from tfs2s.data.synthetic import make_synthetic

DIMS = {"text": 6, "audio": 4, "video": 3}


@pytest.fixture(scope="module")
def tiny():
    # 40 segments -> train 23 / valid 4 / test 13.
    return make_synthetic(seed=0, segments=40, max_seq_len=5, dims=DIMS)


def _epoch_labels(ds):
    return np.concatenate([y.numpy() for _, y in ds])


def test_batches_have_requested_modalities_mask_and_labels(tiny):
    split = tiny.splits["train"]
    ds = split_dataset(split, ["text", "video"], batch_size=4)
    batches = list(ds)
    assert len(batches) == 6  # ceil(23 / 4)
    x, y = batches[0]
    assert set(x) == {"text", "video", M.MASK}
    assert x["text"].shape == (4, 5, 6) and x["video"].shape == (4, 5, 3)
    assert x[M.MASK].shape == (4, 5) and y.shape == (4,)
    assert x["text"].dtype == tf.float32 and x[M.MASK].dtype == tf.float32
    assert y.dtype == tf.float32
    mask = np.concatenate([b[0][M.MASK].numpy() for b in batches])
    np.testing.assert_array_equal(mask.sum(axis=1), split.lengths)
    np.testing.assert_array_equal(mask, split.mask())
    text = np.concatenate([b[0]["text"].numpy() for b in batches])
    np.testing.assert_array_equal(text, split.features["text"])
    np.testing.assert_array_equal(_epoch_labels(ds), split.labels)


def test_global_batch_count_and_drop_remainder(tiny):
    split = tiny.splits["train"]
    assert len(list(split_dataset(split, ["text"], 8))) == 3
    kept = list(split_dataset(split, ["text"], 8, drop_remainder=True))
    assert len(kept) == 2 and all(y.shape == (8,) for _, y in kept)
    ds = split_dataset(split, ["text"], 8, drop_remainder=True)
    assert ds.element_spec[1].shape == (8,)


def test_shuffle_is_seeded_and_differs_between_epochs(tiny):
    split = tiny.splits["train"]
    first = split_dataset(split, ["audio"], 5, shuffle=True, seed=7)
    again = split_dataset(split, ["audio"], 5, shuffle=True, seed=7)
    other = split_dataset(split, ["audio"], 5, shuffle=True, seed=8)
    e1, e2 = _epoch_labels(first), _epoch_labels(first)
    np.testing.assert_array_equal(e1, _epoch_labels(again))
    np.testing.assert_array_equal(e2, _epoch_labels(again))
    assert not np.array_equal(e1, e2)
    assert not np.array_equal(e1, _epoch_labels(other))
    np.testing.assert_array_equal(np.sort(e1), np.sort(split.labels))


def test_repeat_yields_reshuffled_full_epochs(tiny):
    split = tiny.splits["train"]
    ds = split_dataset(split, ["text"], 23, shuffle=True, seed=1, repeat=True)
    a, b = (y.numpy() for _, y in ds.take(2))
    np.testing.assert_array_equal(np.sort(a), np.sort(split.labels))
    np.testing.assert_array_equal(np.sort(b), np.sort(split.labels))
    assert not np.array_equal(a, b)


def test_bad_requests_name_the_problem(tiny):
    split = tiny.splits["train"]
    with pytest.raises(ValueError, match="batch_size"):
        split_dataset(split, ["text"], 0)
    with pytest.raises(ValueError, match="not in the split"):
        split_dataset(split, ["speech"], 4)
    with pytest.raises(ValueError, match="always provided"):
        split_dataset(split, ["text", M.MASK], 4)


def test_in_memory_source_implements_the_protocol(tiny):
    src = InMemorySource(tiny)
    assert isinstance(src, DataSource)
    assert src.modalities == ("text", "audio", "video") and src.dims == DIMS
    assert src.nonempty_splits() == ["train", "valid", "test"]
    assert [src.num_examples(s) for s in ("train", "valid", "test")] == [23, 4, 13]
    np.testing.assert_array_equal(src.labels("test"), tiny.splits["test"].labels)
    stats = src.norm_stats()
    assert stats is src.norm_stats()  # computed once
    for name, (mean, var) in feature_stats(tiny.splits["train"]).items():
        np.testing.assert_array_equal(stats[name][0], mean)
        np.testing.assert_array_equal(stats[name][1], var)
    x, y = next(iter(src.dataset("valid", ["audio"], 2)))
    assert set(x) == {"audio", M.MASK} and y.shape == (2,)
    with pytest.raises(ValueError, match="unknown split"):
        src.num_examples("dev")


def test_in_memory_source_errors_on_missing_modality_and_empty_split():
    data = make_synthetic(segments=12, max_seq_len=4, dims={"text": 3})
    data.splits["valid"] = data.splits["valid"].take(np.arange(0))
    src = InMemorySource(data)
    assert src.nonempty_splits() == ["train", "test"] and src.num_examples("valid") == 0
    with pytest.raises(ValueError, match="missing: \\['audio'\\]"):
        src.dataset("train", ["text", "audio"], 2)
    with pytest.raises(ValueError, match="'valid' .* is empty"):
        src.dataset("valid", ["text"], 2)


def test_keras_fit_distributes_the_dataset_over_two_replicas():
    """Under MirroredStrategy (2 logical CPUs), Keras splits each global batch of 6."""
    script = textwrap.dedent(
        """
        import numpy as np, tensorflow as tf, keras
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        tf.config.experimental.enable_op_determinism()
        from tfs2s.data.pipeline import InMemorySource
        from tfs2s.data.synthetic import make_synthetic
        src = InMemorySource(make_synthetic(segments=40, max_seq_len=5, dims={"text": 6}))
        strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
        ds = src.dataset("train", ["text"], 6, shuffle=True, seed=0)
        per_replica = next(iter(strategy.experimental_distribute_dataset(ds)))[1]
        print("replica batches", [int(t.shape[0]) for t in per_replica.values])
        with strategy.scope():
            text = keras.Input((5, 6), name="text")
            mask = keras.Input((5,), name="mask")
            pooled = keras.layers.GlobalAveragePooling1D()(text, mask=mask > 0)
            model = keras.Model({"text": text, "mask": mask}, keras.layers.Dense(1)(pooled))
            model.compile("adam", "mse")
        history = model.fit(ds, epochs=1, verbose=0)
        print("loss", history.history["loss"][0])
        """
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "replica batches [3, 3]" in out.stdout
    assert "loss" in out.stdout


def test_repeated_shuffle_order_depends_only_on_seed_and_epoch():
    from tfs2s.data.dataset import Split

    n = 10
    split = Split(
        features={"text": np.arange(n * 2 * 1, dtype=np.float32).reshape(n, 2, 1)},
        lengths=np.full((n,), 2, np.int32),
        labels=np.arange(n, dtype=np.float32),
        segment_ids=np.array([f"v_{i}" for i in range(n)]),
        video_ids=np.array(["v"] * n),
    )

    def epochs(ds, k):
        it = iter(ds)
        return [np.concatenate([next(it)[1].numpy() for _ in range(2)]) for _ in range(k)]

    ds = split_dataset(split, ["text"], 5, shuffle=True, seed=3, repeat=True)
    first = epochs(ds, 3)
    # an abandoned iterator (as Keras makes under multi-replica strategies) changes nothing
    next(iter(ds))
    again = epochs(ds, 3)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert sorted(first[0].tolist()) == list(range(n))
    assert not np.array_equal(first[0], first[1])
    other = epochs(split_dataset(split, ["text"], 5, shuffle=True, seed=4, repeat=True), 1)
    assert not np.array_equal(first[0], other[0])
