"""Where a run's time goes: tracing (one-off) against training (per epoch).

The first epoch of a phase pays for tracing and instantiating its train and test graphs;
later epochs do not. A phase's trace seconds are estimated as its first epoch less the
median of its other epochs; a one-epoch phase has no estimate (all of it counts as
training). A reused trainer's later seeds trace nothing, and show it.
"""

from __future__ import annotations

import dataclasses
import statistics


@dataclasses.dataclass(frozen=True)
class PhaseTiming:
    """Seconds of every epoch of one phase.

    Attributes:
        name: the phase.
        epoch_seconds: wall seconds of each epoch (validation included).
    """

    name: str
    epoch_seconds: tuple[float, ...]

    @property
    def steady(self) -> float | None:
        """Median seconds of an epoch after the first; None for one epoch."""
        later = self.epoch_seconds[1:]
        return statistics.median(later) if later else None

    @property
    def trace(self) -> float:
        """First epoch less a steady one (0 when unknown or negative)."""
        if self.steady is None:
            return 0.0
        return max(0.0, self.epoch_seconds[0] - self.steady)

    @property
    def total(self) -> float:
        return float(sum(self.epoch_seconds))


@dataclasses.dataclass(frozen=True)
class RunTiming:
    """A run's phases, and the seconds before and after them.

    Attributes:
        phases: one entry per phase that ran.
        startup: seconds before the first phase (imports, data, building), when known.
        finish: seconds after the last phase (evaluation, saving), when known.
    """

    phases: tuple[PhaseTiming, ...]
    startup: float | None = None
    finish: float | None = None

    @property
    def trace(self) -> float:
        return sum(p.trace for p in self.phases)

    @property
    def train(self) -> float:
        return sum(p.total for p in self.phases) - self.trace

    def line(self) -> str:
        """``time: 3.1 s start-up, 8.2 s trace, 14.0 s train (translate 0.41 s/epoch,
        regress 0.22 s/epoch), 0.9 s evaluate and save``."""
        parts = []
        if self.startup is not None:
            parts.append(f"{self.startup:.1f} s start-up")
        steady = [f"{p.name} {p.steady:.2f} s/epoch" for p in self.phases if p.steady is not None]
        if steady:
            parts.append(f"{self.trace:.1f} s trace")
            parts.append(f"{self.train:.1f} s train ({', '.join(steady)})")
        else:
            parts.append(f"{self.train:.1f} s trace and train (one epoch a phase: not apart)")
        if self.finish is not None:
            parts.append(f"{self.finish:.1f} s evaluate and save")
        return "time: " + ", ".join(parts)

    def to_dict(self) -> dict:
        return {
            "startup_seconds": self.startup,
            "trace_seconds": round(self.trace, 3),
            "train_seconds": round(self.train, 3),
            "finish_seconds": self.finish,
            "phases": {
                p.name: {
                    "epochs": len(p.epoch_seconds),
                    "first_epoch_seconds": round(p.epoch_seconds[0], 3),
                    "steady_epoch_seconds": None if p.steady is None else round(p.steady, 4),
                    "trace_seconds": round(p.trace, 3),
                }
                for p in self.phases
            },
        }
