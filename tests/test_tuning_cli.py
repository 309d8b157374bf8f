"""End-to-end keras-tuner searches: ``train.py --tune`` and ``tfs2s tune``.

Most single-process searches run in this process through the CLI's ``main``; the Bayesian
and Hyperband searches run in fresh processes and the distributed search runs a chief and
two workers as local processes on 127.0.0.1: background jobs (see tests/conftest.py) that
start when the tests are collected.
"""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BACKGROUND, free_port, wait_all

from tfs2s.cli import build_parser, config_from_args, main
from tfs2s.config import load_yaml

ROOT = Path(__file__).resolve().parents[1]
SPACE = """\
model.hidden: {type: choice, values: [4, 8]}
model.regressor_hidden: {type: choice, values: [4, 8]}
train.batch_size: {type: choice, values: [8, 16]}
model.depth: null
"""
TINY = ["--set", "data.synthetic_segments=120", "--set", "data.max_seq_len=5", "--quiet"]


@pytest.fixture
def space(tmp_path):
    path = tmp_path / "space.yaml"
    path.write_text(SPACE)
    return str(path)


def trials(directory):
    with open(Path(directory) / "trials.csv") as f:
        return list(csv.DictReader(f))


def trial_files(directory):
    return {
        p.parent.name: p.read_text()
        for p in sorted((Path(directory) / "keras_tuner").glob("trial_*/trial.json"))
    }


def check_best_config(directory, rows, metric, best):
    """best_config.yaml is the best completed trial's values, and train.py accepts it."""
    path = Path(directory) / "best_config.yaml"
    cfg = load_yaml(path)
    done = [r for r in rows if r["status"] == "COMPLETED"]
    top = best(done, key=lambda r: float(r[metric]))
    for key in ("model.regressor_hidden", "train.batch_size"):
        section, field = key.split(".")
        assert str(getattr(getattr(cfg, section), field)) == top[key]
    args = build_parser().parse_args(["train", "--config", str(path)])
    assert config_from_args(args) == cfg


def tune_args(topology, directory, *flags):
    """``tfs2s tune`` arguments of a tiny search of ``topology`` into ``directory``."""
    return ["tune", "--topology", topology, "--tune-dir", str(directory), *flags, *TINY]


def test_train_py_random_search_then_a_rerun_runs_only_the_missing_trial(tmp_path, space, capsys):
    directory = tmp_path / "search"
    argv = ["train", "--topology", "baseline_T", "--tune", "random", "--tune-dir", str(directory)]
    argv += ["--space", space, "--epochs", "1", *TINY]
    assert main([*argv, "--max-trials", "2"]) == 0
    first = trial_files(directory)
    assert sorted(first) == ["trial_0", "trial_1"]
    capsys.readouterr()

    assert main([*argv, "--max-trials", "3"]) == 0
    out = capsys.readouterr().out
    assert "2 trial(s) recorded, 1 to run" in out
    again = trial_files(directory)
    assert sorted(again) == ["trial_0", "trial_1", "trial_2"]
    assert {k: again[k] for k in first} == first  # finished trials were not run again
    rows = trials(directory)
    assert [r["trial_id"] for r in rows] == ["0", "1", "2"]
    assert {r["status"] for r in rows} == {"COMPLETED"}
    assert "model.hidden" not in rows[0]  # a baseline has no encoder to size
    check_best_config(directory, rows, "valid_mae", min)


def test_a_rerun_with_another_space_is_refused(tmp_path, space, capsys):
    argv = tune_args("baseline_T", tmp_path / "search", "--epochs", "1", "--max-trials", "1")
    assert main([*argv, "--space", space]) == 0
    assert main(argv) == 2
    assert "holds a search with other settings (space differ" in capsys.readouterr().err


def _search(topology: str, *flags: str):
    """Background job: ``tfs2s tune`` of ``topology`` in a fresh process."""

    def job(work: Path) -> tuple[Path, subprocess.CompletedProcess]:
        space = work / "space.yaml"
        space.write_text(SPACE)
        directory = work / "search"
        args = ["-m", "tfs2s.cli", *tune_args(topology, directory, *flags, "--space", str(space))]
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
        res = subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
        )
        return directory, res

    return job


