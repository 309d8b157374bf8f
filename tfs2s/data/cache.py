"""A prepared, word-aligned cache that training streams instead of re-reading raw files.

Layout of a cache directory::

    meta.json                          format marker/version, source, dims, max_seq_len,
                                       per-split counts, shard names and summaries
                                       (tfs2s.data.inspect), train normalisation stats,
                                       the DataReport
    train-00000-of-00004.tfrecord      tf.train.Example records, one per segment
    ...
    valid-00000-of-00001.tfrecord
    test-00000-of-00001.tfrecord

Each record holds ``segment_id``, ``video_id`` (bytes), ``length`` (int64), ``label``
(float) and, per modality, the segment's real words ``(length, dim)`` as raw
little-endian float32 bytes; padding is added when parsing. Storing words only keeps
a CMU-MOSI cache ~45% smaller than padded arrays. GZIP is optional and off by default:
float features barely compress (~5%), while writing gets ~8x and reading ~2x slower.

:func:`prepare` writes into a temporary directory beside the target and renames it
into place, so a failure leaves nothing half-written. :class:`CachedSource` streams
the shards (never loading a whole split) and implements
:class:`tfs2s.data.pipeline.DataSource`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf

from tfs2s import modalities as M
from tfs2s.data.dataset import SPLITS, MosiData, Split, feature_health, feature_stats
from tfs2s.data.inspect import split_summary
from tfs2s.data.pipeline import PARALLEL_CALLS, check_batching, check_split, finish_pipeline

FORMAT = "tfs2s-aligned-cache"
VERSION = 1
META = "meta.json"
COMPRESSIONS: tuple[str, ...] = ("", "GZIP")
#: Keys every meta.json must have.
META_KEYS: tuple[str, ...] = (
    "format",
    "version",
    "source",
    "dims",
    "max_seq_len",
    "compression",
    "counts",
    "splits",
    "norm_stats",
    "report",
)
_SPLIT_KEYS: tuple[str, ...] = ("shards", "summary")


def shard_name(split: str, index: int, total: int) -> str:
    """``train-00000-of-00004.tfrecord``."""
    return f"{split}-{index:05d}-of-{total:05d}.tfrecord"


def _example(data_split: Split, i: int, names: Sequence[str]) -> bytes:
    """One serialized ``tf.train.Example``: ids, length, label, real words per modality."""
    feats = {
        "segment_id": _bytes(str(data_split.segment_ids[i]).encode()),
        "video_id": _bytes(str(data_split.video_ids[i]).encode()),
        "length": tf.train.Feature(
            int64_list=tf.train.Int64List(value=[int(data_split.lengths[i])])
        ),
        M.LABEL: tf.train.Feature(
            float_list=tf.train.FloatList(value=[float(data_split.labels[i])])
        ),
    }
    words = int(data_split.lengths[i])
    for name in names:
        real = data_split.features[name][i, :words]
        feats[name] = _bytes(np.ascontiguousarray(real, "<f4").tobytes())
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _write_split(
    data_split: Split,
    split: str,
    out: Path,
    names: Sequence[str],
    shard_size: int,
    compression: str,
) -> list[str]:
    """Write one split's shards into ``out``; return the shard file names."""
    n = len(data_split)
    total = math.ceil(n / shard_size)
    options = tf.io.TFRecordOptions(compression_type=compression)
    shards = []
    for s in range(total):
        name = shard_name(split, s, total)
        with tf.io.TFRecordWriter(str(out / name), options) as writer:
            for i in range(s * shard_size, min(n, (s + 1) * shard_size)):
                writer.write(_example(data_split, i, names))
        shards.append(name)
    return shards


