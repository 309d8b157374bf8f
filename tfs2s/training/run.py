"""One training run: data -> strategy -> model(s) -> metrics and artefacts.

A run directory holds: ``params.yaml`` (the resolved config), ``model.keras`` (+
``translator.keras`` for seq2seq) and ``trained.json``, ``metrics.json``
(``{"valid": {...}, "test": {...}}``, absent splits omitted and listed under
``"omitted"``; ``"resumed"`` lists the phases restored from a backup), ``history.csv``
and TensorBoard logs under ``logs/``.

The run directory is published whole: a run writes into the hidden sibling
``.<name>.partial`` and renames it into place when complete. A finished run directory is
never touched unless ``overwrite`` (``--overwrite``), and then replaced whole. While a
run is in progress, ``.<name>.partial/backup/`` holds one Keras backup per training
phase, so a killed run (single- or multi-worker) rerun with the same command resumes
from its last epoch. Under a multi-worker strategy only the chief writes and publishes.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import shutil
import time
from typing import Any

import numpy as np

from tfs2s.config import RunConfig, dump_yaml, load_yaml, recorded
from tfs2s.errors import InputError, TrainingDiverged
from tfs2s.topology import parse_topology
from tfs2s.training.metrics import METRIC_KEYS, sentiment_metrics

EVAL_SPLITS = ("valid", "test")
#: Per-phase training backups inside the run directory while a run is in progress.
BACKUP_DIR = "backup"


def set_determinism(seed: int) -> None:
    """Seed Python/NumPy/Keras/TF and turn on TF op determinism (same seed -> same metrics
    on CPU). Already-traced functions stay instantiated (see
    :func:`tfs2s.compat.set_random_seed_keeping_kernels`), so a reused trainer pays no
    second graph set-up per seed."""
    import tensorflow as tf

    from tfs2s.compat import set_random_seed_keeping_kernels

    set_random_seed_keeping_kernels(seed)
    tf.config.experimental.enable_op_determinism()


def predict_split(model, source, split: str, names, batch_size: int) -> np.ndarray:
    """Compiled (graph-mode) predictions of ``model`` on a split, in data order: float (n,)."""
    from tfs2s.training.predict import predict

    ds = source.dataset(split, names, batch_size, shuffle=False)
    out = predict(model, ds)
    pred = out["sentiment"] if isinstance(out, dict) else out
    return np.asarray(pred, np.float64).reshape(-1)


def evaluate(model, source, names, batch_size: int) -> dict[str, Any]:
    """Metrics per non-empty evaluation split, plus which splits were omitted."""
    result: dict[str, Any] = {}
    omitted = []
    available = set(source.nonempty_splits())
    for split in EVAL_SPLITS:
        if split not in available:
            omitted.append(split)
            continue
        pred = predict_split(model, source, split, names, batch_size)
        result[split] = sentiment_metrics(source.labels(split), pred)
    if omitted:
        result["omitted"] = {s: "split is empty in this data" for s in omitted}
    return result


def _atomic_write_text(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def write_history(rows: list[dict[str, Any]], path: str) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def run(
    cfg: RunConfig,
    out_dir: str,
    *,
    verbose: int | str = "auto",
    source=None,
    strategy=None,
    trainer=None,
    backup: bool = True,
    overwrite: bool = False,
    started: float | None = None,
    log=print,
) -> dict[str, Any]:
    """Train ``cfg.topology`` and publish its artefacts as the run directory ``out_dir``.

    Everything is written into a staging directory beside ``out_dir`` (see
    :func:`staging_dir`) and renamed into place once the run is complete, so ``out_dir``
    is always one whole run, or absent.

    Args:
        cfg: the resolved run config.
        out_dir: run directory. It must not exist (or be empty), unless ``overwrite``:
            then a previous run there is replaced whole.
        verbose: Keras verbosity for fit.
        source: an already-loaded DataSource (the experiment runner reuses one across runs).
        strategy: an already-built strategy; default from ``cfg.train.strategy``.
        trainer: a :class:`~tfs2s.training.fit.Trainer` built for this topology and config
            (any seed) under ``strategy``; reusing one across seeds skips rebuilding and
            re-tracing the models.
        backup: back up every epoch so that a killed run resumes where it stopped
            (about 0.1 s per epoch). The paper runner turns it off: it loses at most
            the run in progress anyway.
        overwrite: replace a finished run in ``out_dir``.
        started: ``time.perf_counter()`` when the command started, so that the time line
            counts imports as start-up; default: when this call started.
        log: where the chief prints the run's time line (trace against train seconds,
            :class:`~tfs2s.training.timing.RunTiming`); None for no line. The trainer
            keeps the timing as ``trainer.timing`` either way.

    Returns:
        The metrics dict written to ``metrics.json``.

    Raises:
        InputError: ``out_dir`` holds a run and ``overwrite`` is false, or is some other
            non-empty directory (checked before anything is read or written).
        TrainingDiverged: a loss became non-finite (nothing is published).
    """
    started = time.perf_counter() if started is None else started
    check_out_dir(out_dir, overwrite)
    from tfs2s.data.sources import load_source
    from tfs2s.training.backup import PhaseBackup
    from tfs2s.training.callbacks import StopOnNonFinite
    from tfs2s.training.strategies import (
        PEER_ERRORS,
        WorkerFailure,
        is_chief,
        is_multi_worker,
        make_strategy,
        worker_failure_message,
        write_dir_for,
    )
    from tfs2s.training.trainer import Trainer

    topology = parse_topology(cfg.topology)
    set_determinism(cfg.train.seed)
    if source is None:
        source = load_source(cfg.data)
    source.require(topology.training_modalities, f"topology {topology.name} ({topology.notation})")
    if strategy is None:
        strategy = make_strategy(cfg.train.strategy)
    chief = is_chief(strategy)
    staging = staging_dir(out_dir)
    # A run refused before its first epoch leaves nothing behind (not even params.yaml)
    # unless it came to resume an earlier attempt's backup.
    fresh = chief and not os.path.exists(staging)
    if chief:
        _prepare_staging(staging, cfg)
    # Non-chief workers write into a throw-away directory (Keras multi-worker pattern):
    # every worker must run the same saving code, but only the chief's copy is kept.
    write_dir = write_dir_for(staging, strategy)
    dump_yaml(cfg, os.path.join(write_dir, "params.yaml"))
    # Every worker resumes from the chief's backup, so all start at the same epoch.
    phase_backup = PhaseBackup(
        os.path.join(staging, BACKUP_DIR),
        os.path.join(write_dir, BACKUP_DIR),
        fingerprint=config_fingerprint(cfg),
        log=print if chief else (lambda line: None),
    )
    try:
        try:
            if trainer is None:
                trainer = Trainer(topology, cfg.model, cfg.train, source, strategy=strategy)
            elif (trainer.topology, trainer.model_cfg) != (topology, cfg.model) or (
                dataclasses.replace(trainer.train_cfg, seed=cfg.train.seed) != cfg.train
            ):
                raise ValueError(
                    f"the trainer given was built for another config than {cfg.topology}'s"
                )
        except Exception:
            if fresh:
                shutil.rmtree(staging, ignore_errors=True)
            raise
        # The divergence check comes first, so that no non-finite epoch is backed up.
        training_started = time.perf_counter()
        trained = trainer.train(
            seed=cfg.train.seed,
            callbacks=[StopOnNonFinite(), *([phase_backup] if backup else [])],
            verbose=verbose,
            log_dir=os.path.join(write_dir, "logs"),
        )
        training_ended = time.perf_counter()
        trained.save(write_dir)
        write_history(trained.history, os.path.join(write_dir, "history.csv"))
        metrics = evaluate(
            trained.sentiment_model,
            source,
            topology.inference_modalities,
            cfg.train.eval_batch_size,
        )
    except PEER_ERRORS as e:
        if not is_multi_worker(strategy):
            raise
        raise WorkerFailure(worker_failure_message(strategy, e)) from e
    except TrainingDiverged:
        # Nothing of a diverged run is worth resuming: drop it whole.
        shutil.rmtree(write_dir, ignore_errors=True)
        raise
    if phase_backup.restored:
        metrics["resumed"] = phase_backup.restored
    _atomic_write_text(
        os.path.join(write_dir, "metrics.json"), json.dumps(metrics, indent=2, allow_nan=True)
    )
    if not chief:
        shutil.rmtree(write_dir, ignore_errors=True)
        return metrics
    publish(staging, out_dir, overwrite)
    trainer.timing = dataclasses.replace(
        trainer.timing,
        startup=training_started - started,
        finish=time.perf_counter() - training_ended,
    )
    if log is not None:
        log(trainer.timing.line())
    return metrics


#: Files that make a directory a tfs2s run directory.
RUN_FILES = ("metrics.json", "params.yaml", "model.keras", "trained.json")


def staging_dir(out_dir: str) -> str:
    """Where a run into ``out_dir`` is written until it is complete: the hidden sibling
    ``.<name>.partial``. Its name depends on ``out_dir`` alone, so a killed run rerun
    with the same command finds its per-phase backups there and resumes."""
    parent, name = os.path.split(os.path.abspath(out_dir))
    return os.path.join(parent, f".{name}.partial")


def check_out_dir(out_dir: str, overwrite: bool) -> None:
    """Refuse to train into ``out_dir`` if that would replace something; reads only.

    Raises:
        InputError: ``out_dir`` is a file; holds a run and ``overwrite`` is false; or is
            a non-empty directory that is not a run directory (never replaced).
    """
    if os.path.lexists(out_dir) and not os.path.isdir(out_dir):
        raise InputError(f"run directory {out_dir} exists and is not a directory")
    if not os.path.isdir(out_dir) or not os.listdir(out_dir):
        return
    present = [f for f in RUN_FILES if os.path.exists(os.path.join(out_dir, f))]
    if not present:
        raise InputError(
            f"run directory {out_dir} exists, is not empty and holds no tfs2s run "
            f"(none of {', '.join(RUN_FILES)}); choose another --out"
        )
    if not overwrite:
        kind = "a finished run" if "metrics.json" in present else "an unfinished older run"
        raise InputError(
            f"run directory {out_dir} already holds {kind}; pass --overwrite to replace it "
            "whole, or choose another --out"
        )


def _prepare_staging(staging: str, cfg: RunConfig) -> None:
    """Keep a staging directory of the same config (its backups resume the run); drop one
    of another config (it cannot be resumed by this run)."""
    params = os.path.join(staging, "params.yaml")
    if os.path.isdir(staging):
        try:
            same = config_fingerprint(load_yaml(params)) == config_fingerprint(cfg)
        except (OSError, ValueError):
            same = False
        if not same:
            print(f"tfs2s: discarding the unfinished run of another config in {staging}")
            shutil.rmtree(staging)
    os.makedirs(staging, exist_ok=True)


def publish(staging: str, out_dir: str, overwrite: bool) -> None:
    """Move the complete run in ``staging`` into place as ``out_dir`` (replacing a previous
    run only with ``overwrite``); its backups are not needed any more."""
    check_out_dir(out_dir, overwrite)  # again: another process may have written there
    shutil.rmtree(os.path.join(staging, BACKUP_DIR), ignore_errors=True)
    if os.path.isdir(out_dir) and os.listdir(out_dir):
        parent, name = os.path.split(os.path.abspath(out_dir))
        old = os.path.join(parent, f".{name}.old-{os.getpid()}")
        os.replace(out_dir, old)
        os.replace(staging, out_dir)
        shutil.rmtree(old, ignore_errors=True)
    else:
        # rename(2) replaces an empty directory.
        os.replace(staging, out_dir)


def config_fingerprint(cfg: RunConfig) -> str:
    """Identifies what a backup was trained with (the strategy may change on resume)."""
    d = recorded(cfg)
    d["train"] = {k: v for k, v in d["train"].items() if k != "strategy"}
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def format_results(metrics: dict[str, Any]) -> str:
    """A short table: one row per evaluated split, the paper's metrics as columns."""
    splits = [s for s in EVAL_SPLITS if s in metrics]
    header = f"{'split':6s} " + " ".join(f"{k:>12s}" for k in METRIC_KEYS)
    rows = [header]
    for s in splits:
        rows.append(f"{s:6s} " + " ".join(f"{metrics[s][k]:12.4f}" for k in METRIC_KEYS))
    for s, why in metrics.get("omitted", {}).items():
        rows.append(f"{s:6s} omitted: {why}")
    return "\n".join(rows)


def print_results(
    metrics: dict[str, Any], cfg: RunConfig, out_dir: str, *, chief: bool = True
) -> None:
    """The metrics table, and where the artefacts are (``chief``: this process wrote them;
    a multi-worker run's other workers evaluate the same model but keep no files)."""
    topology = parse_topology(cfg.topology)
    print(f"\n{topology.name}  {topology.notation}  (seed {cfg.train.seed}, {cfg.train.mode})")
    print(format_results(metrics))
    if chief:
        print(f"artefacts in {out_dir}")
    else:
        print(f"this worker keeps no artefacts; the chief writes them in {out_dir}")
