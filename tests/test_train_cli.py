"""End-to-end tests of ``train.py`` in fresh processes."""

import csv
import json

import yaml
from conftest import ROOT, TINY, run_cli

from tfs2s.training.metrics import METRIC_KEYS


def test_list_topologies_prints_every_poster_row_with_notation():
    res = run_cli(["train.py", "--list-topologies"])
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(line.split() == ["embed_AV_T", "embed(A,", "V)", "->", "T"] for line in lines)
    assert sum(1 for line in lines if line and not line.startswith("#")) == 26


def test_malformed_topology_fails_clearly():
    res = run_cli(["train.py", "--topology", "T_embed_AV"])
    assert res.returncode == 2
    assert "malformed topology 'T_embed_AV'" in res.stderr and "grammar" in res.stderr


def test_bad_config_key_lists_valid_keys():
    res = run_cli(["train.py", "--topology", "T_V", "--set", "train.epochz=3"])
    assert res.returncode == 2
    assert "unknown config key 'train.epochz'" in res.stderr and "train.epochs" in res.stderr


def test_train_one_epoch_writes_every_artefact(tmp_path):
    out = tmp_path / "run"
    res = run_cli(
        [
            "train.py",
            "--topology",
            "embed_AV_T",
            "--recipe",
            "poster",
            *TINY,
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    for name in ("params.yaml", "model.keras", "translator.keras", "metrics.json", "history.csv"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("*tfevents*"))
    params = yaml.safe_load((out / "params.yaml").read_text())
    assert params["topology"] == "embed_AV_T" and params["train"]["epochs"] == 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"valid", "test"}
    assert set(metrics["valid"]) == set(METRIC_KEYS)
    with open(out / "history.csv") as f:
        rows = list(csv.DictReader(f))
    # hierarchical two-phase: stage-1 translation, stage-2 translation, regression
    assert len({r["phase"] for r in rows}) == 3
    assert "embed_AV_T" in res.stdout and "f1_2" in res.stdout


def test_params_yaml_is_accepted_back_by_config(tmp_path):
    out = tmp_path / "run"
    res = run_cli(["train.py", "--topology", "baseline_T", *TINY, "--out", str(out), "--quiet"])
    assert res.returncode == 0, res.stderr[-3000:]
    out2 = tmp_path / "run2"
    res2 = run_cli(
        ["train.py", "--config", str(out / "params.yaml"), "--out", str(out2), "--quiet"]
    )
    assert res2.returncode == 0, res2.stderr[-3000:]
    # same config, same seed, same data -> same metrics (op determinism on CPU)
    m1 = json.loads((out / "metrics.json").read_text())
    m2 = json.loads((out2 / "metrics.json").read_text())
    assert m1["valid"]["mae"] == m2["valid"]["mae"]
    assert (ROOT / "train.py").exists()
