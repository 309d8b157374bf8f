"""Prepare a CMU-MOSEI-sized synthetic cache and stream it with bounded memory.

Generates the built-in synthetic data at 25,000 segments and writes it with
``tfs2s.data.cache.prepare`` (one process), then streams one shuffled epoch of the
train split through ``CachedSource.dataset`` in a *fresh* process, so that its peak
RSS (``resource.getrusage``) measures streaming alone. For contrast, another fresh
process generates the arrays and serves the same epoch from memory (``InMemorySource``). Writes JSON to
``benchmarks/results/bench_cache.json``.

Usage::

    python benchmarks/bench_cache.py [--segments 25000] [--out PATH] [--no-in-memory]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NAMES = ["text", "audio", "video"]


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _epoch(ds) -> tuple[int, float]:
    start = time.perf_counter()
    n = 0
    for _, y in ds:
        n += int(y.shape[0])
    return n, time.perf_counter() - start


def stream_cache(path: str, batch_size: int) -> dict:
    """Runs in a fresh process: one shuffled train epoch streamed from the cache."""
    import tensorflow as tf  # noqa: F401  (baseline RSS includes TensorFlow)

    from tfs2s.data.cache import CachedSource

    baseline = _current_rss_mb()
    src = CachedSource(path)
    ds = src.dataset("train", NAMES, batch_size, shuffle=True, seed=0)
    n, seconds = _epoch(ds)
    return {
        "examples": n,
        "seconds": seconds,
        "examples_per_s": n / seconds,
        "rss_before_mb": baseline,
        "peak_rss_mb": _peak_rss_mb(),
        "shuffle_buffer": src.shuffle_buffer,
    }


def stream_memory(segments: int, seed: int, batch_size: int) -> dict:
    """Runs in a fresh process: the same epoch served from arrays in memory."""
    import tensorflow as tf  # noqa: F401

    from tfs2s.data.pipeline import InMemorySource
    from tfs2s.data.synthetic import make_synthetic

    baseline = _current_rss_mb()
    src = InMemorySource(make_synthetic(seed=seed, segments=segments))
    with_data = _current_rss_mb()
    n, seconds = _epoch(src.dataset("train", NAMES, batch_size, shuffle=True, seed=0))
    return {
        "examples": n,
        "seconds": seconds,
        "examples_per_s": n / seconds,
        "rss_before_mb": baseline,
        "rss_with_arrays_mb": with_data,
        # Includes generating the arrays (temporaries of make_synthetic).
        "peak_rss_mb": _peak_rss_mb(),
    }


def prepare_cache(segments: int, seed: int, shard_size: int, path: str) -> dict:
    """Runs in a fresh process: generate the data and write the cache."""
    from tfs2s.data.cache import prepare
    from tfs2s.data.synthetic import make_synthetic

    start = time.perf_counter()
    data = make_synthetic(seed=seed, segments=segments)
    generate_s = time.perf_counter() - start
    start = time.perf_counter()
    prepare(data, path, shard_size=shard_size, overwrite=True)
    prepare_s = time.perf_counter() - start
    return {
        "generate_seconds": generate_s,
        "prepare_seconds": prepare_s,
        "split_counts": {s: len(split) for s, split in data.splits.items()},
        "array_mb": {
            s: sum(x.nbytes for x in split.features.values()) / 2**20
            for s, split in data.splits.items()
        },
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _dir_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.iterdir()) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--segments", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--shard-size", type=int, default=2048)
    parser.add_argument("--workdir", default=None, help="where to write the cache (temp dir)")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_cache.json"))
    parser.add_argument("--no-in-memory", action="store_true", help="skip the in-memory run")
    parser.add_argument("--prepare-cache", help=argparse.SUPPRESS)
    parser.add_argument("--stream-cache", help=argparse.SUPPRESS)
    parser.add_argument("--stream-memory", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    common = ["--segments", str(args.segments), "--seed", str(args.seed)]
    common += ["--batch-size", str(args.batch_size), "--shard-size", str(args.shard_size)]
    if args.prepare_cache:
        print(
            json.dumps(prepare_cache(args.segments, args.seed, args.shard_size, args.prepare_cache))
        )
        return
    if args.stream_cache:
        print(json.dumps(stream_cache(args.stream_cache, args.batch_size)))
        return
    if args.stream_memory:
        print(json.dumps(stream_memory(args.segments, args.seed, args.batch_size)))
        return

    # This process only orchestrates: each step runs in a fresh child so that its
    # getrusage peak RSS is its own (a child inherits its parent's high-water mark).
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_cache_"))
    cache_dir = work / "cache"
    try:
        prepared = _child("--prepare-cache", str(cache_dir), *common)
        streamed = _child("--stream-cache", str(cache_dir), *common)
        result = {
            "segments": args.segments,
            "split_counts": prepared["split_counts"],
            "batch_size": args.batch_size,
            "shard_size": args.shard_size,
            "generate_seconds": prepared["generate_seconds"],
            "prepare_seconds": prepared["prepare_seconds"],
            "prepare_peak_rss_mb": prepared["peak_rss_mb"],
            "cache_mb": _dir_mb(cache_dir),
            "full_arrays_mb": sum(prepared["array_mb"].values()),
            "train_arrays_mb": prepared["array_mb"]["train"],
            "stream_cache": streamed,
            "stream_cache_rss_increase_mb": streamed["peak_rss_mb"] - streamed["rss_before_mb"],
        }
        if not args.no_in_memory:
            mem = _child("--stream-memory", *common)
            result["stream_in_memory"] = mem
            result["stream_in_memory_rss_increase_mb"] = mem["peak_rss_mb"] - mem["rss_before_mb"]
        result["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version()}
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
