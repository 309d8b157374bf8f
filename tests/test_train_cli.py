"""End-to-end tests of ``train.py`` in fresh processes."""

import json

from conftest import ROOT, TINY, run_cli

from tfs2s.cli import main


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


def test_params_yaml_is_accepted_back_by_config(tmp_path, capsys):
    # The first run in this process (``train.py`` is ``tfs2s train``), the second in a fresh
    # one: the same metrics from both also prove the run does not depend on the process.
    out = tmp_path / "run"
    args = ["train", "--topology", "baseline_T", *TINY, "--epochs", "2", "--out", str(out)]
    assert main([*args, "--quiet"]) == 0
    # where the time went, one line: start-up, trace and train apart
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("time: ")]
    assert " s start-up, " in line and " s trace, " in line and " s train (regression " in line
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
