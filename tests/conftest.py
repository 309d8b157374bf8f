import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Overrides that make any run tiny: a few dozen segments of 5 words, 4 hidden units, one
#: epoch. (The LSTMs are unrolled over the words, so tracing time grows with their count.)
TINY = [
    "--set",
    "data.synthetic_segments=150",
    "--set",
    "data.max_seq_len=5",
    "--set",
    "model.hidden=4",
    "--set",
    "model.regressor_hidden=4",
    "--set",
    "train.batch_size=16",
    "--epochs",
    "1",
]

#: What a finished seq2seq run directory holds (published whole, backups removed).
RUN_FILES = {
    "params.yaml",
    "model.keras",
    "translator.keras",
    "trained.json",
    "metrics.json",
    "history.csv",
    "logs",
}


def run_cli(args, cwd=None, timeout=600, env=None):
    """Run ``python <args>`` from the repo root in a fresh process; returns CompletedProcess."""
    import subprocess

    full_env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


@pytest.fixture
def tiny_args():
    return list(TINY)


def _readme_paths(session):
    """tests/test_readme_paths.py as imported for ``session``, or None when not collected."""
    module = sys.modules.get("test_readme_paths")
    if module is None or not any(getattr(i, "module", None) is module for i in session.items):
        return None
    return module


def pytest_collection_finish(session):
    # The README paths (fresh training processes, minutes of CPU) start now, in the
    # background. Beside other tests, one at a time: they use the core that the in-process
    # tests leave idle and are done before tests/test_readme_paths.py asks for them.
    module = _readme_paths(session)
    if module is not None and not session.config.option.collectonly:
        others = any(getattr(i, "module", None) is not module for i in session.items)
        module.BACKGROUND.start(workers=1 if others else 2)


def pytest_sessionfinish(session):
    module = sys.modules.get("test_readme_paths")
    if module is not None:
        module.BACKGROUND.stop()
