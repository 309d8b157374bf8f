"""``tfs2s evaluate|predict|explain`` and ``tfs2s experiments robustness`` end to end.

In process (``tfs2s.cli.main``) on the one tiny finished T_A run of
:mod:`tfs2s.inference.testing`, trained once per test process.
"""

import csv
import json
import shutil

import pytest

from tfs2s.cli import main


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    from tfs2s.inference.testing import tiny_finished_run

    return tiny_finished_run(tmp_path_factory.mktemp("runs"))


def _error(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("tfs2s: error: ") and "\n" not in err, err
    return err


@pytest.mark.parametrize(
    "command", [["evaluate"], ["predict"], ["explain"], ["experiments", "robustness"]]
)
def test_help_has_an_example(command, capsys):
    with pytest.raises(SystemExit) as e:
        main([*command, "--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "example:" in out and "--data" in out


def test_evaluate_prints_metrics_json(run_dir, tmp_path, capsys):
    assert main(["evaluate", "--run", run_dir, "--json", "--out", str(tmp_path / "m.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    with open(f"{run_dir}/metrics.json") as f:
        assert printed == json.load(f) == json.loads((tmp_path / "m.json").read_text())
    assert main(["evaluate", "--run", run_dir, "--split", "test"]) == 0
    table = capsys.readouterr().out
    assert "acc2" in table and "test" in table and "valid" not in table


def test_predict_writes_one_row_per_segment(run_dir, tmp_path, capsys):
    out = tmp_path / "p.jsonl"
    assert main(["predict", "--run", run_dir, "--format", "jsonl", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 150 and set(rows[0]) >= {"segment_id", "video_id", "sentiment", "label"}
    assert (
        main(["predict", "--run", run_dir, "--split", "test", "--out", str(tmp_path / "p.csv")])
        == 0
    )
    with open(tmp_path / "p.csv", newline="") as f:
        assert {r["split"] for r in csv.DictReader(f)} == {"test"}


def test_explain_and_robustness(run_dir, tmp_path, capsys):
    assert main(["explain", "--run", run_dir, "--top", "1", "--out", str(tmp_path / "x")]) == 0
    report = json.loads((tmp_path / "x" / "explain.json").read_text())
    assert [s["group"] for s in report["segments"]] == ["wrong", "right"]
    argv = ["experiments", "robustness", "--runs", run_dir, "--corruptions", "missing"]
    assert main([*argv, "--out", str(tmp_path / "r")]) == 0
    assert "| T_A | audio | no |" in capsys.readouterr().out


def test_errors_are_one_line_and_write_nothing(run_dir, tmp_path, capsys):
    out = tmp_path / "out"
    missing = str(tmp_path / "nope")
    assert "does not exist" in _error(capsys, ["evaluate", "--run", missing])
    assert "does not exist" in _error(capsys, ["predict", "--run", missing, "--out", str(out)])
    half = tmp_path / "half"
    half.mkdir()
    shutil.copy(f"{run_dir}/params.yaml", half / "params.yaml")
    err = _error(capsys, ["predict", "--run", str(half), "--out", str(out)])
    assert "half-written" in err and "model.keras" in err
    err = _error(capsys, ["explain", "--run", run_dir, "--segments", "nope_1", "--out", str(out)])
    assert "unknown segment ids ['nope_1']" in err
    err = _error(
        capsys,
        [
            "experiments",
            "robustness",
            "--runs",
            run_dir,
            "--corruptions",
            "blur",
            "--out",
            str(out),
        ],
    )
    assert "unknown corruption 'blur'" in err
    err = _error(capsys, ["experiments", "robustness", "--runs", str(half), "--out", str(out)])
    assert "half-written" in err
    assert "max_seq_len" in _error(
        capsys, ["evaluate", "--run", run_dir, "--set", "data.max_seq_len=6"]
    )
    assert not out.exists()
    # an output path that is a directory: refused before any scoring, not after it
    for command in ("predict", "evaluate"):
        err = _error(capsys, [command, "--run", run_dir, "--out", str(tmp_path)])
        assert (
            err
            == f"tfs2s: error: --out {tmp_path}: is a directory; expected the path of a file to write"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["half"]
