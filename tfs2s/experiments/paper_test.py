"""The paper-table runner: shards, skipping, resuming, aggregation and its files."""

from __future__ import annotations

import csv
import json
import os

import pytest

from tfs2s.config import RunConfig, dump_yaml
from tfs2s.experiments import paper
from tfs2s.experiments.poster import POSTER_RESULTS
from tfs2s.topology import PAPER_TABLES
from tfs2s.training.metrics import METRIC_KEYS

ALL_ROWS = [n for t in PAPER_TABLES for n in PAPER_TABLES[t]]


def test_parse_shard():
    assert paper.parse_shard(None) == (1, 1)
    assert paper.parse_shard("2/3") == (2, 3)
    for bad in ("0/3", "4/3", "1/0", "x", "1-2"):
        with pytest.raises(ValueError, match="--shard"):
            paper.parse_shard(bad)


def test_shards_partition_the_rows_and_missing_modalities_are_skipped():
    tables = list(PAPER_TABLES)
    seen = []
    for i in (1, 2, 3):
        plan = paper.plan_rows(tables, ["text", "audio", "video"], (i, 3))
        assert not plan.skipped
        seen += plan.rows
    assert sorted(seen) == sorted(ALL_ROWS) and len(seen) == 26

    plan = paper.plan_rows(tables, ["text", "audio"], (1, 1))
    assert plan.rows == ["baseline_T", "baseline_A", "baseline_TA", "T_A", "A_T"]
    assert plan.skipped["baseline_V"] == "data has no video"
    assert plan.skipped["embed_AT_V"] == "data has no video"
    assert len(plan.rows) + len(plan.skipped) == 26

    with pytest.raises(ValueError, match="unknown tables"):
        paper.plan_rows(["quadmodal"], ["text"], (1, 1))
    # `--tables ,` once ran nothing and rewrote results.md as empty tables
    with pytest.raises(ValueError, match="names no table"):
        paper.plan_rows([], ["text"], (1, 1))
    twice = paper.plan_rows(["unimodal", "unimodal"], ["text", "audio", "video"], (1, 1))
    assert twice.rows == paper.plan_rows(["unimodal"], ["text", "audio", "video"], (1, 1)).rows


def _fake_run(out, name, seed, cfg, **metrics):
    path = paper.run_dir(str(out), name, seed)
    os.makedirs(path)
    values = dict.fromkeys(METRIC_KEYS, 0.5) | metrics
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump({"test": values, "valid": values}, f)
    dump_yaml(
        cfg.replace(**{"topology": name, "train.seed": seed}), os.path.join(path, "params.yaml")
    )


def test_aggregate_writes_mean_std_beside_the_poster(tmp_path):
    cfg = RunConfig()
    _fake_run(tmp_path, "baseline_T", 0, cfg, f1_2=0.6, f1_7=0.3)
    _fake_run(tmp_path, "baseline_T", 1, cfg, f1_2=0.8, f1_7=0.3)
    _fake_run(tmp_path, "T_A", 0, cfg, f1_2=0.7)
    res = paper.aggregate(
        str(tmp_path),
        ["unimodal", "bimodal"],
        split="test",
        skipped={"baseline_V": "data has no video"},
        log=lambda *_: None,
    )
    mean, std = res["summary"]["baseline_T"]["f1_2"]
    assert mean == pytest.approx(0.7) and std == pytest.approx(0.1414213, abs=1e-6)  # ddof=1
    assert res["summary"]["T_A"]["f1_2"] == (pytest.approx(0.7), 0.0)

    with open(tmp_path / "results.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["topology"], r["seed"]) for r in rows] == [
        ("baseline_T", "0"),
        ("baseline_T", "1"),
        ("T_A", "0"),
    ]
    assert rows[0]["method"] == "UniModal-Baseline" and rows[2]["method"] == "BiModal-Seq2Seq"
    assert rows[2]["feature"] == "T -> A"

    md = (tmp_path / "results.md").read_text()
    poster_f1 = POSTER_RESULTS["baseline_T"][2]
    assert "| UniModal-Baseline | Text (T) | 2 |" in md
    assert f"0.70±0.14 ({poster_f1:.2f})" in md
    assert "baseline_V (data has no video)" in md
    # a row that was not run still shows the poster's figures
    assert f"— ({POSTER_RESULTS['A_T'][2]:.2f})" in md
    assert (tmp_path / "f1_chart.png").stat().st_size > 1000
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]


