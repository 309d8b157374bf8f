"""End-to-end tests of ``train.py`` in fresh processes."""

import json

from conftest import BACKGROUND, ROOT, TINY, run_cli


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


def _twice(work):
    """Background job: a run, then a fresh process from its params.yaml."""
    out = work / "run"
    args = ["train.py", "--topology", "baseline_T", *TINY, "--epochs", "2", "--out", str(out)]
    first = run_cli([*args, "--quiet"])
    out2 = work / "run2"
    second = run_cli(
        ["train.py", "--config", str(out / "params.yaml"), "--out", str(out2), "--quiet"]
    )
    return out, first, out2, second


BACKGROUND_JOBS = {"train-cli/twice": (("test_params_yaml_is_accepted_back_by_config",), _twice)}


def test_params_yaml_is_accepted_back_by_config():
    out, first, out2, second = BACKGROUND.result("train-cli/twice", _twice)
    assert first.returncode == 0, first.stderr[-3000:]
    # where the time went, one line: start-up, trace and train apart
    (line,) = [x for x in first.stdout.splitlines() if x.startswith("time: ")]
    assert " s start-up, " in line and " s trace, " in line and " s train (regression " in line
    assert second.returncode == 0, second.stderr[-3000:]
    # same config, same seed, same data -> same metrics (op determinism on CPU)
    m1 = json.loads((out / "metrics.json").read_text())
    m2 = json.loads((out2 / "metrics.json").read_text())
    assert m1["valid"]["mae"] == m2["valid"]["mae"]
    assert (ROOT / "train.py").exists()
