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
