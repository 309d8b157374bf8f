"""Run a keras-tuner search over a topology's config and write what it found.

Layout of the search directory (``--tune-dir DIR``)::

    search.yaml        what the search is (tuner, objective, base config, space);
                       a rerun must match it
    keras_tuner/       keras-tuner's project: oracle state and one trial_<id>/ per trial
    trials.csv         one row per trial: id, status, hyper-parameters, objective
    best_config.yaml   the base config with the best trial's values: train.py --config accepts it

A rerun with the same ``DIR`` continues the search (keras-tuner ``overwrite=False``):
finished trials are kept, a trial interrupted mid-way is run again, and only the trials
still missing up to ``max_trials`` run.

Distributed search (keras-tuner's chief/worker mode, set by environment variables): one
chief process with ``KERASTUNER_TUNER_ID=chief`` serves the oracle on
``KERASTUNER_ORACLE_IP:KERASTUNER_ORACLE_PORT`` and writes the results; each worker
(``KERASTUNER_TUNER_ID=tuner0``, ``tuner1``, ...) asks it for trials and runs them. All
processes run the same command with the same ``DIR`` (a shared file system).
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

import yaml

from tfs2s.config import Objective, RunConfig, Tuner, choices, dump_yaml
from tfs2s.tuning.space import HYPERBAND_EPOCHS, HParam, applicable

TUNERS: tuple[str, ...] = choices(Tuner)
PROJECT = "keras_tuner"
SEARCH_FILE = "search.yaml"
TRIALS_FILE = "trials.csv"
BEST_CONFIG_FILE = "best_config.yaml"
#: Hyperband's bookkeeping values in a trial's hyper-parameters.


@dataclasses.dataclass(frozen=True)
class SearchSpec:
    """What a search is: a rerun into the same directory must describe the same search.

    Attributes:
        tuner: ``random``, ``bayesian`` or ``hyperband``.
        objective: ``mae`` or ``f1_2`` (valid split).
        max_trials: stop after this many trials (may grow on a rerun).
        max_epochs: Hyperband's largest epoch budget of a trial (``train.epochs`` if None).
        factor: Hyperband's reduction factor.
    """

    tuner: str = "random"
    objective: str = "mae"
    max_trials: int = 10
    max_epochs: int | None = None
    factor: int = 3

    def __post_init__(self):
        if self.tuner not in TUNERS:
            raise ValueError(f"--tune: expected one of {list(TUNERS)}, found {self.tuner!r}")
        if self.objective not in choices(Objective):
            raise ValueError(
                f"--objective: expected one of {list(choices(Objective))}, found {self.objective!r}"
            )
        if self.max_trials < 1:
            raise ValueError(f"--max-trials: expected a value >= 1, found {self.max_trials}")
        if self.max_epochs is not None and self.max_epochs < 1:
            raise ValueError(f"--max-epochs: expected a value >= 1, found {self.max_epochs}")
        if self.factor < 2:
            raise ValueError(f"--factor: expected a value >= 2, found {self.factor}")


def distributed_role() -> str | None:
    """``"chief"``, the worker's tuner id, or None outside keras-tuner's distributed mode."""
    from tfs2s import compat

    return compat.keras_tuner_role()


def make_tuner(
    spec: SearchSpec,
    hypermodel,
    directory: str,
    *,
    strategy=None,
    overwrite: bool = False,
    seed: int = 0,
):
    """The keras-tuner tuner of ``spec`` over ``hypermodel``, its project in ``directory``;
    its oracle draws with ``seed + 1`` (keras-tuner takes a seed of 0 as none)."""
    import keras_tuner as kt

    from tfs2s.tuning.hypermodel import objective

    common = dict(
        hypermodel=hypermodel,
        objective=objective(spec.objective),
        # keras-tuner replaces a false seed (0, train.seed's default) by a random one, so
        # the oracle gets seed + 1: the same command draws the same trials.
        seed=seed + 1,
        directory=directory,
        project_name=PROJECT,
        overwrite=overwrite,
        distribution_strategy=strategy,
    )
    if spec.tuner == "random":
        return kt.RandomSearch(max_trials=spec.max_trials, **common)
    if spec.tuner == "bayesian":
        return kt.BayesianOptimization(max_trials=spec.max_trials, **common)
    tuner = kt.Hyperband(
        max_epochs=spec.max_epochs or hypermodel.base.train.epochs, factor=spec.factor, **common
    )
    # Hyperband sizes its brackets from max_epochs and factor; the oracle's max_trials
    # (read by every oracle's create_trial) caps the whole search as for the other tuners.
    tuner.oracle.max_trials = spec.max_trials
    return tuner


def describe(spec: SearchSpec, base: RunConfig, space: Mapping[str, HParam]) -> dict[str, Any]:
    """The ``search.yaml`` content (``max_trials`` excluded: a rerun may raise it)."""
    return {
        "tuner": spec.tuner,
        "objective": spec.objective,
        "max_epochs": spec.max_epochs,
        "factor": spec.factor,
        "base": base.to_dict(),
        "space": {k: p.to_dict() for k, p in applicable(space, base).items()},
    }


def check_resumable(directory: str, description: dict[str, Any], overwrite: bool) -> None:
    """Refuse to continue a search of ``directory`` that was started with other settings."""
    path = os.path.join(directory, SEARCH_FILE)
    if overwrite:
        return
    if not os.path.exists(path):
        project = os.path.join(directory, PROJECT)
        # Trials only: a distributed search's workers may create the project directory
        # before the chief has written search.yaml, but no trial exists before it has.
        if os.path.isdir(project) and any(
            e == "oracle.json" or e.startswith("trial_") for e in os.listdir(project)
        ):
            # Its trials would be reported as drawn from this search's space.
            raise ValueError(
                f"{directory} holds the trials of a search but no {SEARCH_FILE} saying which; "
                "use another --tune-dir, or --overwrite-search to start over"
            )
        return
    try:
        with open(path) as f:
            previous = yaml.safe_load(f)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise ValueError(
            f"{path} is corrupt ({type(e).__name__}); use --overwrite-search"
        ) from None
    if not isinstance(previous, dict):
        raise ValueError(
            f"{path} is corrupt: expected a mapping of search settings, found "
            f"{type(previous).__name__}; use --overwrite-search to start over"
        )
    if previous != description:
        differing = sorted(k for k in description if previous.get(k) != description[k])
        raise ValueError(
            f"{directory} holds a search with other settings ({', '.join(differing)} "
            f"differ; see {path}); use another --tune-dir, or --overwrite-search to start over"
        )


def trial_rows(oracle, spec: SearchSpec) -> list[dict[str, Any]]:
    """One row per trial, in trial-id order: id, status, hyper-parameters, objective."""
    from tfs2s.tuning.hypermodel import OBJECTIVES

    metric = OBJECTIVES[spec.objective][0]
    trials = sorted(oracle.trials.values(), key=lambda t: int(t.trial_id))
    keys: list[str] = []
    for trial in trials:
        keys += [k for k in trial.hyperparameters.values if k not in keys]
    rows = []
    for trial in trials:
        row = {"trial_id": trial.trial_id, "status": trial.status}
        row.update({k: trial.hyperparameters.values.get(k, "") for k in keys})
        value = trial.score if trial.score is not None else None
        row[metric] = "" if value is None or not math.isfinite(value) else value
        rows.append(row)
    return rows


def best_config(base: RunConfig, values: Mapping[str, Any]) -> RunConfig:
    """``base`` with a trial's values; Hyperband's epoch budget becomes the epochs."""
    overrides = {k: v for k, v in values.items() if "/" not in k}
    if HYPERBAND_EPOCHS in values:
        overrides["train.epochs"] = values[HYPERBAND_EPOCHS]
        overrides["train.translator_epochs"] = values[HYPERBAND_EPOCHS]
    return base.replace(**overrides)


def format_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no trials)"
    columns = list(rows[0])
    for row in rows:
        columns += [c for c in row if c not in columns]

    def cell(v):
        return f"{v:.4g}" if isinstance(v, float) else str(v)

    widths = {c: max(len(c), *(len(cell(r.get(c, ""))) for r in rows)) for c in columns}
    lines = ["  ".join(c.ljust(widths[c]) for c in columns)]
    for row in rows:
        lines.append("  ".join(cell(row.get(c, "")).ljust(widths[c]) for c in columns))
    return "\n".join(lines)


def write_results(
    tuner, spec: SearchSpec, base: RunConfig, directory: str, log=print
) -> RunConfig | None:
    """Write ``trials.csv`` and ``best_config.yaml``; print the table. The best config."""
    oracle = tuner.oracle
    rows = trial_rows(oracle, spec)
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    tmp = os.path.join(directory, TRIALS_FILE + ".tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or ["trial_id", "status"])
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, os.path.join(directory, TRIALS_FILE))
    log(format_table(rows))
    # get_best_trials() falls back to unfinished trials; only a completed one is "best".
    best = [t for t in oracle.get_best_trials(1) if t.status == "COMPLETED"]
    if not best:
        log(f"no trial completed; nothing written to {BEST_CONFIG_FILE}")
        return None
    cfg = best_config(base, best[0].hyperparameters.values)
    dump_yaml(cfg, os.path.join(directory, BEST_CONFIG_FILE))
    log(
        f"best trial {best[0].trial_id}: {oracle.objective.name} = {best[0].score:.4f}; "
        f"config in {os.path.join(directory, BEST_CONFIG_FILE)} "
        f"(python train.py --config {os.path.join(directory, BEST_CONFIG_FILE)})"
    )
    return cfg


def run_search(
    base: RunConfig,
    spec: SearchSpec,
    space: Mapping[str, HParam],
    directory: str,
    *,
    source=None,
    strategy=None,
    overwrite: bool = False,
    verbose: int | str = 0,
    log=print,
) -> RunConfig | None:
    """Search, then (on the chief, or without distribution) write the results.

    Args:
        base: the config trials start from.
        spec: tuner and budget.
        space: the search space (see :mod:`tfs2s.tuning.space`).
        directory: the search directory; an existing search there is continued.
        source: an already-loaded data source (default: ``base.data``).
        strategy: the tuner's ``distribution_strategy`` (single-worker strategies).
        overwrite: delete an existing search in ``directory`` first (chief only).
        verbose: Keras verbosity of each trial's training.

    Returns:
        The best config, or None on a distributed worker or when no trial completed.
    """
    from tfs2s.data.sources import load_source
    from tfs2s.tuning.hypermodel import TopologyHyperModel

    role = distributed_role()
    worker = role not in (None, "chief")
    if worker:
        overwrite = False  # Only the chief may delete the shared search directory.
    os.makedirs(directory, exist_ok=True)
    description = describe(spec, base, space)
    check_resumable(directory, description, overwrite)
    if not worker:
        tmp = os.path.join(directory, SEARCH_FILE + ".tmp")
        with open(tmp, "w") as f:
            yaml.safe_dump(description, f, sort_keys=False)
        os.replace(tmp, os.path.join(directory, SEARCH_FILE))
    if source is None:
        source = load_source(base.data)
    hypermodel = TopologyHyperModel(base, source, space, strategy=strategy, verbose=verbose)
    tuner = make_tuner(
        spec, hypermodel, directory, strategy=strategy, overwrite=overwrite, seed=base.train.seed
    )
    if role is None:
        remaining = tuner.remaining_trials
        log(f"search {directory}: {len(tuner.oracle.trials)} trial(s) recorded, {remaining} to run")
    elif role == "chief":
        log(
            f"search {directory}: chief serving the oracle on "
            f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
        )
    tuner.search(verbose=1 if verbose else 0)
    if worker:
        log(f"search {directory}: worker {role} done; the chief writes the results")
        return None
    return write_results(tuner, spec, base, directory, log=log)
