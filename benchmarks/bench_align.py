"""Time ``load_csd_dir`` (HDF5 reading + word alignment) on a CMU-MOSI-sized SDK data set.

Builds once, and caches outside the repository (``--cache-dir``, default under the system
temp dir), a synthetic set shaped like the SDK's CMU-MOSI release: 93 videos, ~27,500
timed words with 300-d vectors, ~2.5 h of 100 Hz 74-d "COVAREP" frames (with some -inf
values, as in the real files) and 30 Hz 35-d "FACET" frames, ~2,200 labelled segments, all
gzip-9 compressed like the SDK writes. Then times ``load_csd_dir`` end to end a few times
and writes JSON.

Usage::

    python benchmarks/bench_align.py [--repeats 5] [--out benchmarks/results/bench_align.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

from tfs2s.data.csd import load_csd_dir
from tfs2s.data.testing import frames, tile_intervals, write_csd

TARGET_SECONDS = 3.0
VIDEOS = 93
WORDS = 27_500
SEGMENTS = 2_199
HOURS = 2.5
AUDIO_RATE, AUDIO_DIM = 100.0, 74
VISUAL_RATE, VISUAL_DIM = 30.0, 35
TEXT_DIM = 300
# Bump when the generated data changes so that a stale cache is not reused.
DATA_VERSION = 1


def _split_total(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` summing exactly to ``total``."""
    raw = weights / weights.sum() * total
    out = np.floor(raw).astype(np.int64)
    out[np.argsort(raw - out)[::-1][: total - out.sum()]] += 1
    return out


def build(directory: Path, seed: int = 0) -> dict[str, int]:
    """Write the four ``.csd`` files and ``folds.json``; return the sizes."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    durations = HOURS * 3600 * _split_total(10_000, rng.uniform(0.6, 1.4, VIDEOS)) / 10_000
    words_per_video = _split_total(WORDS, durations * rng.uniform(0.8, 1.2, VIDEOS))
    segments_per_video = _split_total(SEGMENTS, durations)
    videos = [f"vid{i:03d}_{rng.integers(1e6):06d}" for i in range(VIDEOS)]
    text, audio, visual, labels = {}, {}, {}, {}
    for video, duration, n_words, n_seg in zip(
        videos, durations, words_per_video, segments_per_video, strict=True
    ):
        # Segments cover ~85% of the video with gaps between them; words tile the segments.
        bounds = np.sort(rng.uniform(0, duration, 2 * n_seg))
        seg = bounds.reshape(n_seg, 2)
        counts = np.maximum(1, _split_total(n_words, seg[:, 1] - seg[:, 0] + 0.05))
        word_iv = tile_intervals(seg[:, 0], seg[:, 1], counts)
        text[video] = (
            rng.normal(size=(word_iv.shape[0], TEXT_DIM)).astype(np.float32),
            word_iv.astype(np.float32),
        )
        labels[video] = (
            rng.uniform(-3, 3, (n_seg, 1)).astype(np.float32),
            seg.astype(np.float32),
        )
        a_iv = frames(duration, AUDIO_RATE)
        a = rng.normal(size=(a_iv.shape[0], AUDIO_DIM)).astype(np.float32)
        a[rng.random(a.shape) < 1e-3] = -np.inf
        audio[video] = (a, a_iv)
        v_iv = frames(duration, VISUAL_RATE)
        visual[video] = (rng.normal(size=(v_iv.shape[0], VISUAL_DIM)).astype(np.float32), v_iv)
    write_csd(directory / "CMU_MOSI_TimestampedWordVectors.csd", "glove_vectors", text)
    write_csd(directory / "CMU_MOSI_COVAREP.csd", "COVAREP", audio)
    write_csd(directory / "CMU_MOSI_Visual_Facet_41.csd", "FACET_4.1", visual)
    write_csd(directory / "CMU_MOSI_Opinion_Labels.csd", "Opinion Segment Labels", labels)
    folds = {"train": videos[:52], "valid": videos[52:62], "test": videos[62:]}
    sizes = {
        "videos": VIDEOS,
        "words": int(sum(t[0].shape[0] for t in text.values())),
        "segments": int(sum(v[0].shape[0] for v in labels.values())),
        "audio_frames": int(sum(v[0].shape[0] for v in audio.values())),
        "visual_frames": int(sum(v[0].shape[0] for v in visual.values())),
        "hours": float(durations.sum() / 3600),
    }
    (directory / "folds.json").write_text(json.dumps(folds))
    (directory / "sizes.json").write_text(json.dumps(sizes))
    return sizes


def _read_only(directory: Path) -> float:
    """Seconds to read every dataset whole with h5py (decompression, no checks or alignment)."""
    start = time.perf_counter()
    for file in sorted(directory.glob("*.csd")):
        with h5py.File(file, "r") as f:
            data = f[next(iter(f))]["data"]
            for group in data.values():
                group["features"][()]
                group["intervals"][()]
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--cache-dir",
        default=os.path.join(tempfile.gettempdir(), f"tfs2s-bench-align-v{DATA_VERSION}"),
        help="where the generated data set is kept between runs",
    )
    parser.add_argument("--out", default="benchmarks/results/bench_align.json")
    args = parser.parse_args(argv)

    directory = Path(args.cache_dir)
    if (directory / "sizes.json").is_file():
        sizes = json.loads((directory / "sizes.json").read_text())
    else:
        print(f"building the data set in {directory} (once) ...", flush=True)
        start = time.perf_counter()
        sizes = build(directory)
        print(f"built in {time.perf_counter() - start:.1f} s", flush=True)
    folds = json.loads((directory / "folds.json").read_text())
    sizes["bytes_on_disk"] = sum(p.stat().st_size for p in directory.glob("*.csd"))

    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        data = load_csd_dir(str(directory), None, folds)
        runs.append(time.perf_counter() - start)
    read_only = min(_read_only(directory) for _ in range(2))
    segments = sum(len(s) for s in data.splits.values())
    result = {
        "benchmark": "load_csd_dir (read + align), warm page cache after the first run",
        "seconds": {"min": min(runs), "median": statistics.median(runs), "runs": runs},
        "h5py_read_only_seconds_min": read_only,
        "target_seconds": TARGET_SECONDS,
        "meets_target": min(runs) < TARGET_SECONDS,
        "sizes": sizes,
        "loaded": {
            "segments": segments,
            "dims": data.dims,
            "nonfinite_replaced": data.report.nonfinite_replaced,
        },
        "machine": {
            "cpus": os.cpu_count(),
            # Other processes share the cores; a high load explains slow runs.
            "load_average_1_5_15min": list(os.getloadavg()),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "h5py": h5py.__version__,
        },
    }
    print(
        f"load_csd_dir: min {result['seconds']['min']:.2f} s, median "
        f"{result['seconds']['median']:.2f} s over {args.repeats} runs (target < "
        f"{TARGET_SECONDS} s); h5py read alone {read_only:.2f} s; {segments} segments, "
        f"{sizes['words']} words, {sizes['audio_frames']} audio + {sizes['visual_frames']} "
        f"visual frames, {sizes['bytes_on_disk'] / 1e6:.0f} MB"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
