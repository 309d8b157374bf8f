import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfs2s import modalities as M
from tfs2s.data import cache
from tfs2s.data.cache import CachedSource, is_cache, prepare, read_meta
from tfs2s.data.pipeline import DataSource, InMemorySource
from tfs2s.data.synthetic import make_synthetic

DIMS = {"text": 6, "audio": 4, "video": 3}
NAMES = list(DIMS)


@pytest.fixture(scope="module")
def tiny():
    # 40 segments -> train 23 / valid 4 / test 13.
    return make_synthetic(seed=0, segments=40, max_seq_len=5, dims=DIMS)


@pytest.fixture(scope="module")
def cached(tiny, tmp_path_factory):
    path = tmp_path_factory.mktemp("c") / "cache"
    prepare(tiny, path, shard_size=5)
    return path


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append({k: v.numpy() for k, v in x.items()})
        ys.append(y.numpy())
    return {k: np.concatenate([x[k] for x in xs]) for k in xs[0]}, np.concatenate(ys)


def _rows(x, y):
    """One bytes key per example, to compare epochs as multisets."""
    flat = np.concatenate([x[k].reshape(len(y), -1) for k in sorted(x)] + [y[:, None]], axis=1)
    return sorted(r.tobytes() for r in flat)


def test_layout_and_meta(cached, tiny):
    assert is_cache(cached)
    files = sorted(p.name for p in cached.iterdir())
    assert "train-00000-of-00005.tfrecord" in files and "test-00002-of-00003.tfrecord" in files
    assert "valid-00000-of-00001.tfrecord" in files and "meta.json" in files
    meta = json.loads((cached / "meta.json").read_text())
    assert meta["format"] == cache.FORMAT and meta["version"] == cache.VERSION
    assert meta["dims"] == DIMS and meta["max_seq_len"] == 5 and meta["source"] == tiny.source
    assert meta["counts"] == {
        "train": 23,
        "valid": 4,
        "test": 13,
    }
    assert meta["report"]["notes"] == tiny.report.notes
    assert not list(cached.parent.glob(".cache.*"))  # no temp dir left behind


def test_unshuffled_stream_equals_in_memory_data_in_order(cached, tiny):
    src = CachedSource(cached)
    assert isinstance(src, DataSource)
    for split in ("train", "valid", "test"):
        x, y = _collect(src.dataset(split, NAMES, 4))
        ref = tiny.splits[split]
        np.testing.assert_array_equal(y, ref.labels)
        np.testing.assert_array_equal(x[M.MASK], ref.mask())
        for name in NAMES:
            np.testing.assert_array_equal(x[name], ref.features[name])
        np.testing.assert_array_equal(src.labels(split), ref.labels)
        assert src.num_examples(split) == len(ref)


