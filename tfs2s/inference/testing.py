"""Test helper: one tiny finished run per process, shared by the inference tests."""

from __future__ import annotations

import os

#: Overrides of tests/conftest.py's ``TINY``: 150 synthetic segments, hidden 4, 1 epoch.
TINY_OVERRIDES = {
    "data.synthetic_segments": 150,
    "model.hidden": 4,
    "model.regressor_hidden": 4,
    "train.batch_size": 16,
    "train.epochs": 1,
    "train.translator_epochs": 1,
}

_RUNS: dict[str, str] = {}


def tiny_finished_run(root: str | os.PathLike, topology: str = "T_A") -> str:
    """Train ``topology`` tiny with ``tfs2s.training.run.run`` once per process.

    The run directory is complete (``params.yaml``, ``model.keras``, ``metrics.json``),
    exactly as ``tfs2s train`` leaves it. ``T_A`` is a seq2seq run: it trains on text
    and audio and reads only text at inference.
    """
    if topology not in _RUNS:
        from tfs2s.config import RunConfig
        from tfs2s.training.run import run

        cfg = RunConfig().replace(topology=topology, **TINY_OVERRIDES)
        out = os.path.join(os.fspath(root), topology)
        run(cfg, out, verbose=0, backup=False)
        _RUNS[topology] = out
    return _RUNS[topology]