def is_cache(path: str | os.PathLike) -> bool:
    """True if ``path`` is a directory holding a ``meta.json`` with the cache format marker."""
    meta = Path(path) / META
    if not meta.is_file():
        return False
    try:
        loaded = json.loads(meta.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(loaded, dict) and loaded.get("format") == FORMAT


def prepare(
    data: MosiData,
    out_dir: str | os.PathLike,
    shard_size: int = 2048,
    overwrite: bool = False,
    compression: str = "",
    truncate: str | None = None,
) -> dict[str, Any]:
    """Write ``data`` as a cache that :class:`CachedSource` streams.

    Args:
        data: word-aligned data (all splits are written; empty splits get no shard).
        out_dir: target directory; it must not exist, be empty, or (with ``overwrite``)
            be an existing cache. A non-empty directory that is not a cache is never
            replaced.
        shard_size: segments per TFRecord shard.
        overwrite: replace an existing cache.
        compression: ``""`` (none) or ``"GZIP"``.
        truncate: how ``data`` was cut to ``max_seq_len`` (``head``/``tail``), recorded
            so that a run on the cache cannot claim the other (None: not recorded).

    Returns:
        The written ``meta.json`` content.

    Raises:
        FileExistsError: ``out_dir`` is non-empty and may not be replaced.
        ValueError: bad ``shard_size``/``compression``, or a train split without words
            (no normalisation statistics).
    """
    if isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1:
        raise ValueError(f"shard_size must be a positive integer, found {shard_size!r}")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {list(COMPRESSIONS)}, found {compression!r}")
    out = Path(out_dir)
    _check_target(out, overwrite)
    # Computed once here so that training on the cache never scans the train split.
    stats = feature_stats(data.split("train"))
    names = list(data.modalities)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = _sibling(out, "tmp")
    try:
        splits = {}
        for s in SPLITS:
            part = data.splits.get(s)
            shards = (
                [] if part is None else _write_split(part, s, tmp, names, shard_size, compression)
            )
            splits[s] = {
                "shards": shards,
                # Optional (older caches lack it): a truncated shard is refused on open.
                "shard_bytes": [(tmp / name).stat().st_size for name in shards],
                "summary": split_summary(part, data.max_seq_len),
            }
        meta = {
            "format": FORMAT,
            "version": VERSION,
            "source": data.source,
            "dims": {n: int(data.dims[n]) for n in names},
            "max_seq_len": int(data.max_seq_len),
            # Optional (older caches lack it): see CachedSource.truncate.
            **({} if truncate is None else {"truncate": truncate}),
            "compression": compression,
            "shard_size": shard_size,
            "counts": {s: 0 if data.splits.get(s) is None else len(data.splits[s]) for s in SPLITS},
            "splits": splits,
            "norm_stats": {
                n: {"mean": m.astype(float).tolist(), "var": v.astype(float).tolist()}
                for n, (m, v) in stats.items()
            },
            "report": dataclasses.asdict(data.report),
            # Optional (older caches lack it): what `tfs2s data inspect` reports.
            "train_features": feature_health(data.split("train")),
        }
        # meta.json last: a directory without it is never mistaken for a cache.
        (tmp / META).write_text(json.dumps(meta, indent=1))
        _move_into_place(tmp, out, overwrite)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def _sibling(out: Path, kind: str) -> Path:
    """A new hidden directory beside ``out`` (same file system, so renames are atomic).

    Made with ``mkdir`` rather than ``tempfile.mkdtemp`` so that the finished cache gets
    the usual umask permissions, not mkdtemp's owner-only 0700.
    """
    path = out.parent / f".{out.name}.{kind}-{uuid.uuid4().hex[:12]}"
    path.mkdir()
    return path


def _check_target(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"cannot write a cache to {out}: it exists and is not a directory")
    if out.is_dir() and any(out.iterdir()):
        if not overwrite:
            raise FileExistsError(
                f"{out} already exists and is not empty; pass --overwrite (overwrite=True in "
                "Python) to replace a cache"
            )
        if not is_cache(out):
            raise FileExistsError(
                f"{out} is not empty and is not a tfs2s cache (no {META} with format "
                f"{FORMAT!r}); refusing to replace it even with overwrite"
            )
        foreign = sorted(p.name for p in out.iterdir() if p.name not in _cache_files(out))
        if foreign:
            shown = ", ".join(foreign[:3]) + (
                f" and {len(foreign) - 3} more" if len(foreign) > 3 else ""
            )
            raise FileExistsError(
                f"{out} holds {len(foreign)} file(s) that are not part of its cache ({shown}); "
                "refusing to delete them with overwrite: move them out first"
            )


def _cache_files(out: Path) -> set[str]:
    """The names a cache's ``meta.json`` says it wrote (itself and its shards)."""
    try:
        splits = json.loads((out / META).read_text()).get("splits", {})
        shards = {name for part in splits.values() for name in part.get("shards", [])}
    except (OSError, ValueError, AttributeError, TypeError):
        return {META}
    return {META, *(name for name in shards if isinstance(name, str))}


def _move_into_place(tmp: Path, out: Path, overwrite: bool) -> None:
    _check_target(out, overwrite)  # again: the target may have changed while writing
    if out.is_dir() and any(out.iterdir()):
        old = _sibling(out, "old")
        os.replace(out, old / "cache")
        try:
            os.replace(tmp, out)
        except BaseException:
            os.replace(old / "cache", out)
            shutil.rmtree(old, ignore_errors=True)
            raise
        shutil.rmtree(old, ignore_errors=True)
    else:
        # An empty directory is replaced atomically by rename on POSIX.
        os.replace(tmp, out)


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """Load and validate a cache's ``meta.json``; errors name the file and what is wrong."""
    meta_path = Path(path) / META
    if not meta_path.is_file():
        raise FileNotFoundError(
            f"{meta_path} not found: {path} is not a tfs2s cache (write one with "
            "`tfs2s data prepare` / tfs2s.data.cache.prepare)"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise ValueError(f"{meta_path}: not valid JSON: {e}") from None
    except OSError as e:
        raise ValueError(f"{meta_path}: cannot read it: {e.strerror or e}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"{meta_path}: expected format {FORMAT!r}, found {found!r}")
    if meta.get("version") != VERSION:
        raise ValueError(
            f"{meta_path}: cache format version {meta.get('version')!r}, this tfs2s reads "
            f"version {VERSION}; prepare the cache again"
        )
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise ValueError(f"{meta_path}: missing keys {missing}")
    counts = meta["counts"]
    if not isinstance(counts, dict) or any(
        isinstance(counts.get(s), bool) or not isinstance(counts.get(s), int) or counts[s] < 0
        for s in SPLITS
    ):
        raise ValueError(
            f"{meta_path}: counts must map each of {list(SPLITS)} to a segment count, "
            f"found {counts!r}"
        )
    if not isinstance(meta["splits"], dict):
        raise ValueError(f"{meta_path}: splits must be a mapping, found {meta['splits']!r}")
    for s in SPLITS:
        entry = meta["splits"].get(s)
        if not isinstance(entry, dict) or any(k not in entry for k in _SPLIT_KEYS):
            raise ValueError(
                f"{meta_path}: splits.{s} must have keys {list(_SPLIT_KEYS)}, found {entry!r}"
            )
        if counts[s] > 0 and not entry["shards"]:
            raise ValueError(f"{meta_path}: split {s} has {counts[s]} segments but no shard")
        for shard in entry["shards"]:
            if not (Path(path) / shard).is_file():
                raise FileNotFoundError(f"{meta_path}: lists shard {shard}, which is missing")
        sizes = entry.get("shard_bytes")
        if isinstance(sizes, list) and len(sizes) == len(entry["shards"]):
            for shard, size in zip(entry["shards"], sizes, strict=True):
                found = (Path(path) / shard).stat().st_size
                if found != size:
                    raise ValueError(
                        f"{Path(path) / shard}: expected {size} bytes (as written by "
                        f"`tfs2s data prepare`), found {found}; the shard is damaged: prepare "
                        "the cache again"
                    )
    _check_shapes(meta, meta_path)
    if meta["compression"] not in COMPRESSIONS:
        raise ValueError(
            f"{meta_path}: compression must be one of {list(COMPRESSIONS)}, "
            f"found {meta['compression']!r}"
        )
    return meta


def _positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _check_shapes(meta: dict[str, Any], meta_path: Path) -> None:
    """``dims``, ``max_seq_len`` and ``norm_stats`` agree: a hand-edited or damaged
    meta.json fails here with the key that is wrong, not as a shape error in training."""
    dims, max_len = meta["dims"], meta["max_seq_len"]
    if not _positive_int(max_len):
        raise ValueError(f"{meta_path}: max_seq_len must be a positive integer, found {max_len!r}")
    if not isinstance(dims, dict) or not dims:
        raise ValueError(f"{meta_path}: dims must map modalities to sizes, found {dims!r}")
    unknown = sorted(set(dims) - set(M.NAMES.values()))
    if unknown:
        raise ValueError(
            f"{meta_path}: dims names unknown modalities {unknown}; expected some of "
            f"{sorted(M.NAMES.values())}"
        )
    stats = meta["norm_stats"]
    if not isinstance(stats, dict):
        raise ValueError(f"{meta_path}: norm_stats must be a mapping, found {type(stats).__name__}")
    for name, dim in dims.items():
        if not _positive_int(dim):
            raise ValueError(f"{meta_path}: dims.{name} must be a positive integer, found {dim!r}")
        entry = stats.get(name)
        if entry is None:
            raise ValueError(f"{meta_path}: norm_stats has no entry for modality {name!r}")
        for key in ("mean", "var"):
            values = entry.get(key) if isinstance(entry, dict) else None
            if not isinstance(values, list) or len(values) != dim:
                found = f"{len(values)} values" if isinstance(values, list) else repr(values)
                raise ValueError(
                    f"{meta_path}: norm_stats.{name}.{key}: expected {dim} values (dims.{name}), "
                    f"found {found}"
                )
            numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
            if (
                not numbers
                or not np.isfinite(values).all()
                or (key == "var" and min(values, default=0) < 0)
            ):
                raise ValueError(
                    f"{meta_path}: norm_stats.{name}.{key}: expected finite numbers"
                    + (" >= 0" if key == "var" else "")
                    + "; the file is damaged: prepare the cache again"
                )


class CachedSource:
    """:class:`tfs2s.data.pipeline.DataSource` streaming a cache written by :func:`prepare`.

    Args:
        path: the cache directory.
        shuffle_buffer: serialized records held by the shuffle buffer; bounds memory to
            at most ``shuffle_buffer * max_seq_len * sum(dims) * 4`` bytes (records hold
            real words only, so ~60% of that on MOSI-like lengths).
        cycle_length: shards read concurrently when shuffling.
    """

    def __init__(self, path: str | os.PathLike, shuffle_buffer: int = 1024, cycle_length: int = 4):
        if shuffle_buffer < 1 or cycle_length < 1:
            raise ValueError(
                f"shuffle_buffer and cycle_length must be >= 1, found {shuffle_buffer}, "
                f"{cycle_length}"
            )
        self.path = Path(path)
        self.meta = read_meta(self.path)
        self.source = str(self.meta["source"])
        self.dims = {str(k): int(v) for k, v in self.meta["dims"].items()}
        self.max_seq_len = int(self.meta["max_seq_len"])
        #: how segments longer than max_seq_len were cut (None: a cache from before
        #: 2026-11-30, which did not record it)
        self.truncate: str | None = self.meta.get("truncate")
        self.shuffle_buffer = shuffle_buffer
        self.cycle_length = cycle_length
        self._compression = self.meta["compression"]
        self._check_first_record()

    def _check_first_record(self) -> None:
        """The first record of each split holds what meta.json says (its length within
        ``max_seq_len``, ``dims`` floats a word): a meta.json that does not match its
        shards fails here, naming the shard, not as a shape error in training."""
        for split in SPLITS:
            shards = self.meta["splits"][split]["shards"]
            if not shards:
                continue
            shard = self.path / shards[0]
            records = tf.data.TFRecordDataset([str(shard)], compression_type=self._compression)
            try:
                first = next(iter(records.take(1)), None)
            except tf.errors.OpError as e:
                raise ValueError(f"{shard}: cannot read its first record: {e.message}") from None
            if first is None:
                raise ValueError(f"{shard}: expected records, found an empty shard")
            feature = tf.train.Example.FromString(first.numpy()).features.feature
            length = list(feature["length"].int64_list.value) if "length" in feature else []
            if len(length) != 1 or not 0 <= length[0] <= self.max_seq_len:
                raise ValueError(
                    f"{shard}: first record: expected a length in [0, {self.max_seq_len}] "
                    f"(max_seq_len in meta.json), found {length}"
                )
            for name, dim in self.dims.items():
                values = feature[name].bytes_list.value if name in feature else []
                found = len(values[0]) if len(values) == 1 else None
                if found != 4 * length[0] * dim:
                    raise ValueError(
                        f"{shard}: first record: expected {length[0]} words x {dim} float32 "
                        f"of {name} (dims in meta.json), found "
                        + ("no such feature" if found is None else f"{found} bytes")
                    )

    @property
    def modalities(self) -> tuple[str, ...]:
        return tuple(M.NAMES[c] for c in M.CODES if M.NAMES[c] in self.dims)

    def require(self, names: Iterable[str], what: str) -> None:
        names = list(names)
        missing = [n for n in names if n not in self.dims]
        if missing:
            raise ValueError(
                f"{what} needs modalities {sorted(set(names))} but the data ({self.source}, "
                f"cache {self.path}) has only {list(self.modalities)}; missing: {missing}"
            )

    def nonempty_splits(self) -> list[str]:
        return [s for s in SPLITS if self.meta["counts"][s] > 0]

    def num_examples(self, split: str) -> int:
        check_split(split)
        return int(self.meta["counts"][split])

    def norm_stats(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Train-split statistics, as computed once by :func:`prepare`."""
        return {
            n: (np.asarray(v["mean"], np.float32), np.asarray(v["var"], np.float32))
            for n, v in self.meta["norm_stats"].items()
        }

    def _files(self, split: str) -> list[str]:
        check_split(split)
        if self.num_examples(split) == 0:
            raise ValueError(
                f"split {split!r} of {self.source} (cache {self.path}) is empty; cannot train "
                "or evaluate on it"
            )
        return [str(self.path / s) for s in self.meta["splits"][split]["shards"]]

    def labels(self, split: str) -> np.ndarray:
        """float32 (segments,) in unshuffled dataset order; streams the label feature only."""
        spec = {M.LABEL: tf.io.FixedLenFeature([], tf.float32)}
        ds = tf.data.TFRecordDataset(self._files(split), compression_type=self._compression)
        ds = ds.batch(4096).map(lambda x: tf.io.parse_example(x, spec)[M.LABEL])
        return np.concatenate([b.numpy() for b in ds]).astype(np.float32)

    def dataset(
        self,
        split: str,
        names: Sequence[str],
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
        drop_remainder: bool = False,
        repeat: bool = False,
    ) -> tf.data.Dataset:
        """Stream batches of ``split``; arguments as in :func:`tfs2s.data.pipeline.split_dataset`.

        Shuffling reshuffles the shard order every epoch, interleaves ``cycle_length``
        shards and shuffles examples in a ``shuffle_buffer``-sized buffer, so it is
        bounded in memory and only approximately uniform over a large split. With
        ``repeat``, epoch k's order depends on (seed, k) only, not on how many iterators
        were opened before. Without shuffling, examples come in the order they were prepared.

        Returns:
            ``tf.data.Dataset`` of ``({name: float32 (batch, max_seq_len, dim), "mask":
            float32 (batch, max_seq_len)}, label float32 (batch,))``.
        """
        names = list(names)
        check_batching(batch_size, names)
        self.require(names, f"the {split} dataset")
        files = self._files(split)
        parse = self._parser(names)
        if shuffle and repeat:
            # Each epoch's order is a pure function of (seed, epoch), as in the in-memory
            # pipeline: Keras may open and drop extra iterators under multi-replica
            # strategies, which would advance stateful shuffle seeds.
            def epoch_batches(epoch: tf.Tensor) -> tf.data.Dataset:
                ds = self._shuffled_records(files, seed, epoch)
                ds = ds.map(parse, num_parallel_calls=PARALLEL_CALLS)
                return ds.batch(batch_size, drop_remainder=drop_remainder)

            ds = tf.data.Dataset.counter().flat_map(epoch_batches)
        else:
            if shuffle:
                ds = self._shuffled_records(files, seed, None)
            else:
                ds = tf.data.TFRecordDataset(files, compression_type=self._compression)
            ds = ds.map(parse, num_parallel_calls=PARALLEL_CALLS)
            ds = ds.batch(batch_size, drop_remainder=drop_remainder)
            # Records read from files have no known count: stated here (from meta.json),
            # Keras sizes its loops by it instead of reading until the data runs out (and
            # warning that it did), and a meta.json that lies fails when it is read.
            count = self.num_examples(split)
            batches = count // batch_size if drop_remainder else -(-count // batch_size)
            ds = ds.apply(tf.data.experimental.assert_cardinality(batches))
            if repeat:
                ds = ds.repeat()
        options = tf.data.Options()
        # Multi-worker: every worker reads all shards and keeps its share of the batches.
        # FILE sharding would fail with fewer shards than workers (small valid/test).
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        return finish_pipeline(ds.with_options(options))

    def _shuffled_records(
        self, files: list[str], seed: int, epoch: tf.Tensor | None
    ) -> tf.data.Dataset:
        """Serialized records of ``files`` in a shuffled order.

        With ``epoch`` (int64 scalar), the order depends on (seed, epoch) only; without,
        every new iterator draws the next order of a seeded stateful stream.
        """
        if epoch is None:
            ds = tf.data.Dataset.from_tensor_slices(files)
            ds = ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
        else:
            keys = tf.random.stateless_uniform(
                [len(files)], seed=tf.stack([tf.constant(seed, tf.int64), epoch])
            )
            ds = tf.data.Dataset.from_tensor_slices(tf.gather(tf.constant(files), tf.argsort(keys)))
        cycle_length = min(self.cycle_length, len(files))
        ds = ds.interleave(
            lambda f: tf.data.TFRecordDataset(f, compression_type=self._compression),
            cycle_length=cycle_length,
            block_length=1,
            # tf.data refuses more parallel calls than the cycle length (one shard per
            # split is what `tfs2s data prepare` writes for MOSI-sized data).
            num_parallel_calls=min(PARALLEL_CALLS, cycle_length),
            deterministic=True,
        )
        if epoch is None:
            # A different stream from the file shuffle, derived from the same seed.
            return ds.shuffle(self.shuffle_buffer, seed=seed + 1, reshuffle_each_iteration=True)

        # Stateless: permute consecutive blocks of `shuffle_buffer` records, each with a
        # key of (seed, epoch, block). (A tensor seed for Dataset.shuffle is refused once
        # a global seed is set.)
        def permute(block_index: tf.Tensor, block: tf.Tensor) -> tf.data.Dataset:
            key = tf.stack([tf.constant(seed + 1, tf.int64), epoch * 1_000_003 + block_index])
            keys = tf.random.stateless_uniform(tf.shape(block), seed=key)
            return tf.data.Dataset.from_tensor_slices(tf.gather(block, tf.argsort(keys)))

        return ds.batch(self.shuffle_buffer).enumerate().flat_map(permute)

    def _parser(self, names: Sequence[str]):
        """A function from one serialized record to ``(features, label)``, padded."""
        steps = self.max_seq_len
        spec = {
            M.LABEL: tf.io.FixedLenFeature([], tf.float32),
            "length": tf.io.FixedLenFeature([], tf.int64),
            **{n: tf.io.FixedLenFeature([], tf.string) for n in names},
        }
        dims = {n: self.dims[n] for n in names}

        def parse(serialized: tf.Tensor):
            ex = tf.io.parse_single_example(serialized, spec)
            length = tf.cast(ex["length"], tf.int32)
            features = {}
            for n, d in dims.items():
                words = tf.reshape(tf.io.decode_raw(ex[n], tf.float32, little_endian=True), [-1, d])
                words = tf.pad(words, [[0, steps - length], [0, 0]])
                features[n] = tf.ensure_shape(words, [steps, d])
            features[M.MASK] = tf.sequence_mask(length, steps, dtype=tf.float32)
            return features, ex[M.LABEL]

        return parse

    def __repr__(self) -> str:
        return f"CachedSource({str(self.path)!r}, {self.source!r}, {self.meta['counts']})"
