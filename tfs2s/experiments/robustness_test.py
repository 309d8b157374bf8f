import math
import shutil

import numpy as np
import pytest

from tfs2s.experiments.robustness import (
    effective_robustness,
    reference_of,
    relative_robustness,
    run_robustness,
    study_run,
    summarise,
)


@pytest.fixture(scope="module")
def rows(opened):
    run, source = opened
    return study_run(run, source, split="test")


def test_level_zero_equals_the_clean_score(opened, rows):
    from tfs2s.inference.evaluate import evaluate_run

    run, source = opened
    clean = evaluate_run(run, source, "test")["test"]
    zero = [r for r in rows if r["level"] == 0]
    assert len(zero) == 2 * 3  # text and audio x three corruptions
    for r in zero:
        assert {k: r[k] for k in clean} == clean


def test_a_modality_not_read_at_inference_changes_nothing(opened, rows):
    """T_A trains on audio but reads only text: corrupting audio must not move a score."""
    run, source = opened
    clean = [r for r in rows if r["level"] == 0][0]
    audio = [r for r in rows if r["modality"] == "audio"]
    assert len(audio) == 11 and not any(r["read_at_inference"] for r in audio)
    for r in audio:
        assert (r["f1_2"], r["mae"], r["corr"]) == (clean["f1_2"], clean["mae"], clean["corr"])
    # while corrupting text does
    missing_text = [r for r in rows if r["modality"] == "text" and r["corruption"] == "missing"]
    assert missing_text[1]["mae"] != clean["mae"]


def test_summary_of_the_study(rows):
    (text, audio) = summarise(rows)
    assert (text["modality"], audio["modality"]) == ("text", "audio")
    assert audio["clean"] == audio["worst"] == audio["missing"] == audio["relative"]
    assert text["worst"] <= text["missing"]
    assert math.isnan(text["effective"])  # no baseline_TA run in this study
    assert text["reference"] == "baseline_TA"


def test_multibench_measures():
    # relative: area under score vs level scaled to [0, 1]
    assert relative_robustness([0, 0.5, 1], [1.0, 0.5, 0.0]) == pytest.approx(0.5)
    assert relative_robustness([0, 0.1, 0.3, 0.5], [0.8] * 4) == pytest.approx(0.8)
    # effective: what is kept beyond a reference shifted to the same clean score
    assert effective_robustness([0.8, 0.7, 0.6], [0.9, 0.7, 0.5]) == pytest.approx(0.15)
    assert effective_robustness([0.9, 0.7, 0.5], [0.9, 0.7, 0.5]) == 0
    assert reference_of("T_A") == "baseline_TA"
    assert reference_of("embed_AV_T") == "baseline_TAV"


def test_effective_robustness_against_the_baseline_rows():
    def row(topology, level, f1):
        return {
            "topology": topology,
            "modality": "audio",
            "corruption": "gaussian",
            "level": level,
            "f1_2": f1,
        }

    rows = [row("baseline_TA", 0, 0.8), row("baseline_TA", 1, 0.5)]
    rows += [row("T_A", 0, 0.7), row("T_A", 1, 0.7)]
    t_a = [e for e in summarise(rows) if e["topology"] == "T_A"][0]
    assert t_a["effective"] == pytest.approx(0.3)
    assert not t_a["read_at_inference"]


def test_outputs_and_unknown_corruption(opened, tmp_path):
    run, _ = opened
    with pytest.raises(ValueError, match="unknown corruption 'blur'"):
        run_robustness([run.path], tmp_path / "r", corruptions=["blur"])
    assert not (tmp_path / "r").exists()
    # one run named twice, or a copy of it, would count as two seeds that agree
    copy = tmp_path / "copy"
    shutil.copytree(run.path, copy)
    for twice in ([run.path, run.path], [run.path, copy]):
        with pytest.raises(ValueError, match=r"are the same run \(T_A, seed 0\)"):
            run_robustness(twice, tmp_path / "r", corruptions=["missing"])
    assert not (tmp_path / "r").exists()
    summary = run_robustness([run.path], tmp_path / "r", corruptions=["missing"], log=lambda s: 0)
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "robustness.csv",
        "robustness.md",
        "robustness.png",
    ]
    lines = (tmp_path / "r" / "robustness.csv").read_text().splitlines()
    assert len(lines) == 1 + 2 * 2  # header + (text, audio) x (level 0, 1)
    assert "| T_A | audio | no |" in (tmp_path / "r" / "robustness.md").read_text()
    assert np.isfinite(summary[0]["clean"])


def test_paper_runs_in_poster_order_without_half_written_ones(tmp_path):
    from tfs2s.experiments.robustness import paper_runs

    for name, seed, finished in [
        ("T_A", 0, True),
        ("baseline_TA", 10, True),
        ("baseline_TA", 2, True),
        ("baseline_TA", 0, True),
        ("A_T", 0, False),
    ]:
        path = tmp_path / "runs" / name / f"seed{seed}"
        path.mkdir(parents=True)
        (path / "params.yaml").write_text("{}")
        if finished:
            (path / "model.keras").write_text("")
    logged = []
    found = paper_runs(tmp_path, log=logged.append)
    assert [p.relative_to(tmp_path / "runs").as_posix() for p in found] == [
        "baseline_TA/seed0",
        "baseline_TA/seed2",
        "baseline_TA/seed10",
        "T_A/seed0",
    ]
    assert len(logged) == 1 and "A_T" in logged[0] and "half-written" in logged[0]
    with pytest.raises(FileNotFoundError, match="no runs/"):
        paper_runs(tmp_path / "runs")


def test_the_default_split_is_test_when_the_data_has_one_else_valid(opened, tmp_path, monkeypatch):
    import tfs2s.data.sources as sources

    run, _ = opened
    real = sources.load_source

    class WithoutTest:
        """The run's data as a bundle without its test fold (like mosi-lite)."""

        def __init__(self, source):
            self._source = source

        def __getattr__(self, name):
            return getattr(self._source, name)

        def nonempty_splits(self):
            return [s for s in self._source.nonempty_splits() if s != "test"]

    run_robustness([run.path], tmp_path / "t", corruptions=["missing"], log=lambda s: 0)
    assert "on the test split" in (tmp_path / "t" / "robustness.md").read_text()
    monkeypatch.setattr(sources, "load_source", lambda cfg: WithoutTest(real(cfg)))
    run_robustness([run.path], tmp_path / "v", corruptions=["missing"], log=lambda s: 0)
    assert "on the valid split" in (tmp_path / "v" / "robustness.md").read_text()
