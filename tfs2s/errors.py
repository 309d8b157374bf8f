"""The exceptions the CLI reports as one line (``tfs2s: error: ...``, exit 2).

:class:`InputError` is a ``ValueError``, so library callers that catch ``ValueError``
keep working; :func:`read_error` turns any failure of a reader (truncated HDF5, flipped
bytes, a directory where a file was expected, a binary YAML) into one that names the file.
"""

from __future__ import annotations

import os


class InputError(ValueError):
    """Bad input from the user: a file that cannot be read, a refused directory, a config."""


class TrainingDiverged(InputError):
    """Training produced a non-finite loss (the config, e.g. its learning rate, diverges)."""


def describe(error: BaseException) -> str:
    """``"Type: first line of the message"`` of any exception, for a one-line report."""
    text = str(error).strip()
    if isinstance(error, KeyError) and len(error.args) == 1:
        text = str(error.args[0])
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def read_error(path: str | os.PathLike, what: str, error: BaseException) -> InputError:
    """An :class:`InputError` for a ``path`` that could not be read as ``what``.

    Args:
        path: the file or directory.
        what: what it was read as, e.g. ``"a CMU-SDK .csd file"``.
        error: the reader's exception (its type and first line are kept).
    """
    if isinstance(error, InputError) and os.fspath(path) in str(error):
        return error
    if os.path.isdir(path):
        return InputError(f"{os.fspath(path)}: cannot read it as {what}: it is a directory")
    return InputError(f"{os.fspath(path)}: cannot read it as {what}: {describe(error)}")
