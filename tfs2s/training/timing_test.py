import pytest

from tfs2s.training.timing import PhaseTiming, RunTiming


def test_a_phase_trace_is_its_first_epoch_less_a_steady_one():
    phase = PhaseTiming("translation", (5.0, 0.5, 0.7, 0.6))
    assert phase.steady == pytest.approx(0.6)
    assert phase.trace == pytest.approx(4.4)
    assert phase.total == pytest.approx(6.8)
    # a reused trainer's later seed: no trace, never a negative one
    assert PhaseTiming("regression", (0.4, 0.5, 0.5)).trace == 0.0
    # one epoch: no estimate, all of it counts as training
    assert PhaseTiming("joint", (3.0,)).steady is None
    assert PhaseTiming("joint", (3.0,)).trace == 0.0


def test_the_run_line_separates_start_up_trace_train_and_finish():
    timing = RunTiming(
        (PhaseTiming("translation", (5.0, 0.5, 0.5)), PhaseTiming("regression", (2.0, 0.2, 0.2))),
        startup=3.04,
        finish=0.96,
    )
    assert timing.trace == pytest.approx(6.3)
    assert timing.train == pytest.approx(8.4 - 6.3)
    assert timing.line() == (
        "time: 3.0 s start-up, 6.3 s trace, 2.1 s train (translation 0.50 s/epoch, "
        "regression 0.20 s/epoch), 1.0 s evaluate and save"
    )
    d = timing.to_dict()
    assert d["trace_seconds"] == pytest.approx(6.3)
    assert d["phases"]["regression"] == {
        "epochs": 3,
        "first_epoch_seconds": 2.0,
        "steady_epoch_seconds": 0.2,
        "trace_seconds": 1.8,
    }
    assert RunTiming((PhaseTiming("joint", (1.0,)),)).line() == (
        "time: 1.0 s trace and train (one epoch a phase: not apart)"
    )
