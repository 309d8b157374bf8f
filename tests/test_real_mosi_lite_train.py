"""``train.py`` and the paper runner on the real cmu-mosi-lite bundle (text + audio only,
test fold withheld). Skipped when the bundle is absent."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from conftest import run_cli

pytestmark = pytest.mark.integration

BUNDLE = Path(
    os.environ.get(
        "TFS2S_MOSI_LITE",
        Path(__file__).resolve().parents[1].parent / "shared" / "data" / "cmu-mosi-lite",
    )
)
DATA = [
    "--data",
    str(BUNDLE),
    "--data-map",
    "text=CMU_MOSI_GloVe50_WordVectors,audio=CMU_MOSI_openSMILE_Segment,labels=CMU_MOSI_Opinion_Labels",
]
SMALL = ["--epochs", "1", "--set", "model.hidden=4", "--set", "model.regressor_hidden=4"]


@pytest.fixture(autouse=True)
def bundle():
    if not (BUNDLE / "CMU_MOSI_Opinion_Labels.csd").is_file():
        pytest.skip(f"cmu-mosi-lite bundle not found at {BUNDLE} (set TFS2S_MOSI_LITE)")


def test_train_py_reports_valid_and_says_test_is_omitted(tmp_path):
    out = tmp_path / "run"
    res = run_cli(["train.py", "--topology", "T_A", *DATA, *SMALL, "--out", str(out), "--quiet"])
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "valid" in metrics and "test" not in metrics
    assert "test" in metrics["omitted"]
    assert "omitted" in res.stdout


def test_a_topology_needing_video_is_rejected_clearly(tmp_path):
    res = run_cli(["train.py", "--topology", "T_V", *DATA, *SMALL, "--out", str(tmp_path / "r")])
    assert res.returncode == 2
    assert "needs modalities" in res.stderr and "missing: ['video']" in res.stderr


def test_paper_runner_skips_rows_without_their_modality(tmp_path):
    out = tmp_path / "paper"
    args = ["-m", "tfs2s.cli", "experiments", "paper", *DATA, *SMALL, "--seeds", "1"]
    args += ["--tables", "unimodal", "--out", str(out), "--quiet"]
    res = run_cli(args)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "skip baseline_V: data has no video" in res.stdout
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["topology"] for r in rows) == ["baseline_A", "baseline_T"]
    assert {r["split"] for r in rows} == {"valid"}
    md = (out / "results.md").read_text()
    assert "valid split" in md and "baseline_V (data has no video)" in md
    assert (out / "f1_chart.png").stat().st_size > 1000
    # a rerun skips the finished runs
    res2 = run_cli(args)
    assert res2.returncode == 0, res2.stderr[-3000:]
    assert res2.stdout.count("done before, skipped") == 2