_BAYESIAN = _search(
    "T_V", "--tuner", "bayesian", "--objective", "f1_2", "--max-trials", "2", "--epochs", "1"
)
_HYPERBAND = _search("baseline_T", "--tuner", "hyperband", "--max-epochs", "3", "--max-trials", "4")


def test_bayesian_search_of_a_seq2seq_topology_on_binary_f1():
    directory, res = BACKGROUND.result("tuning/bayesian", _BAYESIAN)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = trials(directory)
    assert len(rows) == 2 and {r["status"] for r in rows} == {"COMPLETED"}
    assert "model.hidden" in rows[0] and "valid_f1_2" in rows[0]
    check_best_config(directory, rows, "valid_f1_2", max)


def test_hyperband_search_honours_the_epoch_budget():
    directory, res = BACKGROUND.result("tuning/hyperband", _HYPERBAND)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = trials(directory)
    assert len(rows) == 4 and {r["status"] for r in rows} == {"COMPLETED"}
    assert {r["tuner/epochs"] for r in rows} == {"1", "3"}
    promoted = [r for r in rows if r["tuner/trial_id"]]
    assert promoted and promoted[0]["tuner/epochs"] == "3"
    cfg = load_yaml(directory / "best_config.yaml")
    best = min(rows, key=lambda r: float(r["valid_mae"]))
    assert cfg.train.epochs == int(best["tuner/epochs"])


def test_multiworker_strategy_is_refused_for_searches(tmp_path, capsys):
    assert main(tune_args("baseline_T", tmp_path, "--strategy", "multiworker")) == 2
    assert "distributed search" in capsys.readouterr().err


def _distributed_search(work: Path) -> dict:
    """Background job: a chief and two workers of one search, waited for.

    The chief idles most of the search (it serves the oracle, and keras-tuner's chief looks
    again only every 20 s for the last worker once the first is told to stop): as a
    background job (see tests/conftest.py) that wait passes beside the in-process tests.
    """
    space = work / "space.yaml"
    space.write_text(SPACE)
    directory = work / "search"
    port = str(free_port())
    cmd = [sys.executable, "-m", "tfs2s.cli"]
    cmd += tune_args(
        "baseline_T", directory, "--max-trials", "3", "--space", str(space), "--epochs", "1"
    )
    procs, logs = [], []
    for tuner_id in ("chief", "tuner0", "tuner1"):
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            TF_CPP_MIN_LOG_LEVEL="2",
            KERASTUNER_TUNER_ID=tuner_id,
            KERASTUNER_ORACLE_IP="127.0.0.1",
            KERASTUNER_ORACLE_PORT=port,
        )
        env.pop("TF_CONFIG", None)
        logs.append(work / f"{tuner_id}.log")
        with logs[-1].open("w") as out:
            proc = BACKGROUND.popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        if proc is None:  # the session is ending: it kills those already started
            pytest.fail("not started: the session is ending")
        procs.append(proc)
    codes = wait_all(procs, timeout=300)
    return {
        "directory": directory,
        "codes": codes,
        "output": [log.read_text() for log in logs],
    }


BACKGROUND_JOBS = {
    "tuning/distributed": (
        ("test_a_chief_and_two_workers_run_every_trial_once",),
        _distributed_search,
    ),
    "tuning/bayesian": (("test_bayesian_search_of_a_seq2seq_topology_on_binary_f1",), _BAYESIAN),
    "tuning/hyperband": (("test_hyperband_search_honours_the_epoch_budget",), _HYPERBAND),
}


@pytest.mark.multiprocess
def test_a_chief_and_two_workers_run_every_trial_once():
    search = BACKGROUND.result("tuning/distributed", _distributed_search)
    directory, output = search["directory"], search["output"]
    assert search["codes"] == [0, 0, 0], "\n".join(o[-2000:] for o in output)
    assert "chief serving the oracle on 127.0.0.1:" in output[0]
    assert all("done; the chief writes the results" in o for o in output[1:])
    rows = trials(directory)
    assert [r["trial_id"] for r in rows] == ["0", "1", "2"]
    assert {r["status"] for r in rows} == {"COMPLETED"}
    oracle = json.loads((directory / "keras_tuner" / "oracle.json").read_text())
    assert sorted(oracle["end_order"]) == ["0", "1", "2"]
    assert sorted(trial_files(directory)) == ["trial_0", "trial_1", "trial_2"]
    check_best_config(directory, rows, "valid_mae", min)
