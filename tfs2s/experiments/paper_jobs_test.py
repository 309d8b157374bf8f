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
# That two jobs publish the runs and tables of one, and resume after a kill, is
# tests/test_paper_jobs_cli.py.


def test_rows_are_queued_costliest_first():
    rows = ["baseline_T", "T_A", "embed_AV_T", "baseline_TAV", "concat_TV_A"]
    assert paper_jobs.costliest_first(rows) == [
        "embed_AV_T",
        "concat_TV_A",
        "T_A",
        "baseline_TAV",
        "baseline_T",
    ]


def test_embed_rows_are_queued_after_the_row_that_trains_their_first_stage():
    rows = ["baseline_T", "T_A", "A_T", "embed_TA_V", "embed_AV_T", "concat_TV_A"]
    assert paper_jobs.queued_groups(rows) == [
        ("T_A", "embed_TA_V"),  # T -> A is embed(T, A) -> V's first stage
        ("embed_AV_T",),  # A_V is not among the rows
        ("concat_TV_A",),
        ("A_T",),
        ("baseline_T",),
    ]


def test_the_cpus_are_split_between_the_jobs(monkeypatch):
    monkeypatch.setattr(paper_jobs, "usable_cpus", lambda: 8)
    assert [paper_jobs.threads_per_job(j) for j in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]


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
