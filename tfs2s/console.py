"""What the command line shows on a user's terminal: no TensorFlow start-up noise, and
progress that suits where stdout goes.

TensorFlow 2.21 logs its start-up (``cudart_stub ... Could not find cuda drivers``, the
oneDNN note, the absl ``InitializeLog`` banner, ``cuInit`` failures) from C++ through absl,
which ignores ``TF_CPP_MIN_LOG_LEVEL`` before logging is initialised. So besides setting the
usual variables, :func:`quiet_tensorflow` arranges for the first ``import tensorflow`` to
run with file descriptor 2 pointed at a temporary file.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import sys
import tempfile
import warnings

#: Environment set (unless the user set it) before TensorFlow is imported.
QUIET_ENV = {
    # C++ INFO, WARNING and ERROR lines: TensorFlow's C++ "errors" on a working CPU run
    # are notes such as "oneDNN supports DT_BOOL only on platforms with AVX-512"; real
    # failures reach the user as Python exceptions.
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "GRPC_VERBOSITY": "ERROR",  # multi-worker gRPC start-up lines
}


def quiet_tensorflow(verbose: bool = False) -> None:
    """Silence TensorFlow's start-up and Python-side warnings (``verbose``: change nothing).

    Cheap: TensorFlow is not imported here (``--help`` or ``--list-topologies`` stay fast);
    the first ``import tensorflow`` afterwards runs with stderr captured. If TensorFlow is
    already imported, only its Python logger (retracing warnings) and absl are quieted.
    """
    if verbose:
        return
    for name, value in QUIET_ENV.items():
        os.environ.setdefault(name, value)
    if "tensorflow" in sys.modules:
        _quiet_loggers(sys.modules["tensorflow"])
    elif not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


def _quiet_loggers(tf) -> None:
    # "N out of the last M calls to <function> triggered tf.function retracing" and the
    # like are warnings for library authors, not for someone training a model.
    tf.get_logger().setLevel("ERROR")
    try:
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)
    except ImportError:  # absl ships with TensorFlow; nothing to quiet without it
        pass


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Runs the first ``import tensorflow`` with file descriptor 2 captured (then removes
    itself): the captured lines are dropped when the import succeeds and replayed when it
    fails, so a broken installation still explains itself."""

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def quiet_exec_module(module):
            with _captured_stderr():
                exec_module(module)
            _quiet_loggers(module)

        spec.loader.exec_module = quiet_exec_module
        return spec


@contextlib.contextmanager
def _captured_stderr():
    try:
        stderr_fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # stderr replaced (pytest capture, IDEs)
        stderr_fd = 2
    sys.stderr.flush()
    saved = os.dup(stderr_fd)
    with tempfile.TemporaryFile(mode="w+b") as sink:
        os.dup2(sink.fileno(), stderr_fd)
        try:
            yield
        except BaseException:
            os.dup2(saved, stderr_fd)
            sink.seek(0)
            sys.stderr.write(sink.read().decode(errors="replace"))
            raise
        finally:
            sys.stderr.flush()
            os.dup2(saved, stderr_fd)
            os.close(saved)


def add_verbose_arg(parser) -> None:
    """Add ``--verbose`` to a command's parser (its default leaves ``tfs2s --verbose CMD``
    alone)."""
    import argparse

    parser.add_argument(
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show TensorFlow's start-up logs and warnings (hidden by default)",
    )


def fit_verbosity(quiet: bool = False) -> int:
    """Keras ``verbose`` for ``fit``: 0 when ``quiet``; a progress bar on a terminal; one
    plain line per epoch when stdout is a pipe or a file (CI, ``| tee``, ``nohup``), where
    carriage-return bars and escape codes turn into clutter."""
    if quiet:
        return 0
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    return 1 if tty else 2


def one_line_warnings() -> None:
    """Show tfs2s's own warnings (:class:`~tfs2s.Tfs2sWarning`) as one line,
    ``tfs2s: warning: ...``, without Python's file, line number and source line, which
    point into tfs2s, not at the user's input. Other warnings keep Python's format.

    Only the formatting changes (``warnings.formatwarning``), so filters and
    ``warnings.catch_warnings(record=True)`` see every warning as before."""
    from tfs2s import Tfs2sWarning

    formatted = warnings.formatwarning
    if getattr(formatted, "tfs2s_one_line", False):
        return

    def one_line(message, category, filename, lineno, line=None):
        if issubclass(category, Tfs2sWarning):
            return f"tfs2s: warning: {message}\n"
        return formatted(message, category, filename, lineno, line)

    one_line.tfs2s_one_line = True
    warnings.formatwarning = one_line
