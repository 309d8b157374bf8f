import io
import os
import subprocess
import sys
from pathlib import Path

from tfs2s import console

ROOT = Path(__file__).resolve().parents[1]
PROGRAM = (
    "from tfs2s.console import quiet_tensorflow; quiet_tensorflow({verbose}); "
    "import tensorflow as tf; print(int(tf.reduce_sum(tf.range(4))))"
)


def _run(verbose, **env):
    full = {k: v for k, v in os.environ.items() if not k.startswith(("TF_CPP", "GRPC_"))}
    full.update(PYTHONPATH=str(ROOT), **env)
    return subprocess.run(
        [sys.executable, "-c", PROGRAM.format(verbose=verbose)],
        capture_output=True,
        text=True,
        timeout=120,
        env=full,
    )


def test_tensorflow_start_up_prints_nothing():
    quiet = _run(False)
    assert quiet.returncode == 0 and quiet.stdout == "6\n"
    assert quiet.stderr == ""


def test_a_user_set_log_level_is_kept(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "1")
    console.quiet_tensorflow()
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "1"


def test_progress_is_one_line_per_epoch_off_a_terminal(monkeypatch):
    class Tty(io.StringIO):
        def isatty(self):
            return True

    assert console.fit_verbosity(quiet=True) == 0
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert console.fit_verbosity() == 2
    monkeypatch.setattr(sys, "stdout", Tty())
    assert console.fit_verbosity() == 1
