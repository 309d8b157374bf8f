"""``tfs2s experiments paper --jobs N``: the paper's rows in N worker processes.

A batch of 32 through 32-unit LSTMs is too small for TensorFlow to keep two cores busy,
so one process with one intra-op thread trains about as fast as with two: N processes
with ``cpus // N`` threads each train N rows at once. Runs are bitwise the same as with
``--jobs 1`` (same seeds, same data order; TensorFlow's op determinism holds across
thread counts on CPU, checked by ``tests/test_paper_jobs_cli.py``).

Each worker loads the data once and takes whole rows from a shared queue, the costliest
first (a row's seeds share one traced :class:`~tfs2s.training.trainer.Trainer`). A
hierarchical row ``embed_XY_Z`` is queued together with ``X_Y`` and after it, so that
the worker's :class:`~tfs2s.training.stage_memo.StageMemo` hands it the first stage that
``X_Y`` trained (the same computation) instead of training it again. The
parent prints every run's start and end as the workers report them. A worker dies with
its parent (Linux ``PR_SET_PDEATHSIG``, and a parent check between runs), so a killed
``experiments paper`` leaves only unpublished ``.seed<k>.partial`` directories, which a
rerun replaces: resuming works as with one process.
"""

from __future__ import annotations

import os
import pickle
import queue as queue_lib
import signal
import traceback
from collections.abc import Sequence

from tfs2s.config import RunConfig
from tfs2s.topology import parse_topology

#: Relative cost of a row by its topology kind (phases trained per seed).
KIND_COST = {"baseline": 1, "seq2seq": 2, "hierarchical": 3}


def usable_cpus() -> int:
    """CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def threads_per_job(jobs: int) -> int:
    """Intra- and inter-op threads of each of ``jobs`` workers: the CPUs split evenly."""
    return max(1, usable_cpus() // jobs)


def _cost(name: str) -> tuple[int, int]:
    topology = parse_topology(name)
    return KIND_COST.get(topology.kind, 2), topology.n_modalities


def costliest_first(rows: Sequence[str]) -> list[str]:
    """Rows ordered for a shared queue: hierarchical, then seq2seq, then baselines (each
    kind by its number of modalities), so no long row starts last. Stable otherwise."""
    return sorted(rows, key=_cost, reverse=True)


def queued_groups(rows: Sequence[str]) -> list[tuple[str, ...]]:
    """The queue's tasks: ``(X_Y, embed_XY_Z)`` for each hierarchical row whose first
    stage the seq2seq row ``X_Y`` trains too (both in ``rows``), every other row alone;
    the costliest first (a pair costs both rows)."""
    topologies = {name: parse_topology(name) for name in rows}
    producer = {(t.source, t.target): name for name, t in topologies.items() if t.kind == "seq2seq"}
    ordered = costliest_first(rows)
    groups, grouped = [], set()
    for name in ordered:
        topology = topologies[name]
        first = producer.get((topology.source, topology.intermediate))
        if topology.kind == "hierarchical" and first is not None and first not in grouped:
            groups.append((first, name))
            grouped.update((first, name))
    groups += [(name,) for name in ordered if name not in grouped]

    def cost(group: tuple[str, ...]) -> tuple[int, int]:
        costs = [_cost(name) for name in group]
        return sum(c[0] for c in costs), max(c[1] for c in costs)

    return sorted(groups, key=cost, reverse=True)


def run_rows_in_processes(
    base: RunConfig,
    out: str,
    rows: Sequence[str],
    seeds: int,
    jobs: int,
    split: str,
    progress,
) -> None:
    """Train ``rows`` (every seed of each) in ``min(jobs, len(rows))`` worker processes.

    Args:
        base: the config of every run (topology and seed replaced per run).
        out: the paper's output directory.
        rows: topology names to train.
        seeds: seeds per row.
        jobs: worker processes. They train quietly (their Keras progress would
            interleave); the parent prints each run's start and end.
        split: the split whose scores the progress lines show.
        progress: ``progress(name, seed, what)``, called in this process for every
            start and end a worker reports.

    Raises:
        The first error a worker raised (re-raised here; the other workers are stopped),
        or RuntimeError if a worker died without reporting.
    """
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    tasks = context.Queue()
    reports = context.Queue()
    groups = queued_groups(rows)
    for group in groups:
        tasks.put(group)
    n = min(jobs, len(groups))
    for _ in range(n):
        tasks.put(None)
    workers = [
        context.Process(
            target=_worker,
            args=(tasks, reports, base, out, seeds, split, threads_per_job(jobs), os.getpid()),
            name=f"tfs2s-paper-{i + 1}",
            daemon=True,
        )
        for i in range(n)
    ]
    for worker in workers:
        worker.start()
    try:
        _collect_reports(reports, workers, len(rows), progress)
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
        for worker in workers:
            worker.join()


def _collect_reports(reports, workers, rows: int, progress) -> None:
    finished = 0
    while finished < rows:
        try:
            report = reports.get(timeout=0.5)
        except queue_lib.Empty:
            dead = [w for w in workers if not w.is_alive() and w.exitcode != 0]
            if dead:
                raise RuntimeError(
                    f"paper worker {dead[0].name} died (exit code {dead[0].exitcode}) "
                    "without reporting; rerun the same command to resume"
                ) from None
            continue
        kind, payload = report
        if kind == "progress":
            progress(*payload)
        elif kind == "row done":
            finished += 1
        else:  # "error"
            raise pickle.loads(payload)


def _worker(tasks, reports, base, out, seeds, split, threads, parent) -> None:
    """One worker: load the data once, then train whole rows until the queue says stop."""
    _die_with_parent()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from tfs2s.data.sources import load_source
    from tfs2s.experiments.paper import run_row
    from tfs2s.training.stage_memo import StageMemo

    def report(name, seed, what):
        reports.put(("progress", (name, seed, what)))

    try:
        source = load_source(base.data)
        memo = StageMemo()
        while (group := tasks.get()) is not None:
            for name in group:
                if os.getppid() != parent:
                    return  # the parent is gone: publish nothing more
                run_row(name, base, out, seeds, source, None, 0, split, report, memo)
                reports.put(("row done", name))
    except BaseException as e:  # noqa: BLE001 - every failure goes to the parent
        reports.put(("error", _pickle_error(e)))


def _pickle_error(error: BaseException) -> bytes:
    try:
        return pickle.dumps(error)
    except Exception:  # noqa: BLE001 - an unpicklable error still reaches the parent
        text = "".join(traceback.format_exception_only(type(error), error)).strip()
        return pickle.dumps(RuntimeError(text))


def _die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent dies; elsewhere a no-op (the
    worker also checks its parent between rows)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)
