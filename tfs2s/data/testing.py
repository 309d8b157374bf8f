"""Writers of tiny CMU-SDK ``.csd`` files and aligned pickles, for tests and benchmarks.

The layout written here is the one the SDK writes and :mod:`tfs2s.data.csd` reads::

    <root name>/data/<video_id>/features    (n, d)  gzip
    <root name>/data/<video_id>/intervals   (n, 2)  [start, end] seconds
    <root name>/metadata/<key>              (1,)    vlen utf-8 string holding JSON
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np


def write_csd(
    path: str | Path,
    root_name: str,
    data: Mapping[str, tuple[np.ndarray, np.ndarray]],
    metadata: Mapping[str, Any] | None = None,
    compression_opts: int = 9,
) -> Path:
    """Write a computational sequence in the CMU-SDK HDF5 layout.

    Args:
        path: the ``.csd`` file to create.
        root_name: name of the single root group.
        data: video id -> (features (n, d) float or bytes, intervals (n, 2)).
        metadata: key -> JSON-serialisable value; defaults to a minimal SDK-like set.
        compression_opts: gzip level (the SDK uses 9).

    Returns:
        ``path`` as a Path.
    """
    path = Path(path)
    meta = {"root name": root_name, "dimension names": [], "md5": None}
    meta.update(metadata or {})
    with h5py.File(path, "w") as f:
        root = f.create_group(root_name)
        group = root.create_group("data")
        for video, (features, intervals) in data.items():
            g = group.create_group(video)
            g.create_dataset(
                "features", data=features, compression="gzip", compression_opts=compression_opts
            )
            g.create_dataset(
                "intervals", data=intervals, compression="gzip", compression_opts=compression_opts
            )
        md = root.create_group("metadata")
        for key, value in meta.items():
            md.create_dataset(key, (1,), dtype=h5py.string_dtype("utf-8"), data=json.dumps(value))
    return path


def tile_intervals(starts: np.ndarray, ends: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Split each ``[start, end]`` into ``count`` equal consecutive pieces.

    Args:
        starts, ends, counts: (n,) per interval.

    Returns:
        float64 (sum(counts), 2) piece intervals, grouped by interval in order.
    """
    starts, ends, counts = (np.asarray(a) for a in (starts, ends, counts))
    owner = np.repeat(np.arange(counts.size), counts)
    first = np.concatenate([[0], np.cumsum(counts)[:-1]])
    k = np.arange(owner.size) - first[owner]
    step = (ends - starts)[owner] / counts[owner]
    lo = starts[owner] + k * step
    return np.stack([lo, lo + step], axis=1)


def frames(duration: float, rate: float) -> np.ndarray:
    """Back-to-back frame intervals covering ``[0, duration)`` at ``rate`` Hz: (n, 2)."""
    start = np.arange(int(np.ceil(duration * rate))) / rate
    return np.stack([start, start + 1.0 / rate], axis=1)


def tiny_sdk_dir(
    path: str | Path,
    videos: Mapping[str, list[int]],
    dims: Mapping[str, int] | None = None,
    seed: int = 0,
    names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Write a tiny, internally consistent CMU-SDK-style data directory.

    Video ``v`` with ``videos[v] == [k1, k2, ...]`` gets segments of 2 s each, separated by
    0.5 s gaps, the i-th holding ``ki`` words that tile it; audio frames at 10 Hz and
    visual frames at 5 Hz cover the whole video. Labels are ``(i % 7) - 3``.

    Args:
        path: directory to create/fill.
        videos: video id -> words per segment (0 gives a segment without words).
        dims: modality -> feature size (``text``, ``audio``, ``video``); a missing
            modality is not written. Defaults to text 4, audio 3, video 2.
        seed: random seed of the features.
        names: modality (and ``labels``) -> file stem; defaults to the SDK's CMU-MOSI names.

    Returns:
        ``{"files": modality -> Path, "words": video -> (features, intervals),
        "frames": modality -> video -> (features, intervals),
        "labels": video -> (labels, intervals)}``.
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    dims = {"text": 4, "audio": 3, "video": 2} if dims is None else dict(dims)
    stems = {
        "text": "CMU_MOSI_TimestampedWordVectors",
        "audio": "CMU_MOSI_COVAREP",
        "video": "CMU_MOSI_Visual_Facet_41",
        "labels": "CMU_MOSI_Opinion_Labels",
    }
    stems.update(names or {})
    rng = np.random.default_rng(seed)
    words, labels = {}, {}
    frame_data: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {"audio": {}, "video": {}}
    for video, per_segment in videos.items():
        n_seg = len(per_segment)
        seg_start = np.arange(n_seg) * 2.5
        seg = np.stack([seg_start, seg_start + 2.0], axis=1)
        counts = np.asarray(per_segment, dtype=np.int64)
        word_iv = tile_intervals(seg[:, 0], seg[:, 1], counts)
        labels[video] = (
            ((np.arange(n_seg) % 7) - 3.0).astype(np.float32)[:, None],
            seg.astype(np.float32),
        )
        if "text" in dims:
            words[video] = (
                rng.normal(size=(word_iv.shape[0], dims["text"])).astype(np.float32),
                word_iv.astype(np.float32),
            )
        duration = max(n_seg * 2.5, 0.1)
        for name, rate in (("audio", 10.0), ("video", 5.0)):
            if name in dims:
                iv = frames(duration, rate)
                frame_data[name][video] = (
                    rng.normal(size=(iv.shape[0], dims[name])).astype(np.float32),
                    iv,
                )
    files = {"labels": write_csd(path / f"{stems['labels']}.csd", "Opinion Segment Labels", labels)}
    if "text" in dims:
        files["text"] = write_csd(path / f"{stems['text']}.csd", "glove_vectors", words)
    for name in ("audio", "video"):
        if name in dims:
            files[name] = write_csd(path / f"{stems[name]}.csd", name, frame_data[name])
    return {"files": files, "words": words, "frames": frame_data, "labels": labels}


def write_pickle(path: str | Path, obj: Any) -> Path:
    """Pickle ``obj`` to ``path`` (tests only: real pickles come from other projects)."""
    path = Path(path)
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def aligned_split(
    n: int,
    steps: int,
    lengths: list[int],
    dims: Mapping[str, int],
    seed: int = 0,
    pad: str = "front",
) -> dict[str, np.ndarray]:
    """Random word-aligned arrays ``(n, steps, dim)`` with zero padding in front or behind.

    Args:
        n: segments.
        steps: padded steps per segment.
        lengths: (n,) real words per segment (0 gives an all-zero segment).
        dims: pickle key (``text``, ``audio``, ``vision``) -> feature size.
        seed: random seed.
        pad: ``"front"`` (MulT ``mosi_data.pkl``) or ``"back"``.

    Returns:
        key -> float32 (n, steps, dim).
    """
    rng = np.random.default_rng(seed)
    out = {}
    for key, d in dims.items():
        x = np.zeros((n, steps, d), np.float32)
        for i, k in enumerate(lengths):
            sl = slice(steps - k, steps) if pad == "front" else slice(0, k)
            x[i, sl] = rng.normal(size=(k, d)) + 0.5  # +0.5: a real row is never all zero
        out[key] = x
    return out