def test_an_unrepeated_stream_states_its_batch_count(cached, tiny, tmp_path):
    # Unknown, Keras read until the data ran out and warned "Your input ran out of data"
    # on every epoch and evaluation of a run trained from a cache.
    src = CachedSource(cached)
    n = len(tiny.splits["train"])
    for batch, drop in ((4, False), (4, True), (n + 1, False)):
        ds = src.dataset("train", NAMES, batch, drop_remainder=drop)
        expected = n // batch if drop else -(-n // batch)
        assert int(ds.cardinality()) == expected == sum(1 for _ in ds)
    # a meta.json that claims more segments than its shards hold fails when read
    lying = tmp_path / "lying"
    _copy(cached, lying)
    meta = json.loads((lying / "meta.json").read_text())
    meta["counts"]["train"] += 9
    (lying / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(
        tf.errors.OpError, match="expected to contain 8 elements but contained only 6"
    ):
        _collect(CachedSource(lying).dataset("train", NAMES, 4))


def test_shuffled_stream_has_same_examples_new_order_each_epoch(cached, tiny):
    src = CachedSource(cached, shuffle_buffer=8)
    ds = src.dataset("train", ["text", "audio"], 4, shuffle=True, seed=3)
    x1, y1 = _collect(ds)
    x2, y2 = _collect(ds)
    ref = InMemorySource(tiny)
    xr, yr = _collect(ref.dataset("train", ["text", "audio"], 4))
    assert set(x1) == {"text", "audio", M.MASK}
    assert _rows(x1, y1) == _rows(xr, yr) == _rows(x2, y2)
    assert not np.array_equal(y1, y2)
    assert not np.array_equal(y1, yr)
    # Same seed, fresh pipeline: the same sequence of epochs.
    again = src.dataset("train", ["text", "audio"], 4, shuffle=True, seed=3)
    np.testing.assert_array_equal(_collect(again)[1], y1)
    np.testing.assert_array_equal(_collect(again)[1], y2)


def test_repeated_shuffle_order_depends_only_on_seed_and_epoch(cached, tiny):
    src = CachedSource(cached, shuffle_buffer=8)

    def epochs(ds, k):
        # train has 23 segments: batches of 4 -> 6 per epoch, the last one short
        it = iter(ds)
        return [np.concatenate([next(it)[1].numpy() for _ in range(6)]) for _ in range(k)]

    ds = src.dataset("train", ["text"], 4, shuffle=True, seed=3, repeat=True)
    first = epochs(ds, 3)
    # an abandoned iterator (as Keras makes under multi-replica strategies) changes nothing
    next(iter(ds))
    again = epochs(ds, 3)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    labels = np.sort(tiny.splits["train"].labels)
    for epoch in first:
        np.testing.assert_array_equal(np.sort(epoch), labels)
    assert not np.array_equal(first[0], first[1])
    other = epochs(src.dataset("train", ["text"], 4, shuffle=True, seed=4, repeat=True), 1)
    assert not np.array_equal(first[0], other[0])


def test_batching_options(cached):
    src = CachedSource(cached)
    batches = list(src.dataset("train", ["video"], 10, drop_remainder=True))
    assert len(batches) == 2 and batches[0][0]["video"].shape == (10, 5, 3)
    x, y = next(iter(src.dataset("test", ["video"], 13, repeat=True).skip(3)))
    assert y.shape == (13,) and x[M.MASK].shape == (13, 5)


def test_norm_stats_equal_in_memory(cached, tiny):
    stats, ref = CachedSource(cached).norm_stats(), InMemorySource(tiny).norm_stats()
    assert set(stats) == set(ref)
    for name in ref:
        np.testing.assert_array_equal(stats[name][0], ref[name][0])
        np.testing.assert_array_equal(stats[name][1], ref[name][1])
        assert stats[name][0].dtype == np.float32


def test_refuses_to_overwrite_unless_asked(cached, tiny, tmp_path):
    before = (cached / "meta.json").read_text()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        prepare(tiny, cached)
    assert (cached / "meta.json").read_text() == before
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.txt").write_text("precious")
    with pytest.raises(FileExistsError, match="not a tfs2s cache"):
        prepare(tiny, other, overwrite=True)
    assert (other / "thesis.txt").read_text() == "precious"


def test_overwrite_replaces_a_cache_and_empty_dir_is_fine(tiny, tmp_path):
    target = tmp_path / "empty"
    target.mkdir()
    prepare(tiny, target, shard_size=100)
    prepare(tiny, target, shard_size=10, overwrite=True)
    assert CachedSource(target).meta["shard_size"] == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_overwrite_never_deletes_files_that_are_not_the_caches(tiny, tmp_path):
    target = tmp_path / "cache"
    prepare(tiny, target, shard_size=100)
    (target / "notes.md").write_text("my notes")
    before = sorted(p.name for p in target.iterdir())
    with pytest.raises(
        FileExistsError, match=r"1 file\(s\) that are not part of its cache \(notes.md\)"
    ):
        prepare(tiny, target, shard_size=10, overwrite=True)
    assert sorted(p.name for p in target.iterdir()) == before
    assert (target / "notes.md").read_text() == "my notes"
    (target / "notes.md").unlink()
    prepare(tiny, target, shard_size=10, overwrite=True)  # the cache alone: replaced
    assert CachedSource(target).meta["shard_size"] == 10


def test_failure_mid_write_leaves_nothing(tiny, tmp_path, monkeypatch):
    calls = []

    def failing_example(*args):
        calls.append(1)
        if len(calls) > 7:
            raise OSError("disk full")
        return original(*args)

    original = cache._example
    monkeypatch.setattr(cache, "_example", failing_example)
    with pytest.raises(OSError, match="disk full"):
        prepare(tiny, tmp_path / "out", shard_size=3)
    assert list(tmp_path.iterdir()) == []


def test_failure_while_overwriting_keeps_the_old_cache(cached, tiny, monkeypatch):
    before = sorted(p.name for p in cached.iterdir())

    def failing_example(*args):
        raise OSError("boom")

    monkeypatch.setattr(cache, "_example", failing_example)
    with pytest.raises(OSError, match="boom"):
        prepare(tiny, cached, overwrite=True)
    assert sorted(p.name for p in cached.iterdir()) == before
    assert sorted(p.name for p in cached.parent.iterdir()) == ["cache"]


def _copy(src, dst):
    dst.mkdir()
    for p in src.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_bad_meta_errors_name_the_file(cached, tmp_path):
    with pytest.raises(FileNotFoundError, match="meta.json not found"):
        CachedSource(tmp_path)
    assert not is_cache(tmp_path)

    bad = _copy(cached, tmp_path / "bad")
    meta_file = bad / "meta.json"
    meta = json.loads(meta_file.read_text())

    meta_file.write_text("{not json")
    with pytest.raises(ValueError, match=f"{meta_file}: not valid JSON"):
        read_meta(bad)
    assert not is_cache(bad)

    meta_file.write_text(json.dumps({**meta, "version": 99}))
    with pytest.raises(ValueError, match="version 99.*reads version 1"):
        CachedSource(bad)

    meta_file.write_text(json.dumps({**meta, "format": "other"}))
    with pytest.raises(ValueError, match="expected format"):
        CachedSource(bad)

    meta_file.write_text(json.dumps({k: v for k, v in meta.items() if k != "norm_stats"}))
    with pytest.raises(ValueError, match=r"meta.json: missing keys \['norm_stats'\]"):
        CachedSource(bad)

    meta_file.write_text(json.dumps({**meta, "counts": {"train": 23, "valid": 4}}))
    with pytest.raises(ValueError, match="counts must map each of"):
        CachedSource(bad)

    name = next(iter(meta["dims"]))
    dim = meta["dims"][name]
    for change, message in [
        ({"max_seq_len": 0}, "max_seq_len must be a positive integer, found 0"),
        ({"dims": {**meta["dims"], "smell": 3}}, r"dims names unknown modalities \['smell'\]"),
        ({"dims": {**meta["dims"], name: "7"}}, f"dims.{name} must be a positive integer"),
        (
            {"norm_stats": {**meta["norm_stats"], name: {"mean": [0.0], "var": [1.0]}}},
            f"norm_stats.{name}.mean: expected {dim} values \\(dims.{name}\\), found 1 values",
        ),
        (
            {
                "norm_stats": {
                    **meta["norm_stats"],
                    name: {"mean": [0.0] * dim, "var": [-1.0] * dim},
                }
            },
            f"norm_stats.{name}.var: expected finite numbers >= 0",
        ),
        # meta.json and its shards disagree: named at open, not in training
        (
            {
                "dims": {**meta["dims"], name: dim + 1},
                "norm_stats": {
                    **meta["norm_stats"],
                    name: {"mean": [0.0] * (dim + 1), "var": [1.0] * (dim + 1)},
                },
            },
            f"first record: expected .* x {dim + 1} float32 of {name}",
        ),
        ({"max_seq_len": 1}, r"first record: expected a length in \[0, 1\]"),
    ]:
        meta_file.write_text(json.dumps({**meta, **change}))
        with pytest.raises(ValueError, match=message):
            CachedSource(bad)

    meta_file.write_text(json.dumps(meta))
    (bad / "valid-00000-of-00001.tfrecord").unlink()
    with pytest.raises(FileNotFoundError, match="valid-00000-of-00001.tfrecord, which is missing"):
        CachedSource(bad)


def test_gzip_cache_round_trip_and_usual_permissions(tiny, tmp_path):
    umask = os.umask(0)  # read the umask (only settable), then put it back
    os.umask(umask)
    meta = prepare(tiny, tmp_path / "gz", compression="GZIP")
    assert meta["compression"] == "GZIP"
    assert (tmp_path / "gz").stat().st_mode & 0o777 == 0o777 & ~umask
    x, y = _collect(CachedSource(tmp_path / "gz").dataset("valid", ["audio"], 3))
    np.testing.assert_array_equal(x["audio"], tiny.splits["valid"].features["audio"])
    np.testing.assert_array_equal(y, tiny.splits["valid"].labels)
    with pytest.raises(ValueError, match="compression must be one of"):
        prepare(tiny, tmp_path / "zz", compression="ZLIB")


def test_missing_modality_and_empty_split(tmp_path):
    data = make_synthetic(segments=12, max_seq_len=4, dims={"text": 3})
    data.splits["valid"] = data.splits["valid"].take(np.arange(0))
    prepare(data, tmp_path / "c")
    src = CachedSource(tmp_path / "c")
    assert src.modalities == ("text",) and src.nonempty_splits() == ["train", "test"]
    assert src.num_examples("valid") == 0
    with pytest.raises(ValueError, match="missing: \\['audio'\\]"):
        src.dataset("train", ["audio"], 2)
    with pytest.raises(ValueError, match="'valid' .* is empty"):
        src.dataset("valid", ["text"], 2)


def test_streams_many_shards_with_a_bounded_shuffle_buffer(tmp_path):
    """Small-scale stand-in for benchmarks/bench_cache.py: every example once per epoch."""
    data = make_synthetic(seed=2, segments=600, max_seq_len=8, dims=DIMS)
    prepare(data, tmp_path / "c", shard_size=32)
    src = CachedSource(tmp_path / "c", shuffle_buffer=16, cycle_length=3)
    assert len(src.meta["splits"]["train"]["shards"]) == 11
    ds = src.dataset("train", NAMES, 32, shuffle=True, seed=0)
    # The pipeline holds at most `shuffle_buffer` records: no op captures split-sized data.
    graph = ds._as_serialized_graph().numpy()
    assert len(graph) < 100_000
    x, y = _collect(ds)
    ref = data.splits["train"]
    assert y.shape == (len(ref),)
    assert _rows(x, y) == _rows(
        {**{n: ref.features[n] for n in NAMES}, M.MASK: ref.mask()}, ref.labels
    )


def _epoch_orders(sources):
    import tensorflow as tf

    # Seeded shuffles combine their seed with the global seed: fix it (earlier tests in
    # this process may have set another).
    tf.random.set_seed(0)
    lines = []
    for src in sources:
        ds = src.dataset("train", ["text"], 4, shuffle=True, seed=11)
        for _ in range(2):
            lines.append(str([round(float(v), 1) for _, y in ds for v in y.numpy()]))
    return lines


def test_shuffle_order_is_reproducible_across_processes_under_op_determinism(cached):
    """A fresh process with op determinism on sees the same epoch orders as this one."""
    script = textwrap.dedent(
        f"""
        import tensorflow as tf
        tf.config.experimental.enable_op_determinism()
        from tfs2s.data.cache import CachedSource
        from tfs2s.data.cache_test import _epoch_orders
        from tfs2s.data.pipeline import InMemorySource
        from tfs2s.data.synthetic import make_synthetic
        mem = InMemorySource(make_synthetic(segments=40, max_seq_len=5, dims={{"text": 6}}))
        print("\\n".join(_epoch_orders([CachedSource({str(cached)!r}), mem])))
        """
    )
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": f"{repo}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env
    )
    assert run.returncode == 0, run.stderr[-3000:]
    mem = InMemorySource(make_synthetic(segments=40, max_seq_len=5, dims={"text": 6}))
    here = _epoch_orders([CachedSource(cached), mem])
    assert run.stdout.splitlines() == here
    assert here[0] != here[1] and here[2] != here[3]


def test_a_run_cannot_claim_another_truncation_than_the_cache_was_cut_with(tiny, cached, tmp_path):
    from tfs2s.config import DataConfig
    from tfs2s.data.sources import load_source

    prepare(tiny, tmp_path / "head", shard_size=50, truncate="head")
    assert CachedSource(tmp_path / "head").truncate == "head"
    ok = load_source(DataConfig(path=str(tmp_path / "head"), max_seq_len=5, truncate="head"))
    assert ok.truncate == "head"
    # params.yaml once said tail for data cut at the head
    with pytest.raises(ValueError, match="prepared with truncate=head .* data.truncate=tail"):
        load_source(DataConfig(path=str(tmp_path / "head"), max_seq_len=5, truncate="tail"))
    # a cache from before the key was recorded takes either
    assert CachedSource(cached).truncate is None
    load_source(DataConfig(path=str(cached), max_seq_len=5, truncate="tail"))
