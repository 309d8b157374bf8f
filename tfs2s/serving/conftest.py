"""Session fixtures for the serving tests: one tiny trained run and its export."""

from __future__ import annotations

import pytest

from tfs2s.serving import testing


@pytest.fixture(scope="session")
def tiny_run_dir(tmp_path_factory):
    """A real T_V run: 1 epoch of each phase on 120 synthetic segments, hidden 4."""
    return testing.tiny_run(tmp_path_factory.mktemp("runs"), "T_V")


@pytest.fixture(scope="session")
def tiny_export(tiny_run_dir, tmp_path_factory):
    """(ExportResult, TrainedModel) of ``tiny_run_dir`` exported as ``tfs2s`` version 1.

    Exported without XLA: an XLA program of the unrolled LSTMs takes seconds to compile
    per batch size, and what these tests check does not depend on it. XLA exports are
    checked on stand-in models (signatures_test) and end to end, verified against Keras,
    by ``tests/test_export_cli.py``.
    """
    from tfs2s.serving.export import export_run
    from tfs2s.training.fit import TrainedModel

    result = export_run(
        tiny_run_dir, out=tmp_path_factory.mktemp("serving"), name="tfs2s", jit_compile=False
    )
    return result, TrainedModel.load(tiny_run_dir)
