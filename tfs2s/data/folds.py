"""Train/valid/test folds: which videos belong to which split.

A folds file is a JSON object ``{"train": [video ids], "valid": [...], "test": [...]}``.
The standard CMU-MOSI folds (the CMU-MultimodalSDK's, 52/10/31 videos) ship with the
package as ``cmu_mosi_folds.json``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from tfs2s.data.dataset import SPLITS

_PACKAGED = "cmu_mosi_folds.json"


def check_folds(folds: Any, source: str) -> dict[str, list[str]]:
    """Validate a folds mapping and return a fresh ``dict[str, list[str]]``.

    Args:
        folds: the parsed folds, expected ``{"train": [...], "valid": [...], "test": [...]}``.
        source: where the folds came from (a file name), used in error messages.

    Returns:
        split -> list of video ids, in the given order.

    Raises:
        ValueError: not a mapping, missing or unknown split keys, a value that is not a list
            of strings, a video listed twice in one fold or in two folds.
    """
    if not isinstance(folds, Mapping):
        raise ValueError(
            f"folds {source}: expected a JSON object with keys {list(SPLITS)}, "
            f"found {type(folds).__name__}"
        )
    missing = [s for s in SPLITS if s not in folds]
    unknown = sorted(str(k) for k in folds if k not in SPLITS)
    if missing or unknown:
        raise ValueError(
            f"folds {source}: expected exactly the keys {list(SPLITS)}; "
            f"missing {missing}, unknown {unknown}"
        )
    out: dict[str, list[str]] = {}
    seen: dict[str, str] = {}
    for split in SPLITS:
        videos = folds[split]
        if not isinstance(videos, (list, tuple)):
            raise ValueError(
                f"folds {source}: {split!r} must be a list of video ids, "
                f"found {type(videos).__name__}"
            )
        for i, video in enumerate(videos):
            if not isinstance(video, str):
                raise ValueError(
                    f"folds {source}: {split}[{i}] must be a video id string, found {video!r}"
                )
            if video in seen:
                where = "twice in" if seen[video] == split else f"in both {seen[video]!r} and"
                raise ValueError(f"folds {source}: video {video!r} is listed {where} {split!r}")
            seen[video] = split
        out[split] = list(videos)
    return out


@functools.lru_cache(maxsize=1)
def _packaged_text() -> str:
    return resources.files("tfs2s.data").joinpath(_PACKAGED).read_text(encoding="utf-8")


def standard_folds() -> dict[str, list[str]]:
    """The standard CMU-MOSI folds shipped with the package.

    Returns:
        ``{"train": [52 video ids], "valid": [10], "test": [31]}``, a fresh copy the
        caller may modify.
    """
    return check_folds(json.loads(_packaged_text()), f"package file tfs2s/data/{_PACKAGED}")


def load_folds(path: str | None) -> dict[str, list[str]]:
    """Read a folds JSON file, or the standard CMU-MOSI folds when ``path`` is None.

    Args:
        path: JSON file ``{"train": [...], "valid": [...], "test": [...]}`` or None.

    Returns:
        split -> list of video ids.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not valid JSON or not a valid folds object; the message
            names the file and the problem.
    """
    if path is None:
        return standard_folds()
    file = Path(path)
    if file.is_dir():
        raise ValueError(f"folds file {file}: expected a JSON file, found a directory")
    if not file.is_file():
        raise FileNotFoundError(f"folds file {file} does not exist")
    try:
        parsed = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"folds {file}: not valid JSON: {e}") from None
    except OSError as e:
        raise ValueError(f"folds {file}: cannot read it: {e.strerror or e}") from None
    return check_folds(parsed, str(file))