def test_a_finished_run_of_another_config_is_refused(tmp_path):
    cfg = RunConfig()
    _fake_run(tmp_path, "baseline_T", 0, cfg)
    path = paper.run_dir(str(tmp_path), "baseline_T", 0)
    same = cfg.replace(**{"topology": "baseline_T", "train.seed": 0})
    assert paper._finished(path, same)["test"]["f1_2"] == 0.5
    assert paper._finished(paper.run_dir(str(tmp_path), "baseline_T", 1), same) is None
    with pytest.raises(ValueError, match="different config"):
        paper._finished(path, same.replace(**{"model.hidden": 8}))


def test_run_paper_trains_every_seed_then_a_rerun_redoes_only_a_lost_run(tmp_path):
    base = RunConfig().replace(
        **{
            "data.synthetic_segments": 120,
            "data.max_seq_len": 5,
            "model.hidden": 4,
            "model.regressor_hidden": 4,
            "train.batch_size": 16,
            "train.epochs": 1,
            "train.translator_epochs": 1,
        }
    )
    logs = []
    # shard 1/3 of the unimodal table is baseline_T alone
    res = paper.run_paper(
        base, str(tmp_path), seeds=2, tables=["unimodal"], shard=(1, 3), log=logs.append
    )
    assert [(r["topology"], r["seed"]) for r in res["rows"]] == [
        ("baseline_T", 0),
        ("baseline_T", 1),
    ]
    assert res["split"] == "test"
    # different seeds give different runs
    assert res["rows"][0]["mae"] != res["rows"][1]["mae"]
    first = res["rows"][1]["mae"]

    # lose seed 1's result as if the run had been killed before writing it
    os.remove(os.path.join(paper.run_dir(str(tmp_path), "baseline_T", 1), "metrics.json"))
    logs.clear()
    res = paper.run_paper(
        base, str(tmp_path), seeds=2, tables=["unimodal"], shard=(1, 3), log=logs.append
    )
    assert any("baseline_T seed 0: done before, skipped" in line for line in logs)
    assert any("baseline_T seed 1: training" in line for line in logs)
    # the retrained run reproduces the lost one (same seed, same data)
    assert res["rows"][1]["mae"] == pytest.approx(first, abs=1e-6)

    # the tables of the valid split, from the same runs: nothing is trained again
    logs.clear()
    res = paper.run_paper(
        base,
        str(tmp_path),
        seeds=2,
        tables=["unimodal"],
        shard=(1, 3),
        split="valid",
        log=logs.append,
    )
    assert res["split"] == "valid" and {r["split"] for r in res["rows"]} == {"valid"}
    assert sum("done before, skipped" in line for line in logs) == 2
    assert "ours on the valid split" in (tmp_path / "results.md").read_text()
    with pytest.raises(ValueError, match="expected 'valid' or 'test'"):
        paper.run_paper(base, str(tmp_path), tables=["unimodal"], split="train", log=logs.append)


def test_one_job_gives_every_row_the_same_stage_memo(tmp_path, monkeypatch):
    from tfs2s.training.stage_memo import StageMemo

    memos = {}

    def fake_row(name, base, out, seeds, source, strategy, verbose, split, progress, memo):
        memos[name] = memo

    monkeypatch.setattr(paper, "run_row", fake_row)
    monkeypatch.setattr(paper, "aggregate", lambda *args, **kwargs: {})
    cfg = RunConfig().replace(**{"data.synthetic_segments": 60, "data.max_seq_len": 4})
    paper.run_paper(cfg, str(tmp_path), seeds=1, tables=["bimodal", "trimodal"], log=print)
    # the tables' order puts X_Y before embed_XY_Z, so one memo serves the pair
    names = list(memos)
    assert names.index("T_A") < names.index("embed_TA_V")
    (memo,) = {id(m): m for m in memos.values()}.values()
    assert isinstance(memo, StageMemo)
