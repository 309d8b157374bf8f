"""Session fixture of the inference tests: one tiny finished T_A run."""

from __future__ import annotations

import pytest

from tfs2s.inference.testing import tiny_finished_run


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    return tiny_finished_run(tmp_path_factory.mktemp("use-runs"))


@pytest.fixture(scope="session")
def opened(tiny_run):
    """(TrainedRun, source) of the tiny run on its own data."""
    from tfs2s.inference.runs import load_run_source, open_run

    run = open_run(tiny_run)
    return run, load_run_source(run, {})
