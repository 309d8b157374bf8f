"""Test helper: one tiny finished run per process, shared by every test that only reads one.

In ``tfs2s/`` the session fixtures of ``tfs2s/conftest.py`` hand it out (``tiny_run``,
``opened``, ``tiny_export``); the end-to-end tests in ``tests/`` call
:func:`tiny_finished_run` themselves. Either way it is trained once per test process.
"""

from __future__ import annotations

import os

#: Overrides of ``tfs2s train``'s defaults that make the run tiny: 150 synthetic segments of
#: 5 words, hidden 4, batches of 16, one epoch of each phase.
TINY_OVERRIDES = {
    "data.synthetic_segments": 150,
    "data.max_seq_len": 5,
    "model.hidden": 4,
    "model.regressor_hidden": 4,
    "train.batch_size": 16,
    "train.epochs": 1,
    "train.translator_epochs": 1,
}

_RUNS: dict[str, str] = {}


def tiny_finished_run(root: str | os.PathLike, topology: str = "T_A") -> str:
    """Train ``topology`` tiny with ``tfs2s.training.run.run`` once per process.

    The first call's ``root`` holds the run (as ``root/<topology>``); later calls return
    that run and ignore ``root``. The run directory is complete (``params.yaml``,
    ``model.keras``, ``translator.keras``, ``trained.json``, ``metrics.json``), exactly as
    ``tfs2s train`` leaves it. ``T_A`` is a seq2seq run: it trains on text and audio, reads
    only text at inference and exports both serving signatures.
    """
    if topology not in _RUNS:
        from tfs2s.config import RunConfig
        from tfs2s.training.run import run

        cfg = RunConfig().replace(topology=topology, **TINY_OVERRIDES)
        out = os.path.join(os.fspath(root), topology)
        run(cfg, out, verbose=0, backup=False)
        _RUNS[topology] = out
    return _RUNS[topology]
