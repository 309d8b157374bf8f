"""Trained first translation stages, kept for the runs that train the same stage again.

With two-phase training, ``embed_XY_Z``'s first phase (Algorithm 2: X -> Y with encoder 1
and decoder 1) is the same computation as ``X_Y``'s translation phase (Algorithm 1):
both topologies build encoder 1 and decoder 1 first, so the same seed gives them the same
initial weights; both read the same batches in the same order; and the phase updates
those two parts only. The paper trains both rows for every seed, so it trains that stage
twice. A :class:`StageMemo` given to both rows' trainers keeps the first result and hands
it to the second: the trained weights and the phase's history, bitwise what training
would give.

A result is keyed by everything the phase's outcome depends on: the data object, the
modalities read and decoded, the model and train configs (seed included), whether steps
run eagerly, and a digest of the parts' initial weights. Any difference, such as another
seed, another batch size or a topology whose first parts are built differently, misses
the memo and trains as usual.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any

import numpy as np


@dataclasses.dataclass(frozen=True)
class StageResult:
    """A trained stage.

    Attributes:
        weights: per trained part, its variables' values after the phase.
        history: the phase's history rows, without their ``phase`` name.
        topology: the topology that trained it (for the log).
    """

    weights: tuple[tuple[np.ndarray, ...], ...]
    history: tuple[dict[str, Any], ...]
    topology: str


class StageMemo:
    """Stage results of the runs of one process, by :meth:`key`."""

    def __init__(self):
        self._results: dict[tuple, StageResult] = {}
        self._data: list[Any] = []  # keeps every keyed data object alive (ids stay unique)

    def __len__(self) -> int:
        return len(self._results)

    def get(self, key: tuple) -> StageResult | None:
        return self._results.get(key)

    def put(self, key: tuple, result: StageResult) -> None:
        self._results[key] = result

    def key(self, data: Any, *fields: Any, parts: list) -> tuple:
        """The key of a stage trained on ``data`` with ``fields`` (hashable or with a
        faithful ``repr``) from ``parts``' current (initial) weights."""
        if not any(d is data for d in self._data):
            self._data.append(data)
        digest = hashlib.sha256()
        for part in parts:
            for variable in part.variables:
                value = np.asarray(variable.numpy())
                # Not the path: Keras numbers seed generators per process.
                digest.update(f"{value.shape}{value.dtype}".encode())
                digest.update(value.tobytes())
        return (id(data), *(repr(f) for f in fields), digest.hexdigest())


def snapshot(parts: list, history: list[dict[str, Any]], topology: str) -> StageResult:
    """The result of a phase that trained ``parts`` and logged ``history``."""
    return StageResult(
        weights=tuple(tuple(np.array(v.numpy()) for v in part.variables) for part in parts),
        history=tuple({k: v for k, v in row.items() if k != "phase"} for row in history),
        topology=topology,
    )


def restore(result: StageResult, parts: list, phase: str) -> list[dict[str, Any]]:
    """Give ``parts`` the stage's trained weights; returns its history rows as ``phase``."""
    for part, values in zip(parts, result.weights, strict=True):
        for variable, value in zip(part.variables, values, strict=True):
            variable.assign(value)
    return [{"phase": phase, **row} for row in result.history]
