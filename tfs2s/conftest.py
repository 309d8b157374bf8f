"""Session fixtures of the unit tests: one tiny finished T_A run, opened and exported."""

from __future__ import annotations

import pytest

from tfs2s.inference.testing import tiny_finished_run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The run directory of :func:`tfs2s.inference.testing.tiny_finished_run` (T_A)."""
    return tiny_finished_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def opened(tiny_run):
    """(TrainedRun, source) of the tiny run on its own data."""
    from tfs2s.inference.runs import load_run_source, open_run

    run = open_run(tiny_run)
    return run, load_run_source(run, {})


@pytest.fixture(scope="session")
def tiny_export(tiny_run, tmp_path_factory):
    """(ExportResult, TrainedModel) of ``tiny_run`` exported as ``tfs2s`` version 1.

    Exported without XLA: an XLA program of the unrolled LSTMs takes seconds to compile
    per batch size, and what these tests check does not depend on it. XLA exports are
    checked on stand-in models (serving/signatures_test) and end to end, verified against
    Keras, by the README-path tests (``tests/test_readme_paths.py``).
    """
    from tfs2s.serving.export import export_run
    from tfs2s.training.fit import TrainedModel

    result = export_run(
        tiny_run, out=tmp_path_factory.mktemp("serving"), name="tfs2s", jit_compile=False
    )
    return result, TrainedModel.load(tiny_run)
