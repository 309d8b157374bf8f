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


def test_tfs2s_warnings_show_as_one_line_and_others_keep_their_format():
    import io
    import warnings

    from tfs2s import Tfs2sWarning
    from tfs2s.console import one_line_warnings

    saved = warnings.formatwarning
    try:
        one_line_warnings()
        one_line_warnings()  # twice: still one wrapper
        fmt = warnings.formatwarning
        assert fmt(Tfs2sWarning("data.csd: 3 values"), Tfs2sWarning, "x.py", 7) == (
            "tfs2s: warning: data.csd: 3 values\n"
        )
        assert fmt(UserWarning("elsewhere"), UserWarning, "x.py", 7, "src") == (
            saved(UserWarning("elsewhere"), UserWarning, "x.py", 7, "src")
        )
        # what Python prints goes through it
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            err = io.StringIO()
            warnings.showwarning = lambda m, c, f, n, file=None, line=None: err.write(
                warnings.formatwarning(m, c, f, n, line)
            )
            warnings.warn("the file", Tfs2sWarning, stacklevel=1)
        assert err.getvalue() == "tfs2s: warning: the file\n"
        # and a recorder still records it (pytest.warns, catch_warnings(record=True))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.warn("recorded", Tfs2sWarning, stacklevel=1)
        assert [str(w.message) for w in caught] == ["recorded"]
    finally:
        warnings.formatwarning = saved
