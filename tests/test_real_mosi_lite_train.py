"""``train.py`` and the paper runner on the real cmu-mosi-lite bundle (text + audio only,
test fold withheld). Skipped when the bundle is absent."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
from conftest import BACKGROUND, run_cli

from tfs2s import Tfs2sWarning
from tfs2s.cli import main

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
SMALL += ["--set", "data.max_seq_len=5"]  # words per segment: the unrolled graphs' size


@pytest.fixture(autouse=True)
def bundle():
    if not (BUNDLE / "CMU_MOSI_Opinion_Labels.csd").is_file():
        pytest.skip(f"cmu-mosi-lite bundle not found at {BUNDLE} (set TFS2S_MOSI_LITE)")


def _train_t_a(work: Path):
    out = work / "run"
    res = run_cli(["train.py", "--topology", "T_A", *DATA, *SMALL, "--out", str(out), "--quiet"])
    return out, res


def _paper_unimodal(work: Path):
    out = work / "paper"
    args = ["-m", "tfs2s.cli", "experiments", "paper", *DATA, *SMALL, "--seeds", "1"]
    args += ["--tables", "unimodal", "--out", str(out), "--quiet"]
    return out, args, run_cli(args)


# Fresh processes, started with the session beside the in-process tests (tests/conftest.py);
# without the bundle they are not queued (no bundle: the tests skip before asking).
BACKGROUND_JOBS = (
    {
        "mosi-lite/train": (("test_train_py_reports_valid_and_says_test_is_omitted",), _train_t_a),
        "mosi-lite/paper": (
            ("test_paper_runner_skips_rows_without_their_modality",),
            _paper_unimodal,
        ),
    }
    if (BUNDLE / "CMU_MOSI_Opinion_Labels.csd").is_file()
    else {}
)


def test_train_py_reports_valid_and_says_test_is_omitted():
    out, res = BACKGROUND.result("mosi-lite/train", _train_t_a)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert "valid" in metrics and "test" not in metrics
    assert "test" in metrics["omitted"]
    assert "omitted" in res.stdout


def test_a_topology_needing_video_is_rejected_clearly(tmp_path, capsys):
    # In this process, where the project's warnings are errors: the bundle withholds the test
    # fold, which the loader says before the topology is checked against the data.
    argv = ["train", "--topology", "T_V", *DATA, *SMALL, "--out", str(tmp_path / "r")]
    with pytest.warns(Tfs2sWarning, match=r"31 fold videos are absent"):
        assert main(argv) == 2
    err = capsys.readouterr().err
    assert "needs modalities" in err and "missing: ['video']" in err
    assert not (tmp_path / "r").exists()


def test_paper_runner_skips_rows_without_their_modality(capsys):
    out, args, res = BACKGROUND.result("mosi-lite/paper", _paper_unimodal)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "skip baseline_V: data has no video" in res.stdout
    with open(out / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert sorted(r["topology"] for r in rows) == ["baseline_A", "baseline_T"]
    assert {r["split"] for r in rows} == {"valid"}
    md = (out / "results.md").read_text()
    assert "valid split" in md and "baseline_V (data has no video)" in md
    assert (out / "f1_chart.png").stat().st_size > 1000
    # a rerun skips the finished runs (in this process: see the test above for the warning)
    capsys.readouterr()
    with pytest.warns(Tfs2sWarning, match=r"31 fold videos are absent"):
        assert main(args[2:]) == 0
    assert capsys.readouterr().out.count("done before, skipped") == 2
