import os

import pytest

from tfs2s.config import RunConfig
from tfs2s.experiments import paper, paper_jobs

TINY = RunConfig().replace(
    **{
        "data.synthetic_segments": 120,
        "data.max_seq_len": 5,
        "model.hidden": 4,
        "model.regressor_hidden": 4,
        "train.batch_size": 16,
        "train.epochs": 2,
        "train.translator_epochs": 1,
    }
)
#: Every file of a run that does not hold a time stamp (model.keras and the TensorBoard
#: logs do).
SAME_FILES = ("params.yaml", "metrics.json", "history.csv", "trained.json")


def test_rows_are_queued_costliest_first():
    rows = ["baseline_T", "T_A", "embed_AV_T", "baseline_TAV", "concat_TV_A"]
    assert paper_jobs.costliest_first(rows) == [
        "embed_AV_T",
        "concat_TV_A",
        "T_A",
        "baseline_TAV",
        "baseline_T",
    ]


def test_the_cpus_are_split_between_the_jobs(monkeypatch):
    monkeypatch.setattr(paper_jobs, "usable_cpus", lambda: 8)
    assert [paper_jobs.threads_per_job(j) for j in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


def test_two_jobs_publish_the_runs_and_tables_of_one_job(tmp_path):
    # Baselines trace fastest; that a reused trainer's later seeds equal fresh ones for
    # translations too is fit_test's test_reused_trainer_matches_a_fresh_one_for_the_same_seed.
    kwargs = dict(seeds=2, tables=["unimodal"], split="valid")
    logs = []
    two = paper.run_paper(TINY, str(tmp_path / "two"), jobs=2, log=logs.append, **kwargs)
    assert [(r["topology"], r["seed"]) for r in two["rows"]] == [
        (name, seed) for name in ("baseline_T", "baseline_A", "baseline_V") for seed in (0, 1)
    ]
    one = paper.run_paper(TINY, str(tmp_path / "one"), jobs=1, log=lambda line: None, **kwargs)
    assert two["rows"] == one["rows"]
    for name in ("baseline_T", "baseline_A", "baseline_V"):
        for seed in (0, 1):
            for file in SAME_FILES:
                mine = paper.run_dir(str(tmp_path / "two"), name, seed)
                theirs = paper.run_dir(str(tmp_path / "one"), name, seed)
                with open(os.path.join(mine, file)) as a, open(os.path.join(theirs, file)) as b:
                    assert a.read() == b.read(), (name, seed, file)
    for file in ("results.csv", "results.md"):
        assert (tmp_path / "two" / file).read_text() == (tmp_path / "one" / file).read_text()
    # every run is reported once when it starts and once when it ends, numbered 1..6
    assert sorted(line.split("]")[0] for line in logs if "training" in line) == [
        f"[{k}/6" for k in range(1, 7)
    ]
    assert sum(" s, valid f1_2 " in line for line in logs) == 6


def test_a_failing_row_stops_every_job_with_its_error(tmp_path):
    # a finished run of another config in the way of one row: that worker's InputError
    # reaches the caller, as with one job
    other = TINY.replace(**{"train.epochs": 1})
    paper.run_paper(
        other,
        str(tmp_path),
        seeds=1,
        tables=["unimodal"],
        shard=(1, 3),
        jobs=1,
        log=lambda line: None,
    )
    with pytest.raises(ValueError, match="different config"):
        paper.run_paper(
            TINY, str(tmp_path), seeds=1, tables=["unimodal"], jobs=2, log=lambda line: None
        )


def test_jobs_need_the_default_strategy_and_a_positive_count(tmp_path):
    with pytest.raises(ValueError, match="auto or one"):
        paper.run_paper(
            TINY.replace(**{"train.strategy": "mirrored"}),
            str(tmp_path),
            tables=["unimodal"],
            jobs=2,
            log=lambda line: None,
        )
    with pytest.raises(ValueError, match="--jobs must be >= 1"):
        paper.run_paper(TINY, str(tmp_path), tables=["unimodal"], jobs=0, log=lambda line: None)
