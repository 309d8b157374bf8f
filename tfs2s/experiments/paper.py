"""Reproduce the poster's tables: every row, several seeds, mean +- std beside the poster.

Layout of ``--out DIR``::

    runs/<topology>/seed<k>/   one training run each (params.yaml, metrics.json, ...)
    results.csv                one line per finished (topology, seed)
    results.md                 the tables in the poster's layout, mean +- std and poster figures
    f1_chart.png               F1 per topology with error bars, poster figures marked

A rerun skips finished (topology, seed) runs (their ``metrics.json`` exists and their
``params.yaml`` equals the config asked for), so a killed run loses at most the run in
progress; a finished run of another config at a requested seed is refused. ``shard=(i,
n)`` runs rows i, i+n, i+2n, ... (1-based) so that several machines can share the work;
the aggregation of a shard covers what is present in ``DIR``.

The tables aggregate only the runs of the config and seeds asked for: any other run
under ``DIR/runs`` (another seed, another config, unreadable) is ignored and listed.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import yaml

from tfs2s.config import RunConfig, recorded
from tfs2s.errors import InputError, read_error
from tfs2s.experiments.poster import POSTER_COLUMNS, POSTER_RESULTS
from tfs2s.topology import PAPER_TABLES, parse_topology, table_of
from tfs2s.training.metrics import METRIC_KEYS

TABLE_TITLES = {"unimodal": "Unimodal", "bimodal": "Bi-Modal", "trimodal": "Tri-Modal"}
TABLE_PREFIX = {"unimodal": "UniModal", "bimodal": "BiModal", "trimodal": "TriModal"}


def method_of(name: str) -> str:
    table = table_of(name) or "other"
    kind = "Baseline" if parse_topology(name).is_baseline else "Seq2Seq"
    return f"{TABLE_PREFIX.get(table, 'Other')}-{kind}"


def parse_shard(text: str | None) -> tuple[int, int]:
    """``"i/n"`` (1-based) -> (i, n); None -> (1, 1)."""
    if not text:
        return 1, 1
    try:
        i, n = (int(x) for x in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard {text!r}: expected i/n, e.g. 1/4") from None
    if not (n >= 1 and 1 <= i <= n):
        raise ValueError(f"--shard {text!r}: expected 1 <= i <= n")
    return i, n


@dataclasses.dataclass
class PaperPlan:
    rows: list[str]
    skipped: dict[str, str]  # topology -> why


def plan_rows(tables: Sequence[str], available: Sequence[str], shard: tuple[int, int]) -> PaperPlan:
    """Rows to run on this shard, and rows skipped because the data lacks a modality."""
    unknown = [t for t in tables if t not in PAPER_TABLES]
    if unknown:
        raise ValueError(f"unknown tables {unknown}; expected some of {list(PAPER_TABLES)}")
    if not tables:
        # Nothing to run must not rewrite the results of an earlier run as empty tables.
        raise ValueError(f"--tables names no table; expected some of {list(PAPER_TABLES)}")
    names = [n for t in dict.fromkeys(tables) for n in PAPER_TABLES[t]]
    i, n = shard
    mine = names[i - 1 :: n]
    rows, skipped = [], {}
    for name in mine:
        missing = [m for m in parse_topology(name).training_modalities if m not in available]
        if missing:
            skipped[name] = f"data has no {', '.join(missing)}"
        else:
            rows.append(name)
    return PaperPlan(rows, skipped)


def run_dir(out: str, name: str, seed: int) -> str:
    return os.path.join(out, "runs", name, f"seed{seed}")


def _read_run(path: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """(params, metrics) of a finished run directory, None if it is not finished."""
    metrics_path = os.path.join(path, "metrics.json")
    params_path = os.path.join(path, "params.yaml")
    if not (os.path.exists(metrics_path) and os.path.exists(params_path)):
        return None
    try:
        with open(params_path) as f:
            saved = yaml.safe_load(f)
    except (OSError, ValueError, yaml.YAMLError) as e:
        raise read_error(params_path, "a run's params.yaml", e) from None
    try:
        with open(metrics_path) as f:
            metrics = json.load(f)
    except (OSError, ValueError) as e:
        raise read_error(metrics_path, "a run's metrics.json", e) from None
    return saved, metrics


def _finished(path: str, cfg: RunConfig) -> dict[str, Any] | None:
    run = _read_run(path)
    if run is None:
        return None
    saved, metrics = run
    if saved != recorded(cfg):
        raise InputError(
            f"{path} holds a finished run with a different config than asked for now; "
            "use another --out (or delete that run) so results of two configs are not mixed"
        )
    return metrics


def run_paper(
    base: RunConfig,
    out: str,
    *,
    seeds: int = 5,
    tables: Sequence[str] = ("unimodal", "bimodal", "trimodal"),
    shard: tuple[int, int] = (1, 1),
    verbose: int | str = 0,
    split: str | None = None,
    jobs: int = 1,
    log=print,
) -> dict[str, Any]:
    """Run every row of ``tables`` for ``seeds`` seeds (skipping finished runs) and aggregate.

    Seeds are ``base.train.seed + k`` for k in range(seeds). The tables report ``split``
    (``valid`` or ``test``); by default ``test`` when the data has one, else ``valid``.
    ``jobs > 1`` trains the rows in that many worker processes
    (:mod:`tfs2s.experiments.paper_jobs`) with the CPU threads split between them; every
    run is the same as with ``jobs=1``.
    """
    from tfs2s.data.sources import load_source
    from tfs2s.training.strategies import is_chief, make_strategy

    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, found {jobs}")
    source = load_source(base.data)
    available = source.nonempty_splits()
    if split is None:
        split = "test" if "test" in available else "valid"
    elif split not in ("valid", "test"):
        raise ValueError(f"split: expected 'valid' or 'test', found {split!r}")
    elif split not in available:
        raise ValueError(f"split {split!r} is empty in {source.source}; it has {available}")
    tables = list(dict.fromkeys(tables))
    plan = plan_rows(tables, source.modalities, shard)
    for name, why in plan.skipped.items():
        log(f"skip {name}: {why}")
    os.makedirs(out, exist_ok=True)
    progress = Progress(len(plan.rows) * seeds, log)
    if jobs > 1 and len(plan.rows) > 1:
        from tfs2s.experiments.paper_jobs import run_rows_in_processes

        if base.train.strategy not in ("auto", "one"):
            raise ValueError(
                f"--jobs {jobs} runs rows in separate processes on this machine; it needs "
                f"train.strategy auto or one, found {base.train.strategy!r}"
            )
        run_rows_in_processes(base, out, plan.rows, seeds, jobs, split, progress)
        chief = True
    else:
        from tfs2s.training.stage_memo import StageMemo

        strategy = make_strategy(base.train.strategy)
        chief = is_chief(strategy)
        memo = StageMemo()  # the tables' order puts X_Y before embed_XY_Z
        for name in plan.rows:
            run_row(name, base, out, seeds, source, strategy, verbose, split, progress, memo)
    if not chief:
        # Multi-worker: like each run's artefacts, the tables are written by the chief only.
        return {
            "rows": [],
            "summary": {},
            "split": split,
            "skipped": plan.skipped,
            "ignored": {},
        }
    return aggregate(
        out, tables, split=split, skipped=plan.skipped, log=log, base=base, seeds=seeds
    )


class Progress:
    """Numbers the runs as they start or are skipped: ``[k/total] <what>``.

    Args:
        total: runs planned.
        log: where the numbered lines go.
    """

    def __init__(self, total: int, log):
        self.total = total
        self.log = log
        self.done = 0
        self._index: dict[tuple[str, int], int] = {}

    def __call__(self, name: str, seed: int, what: str) -> None:
        key = (name, seed)
        if key not in self._index:
            self.done += 1
            self._index[key] = self.done
        self.log(f"[{self._index[key]}/{self.total}] {name} seed {seed}: {what}")


def run_row(
    name: str,
    base: RunConfig,
    out: str,
    seeds: int,
    source,
    strategy,
    verbose: int | str,
    split: str,
    progress,
    stage_memo=None,
) -> None:
    """Train the unfinished seeds of one row, with one :class:`Trainer` for all of them.

    Later seeds re-initialise the trainer's weights instead of rebuilding and re-tracing
    the models (tracing costs more than ten epochs here). ``progress(name, seed, what)``
    reports each run's start and end. ``stage_memo``
    (:class:`~tfs2s.training.stage_memo.StageMemo`) shares first translation stages with
    the other rows of this process.
    """
    import keras

    from tfs2s.training.run import run, set_determinism
    from tfs2s.training.trainer import Trainer

    trainer = None
    for k in range(seeds):
        seed = base.train.seed + k
        cfg = base.replace(**{"topology": name, "train.seed": seed})
        path = run_dir(out, name, seed)
        if _finished(path, cfg) is not None:
            progress(name, seed, "done before, skipped")
            continue
        progress(name, seed, "training")
        t0 = time.perf_counter()
        if trainer is None:
            set_determinism(seed)
            trainer = Trainer(
                parse_topology(name),
                cfg.model,
                cfg.train,
                source,
                strategy=strategy,
                stage_memo=stage_memo,
            )
        # No per-epoch backups (10-20% of a run here): a rerun redoes a killed run.
        # overwrite: only an unfinished leftover can be there (a finished run of this
        # config was skipped, one of another config refused above).
        metrics = run(
            cfg,
            path,
            overwrite=True,
            verbose=verbose,
            source=source,
            strategy=strategy,
            trainer=trainer,
            backup=False,
            log=None,
        )
        reused = "".join(f"; {phase} as trained by {row}" for phase, row in trainer.reused.items())
        progress(
            name,
            seed,
            f"{time.perf_counter() - t0:.1f} s (trace {trainer.timing.trace:.1f} s{reused}), "
            f"{split} f1_2 {metrics[split]['f1_2']:.3f} f1_7 {metrics[split]['f1_7']:.3f}",
        )
    del trainer
    keras.backend.clear_session()


def _collect(
    out: str,
    tables: Sequence[str],
    split: str,
    base: RunConfig | None = None,
    seeds: int | None = None,
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Rows of the finished runs of ``base`` at seeds ``base.train.seed + k`` (k <
    ``seeds``), and the other run directories with why they were ignored.

    With ``base=None`` every finished run counts (no config to compare with).
    """
    wanted = None
    if base is not None:
        wanted = set(range(base.train.seed, base.train.seed + (seeds or 1)))
    rows, ignored = [], {}
    for table in tables:
        for name in PAPER_TABLES[table]:
            root = os.path.join(out, "runs", name)
            if not os.path.isdir(root):
                continue
            for entry in sorted(os.listdir(root)):
                path = os.path.join(root, entry)
                if entry.startswith(".") or not os.path.isdir(path):
                    continue  # a run in progress (.seedK.partial) or a stray file
                seed = int(entry[4:]) if entry[:4] == "seed" and entry[4:].isdigit() else None
                if seed is None:
                    ignored[path] = "not a seed<k> run directory"
                    continue
                try:
                    run = _read_run(path)
                except InputError as e:
                    ignored[path] = str(e)
                    continue
                if run is None:
                    ignored[path] = "unfinished (no metrics.json or params.yaml)"
                    continue
                saved, metrics = run
                if wanted is not None and seed not in wanted:
                    ignored[path] = f"seed {seed} was not asked for"
                    continue
                if base is not None:
                    cfg = base.replace(**{"topology": name, "train.seed": seed})
                    if saved != recorded(cfg):
                        ignored[path] = "trained with another config than asked for"
                        continue
                if split not in metrics:
                    ignored[path] = f"no {split} metrics"
                    continue
                rows.append(
                    {
                        "table": table,
                        "method": method_of(name),
                        "topology": name,
                        "feature": parse_topology(name).notation,
                        "seed": seed,
                        "split": split,
                        **{k: metrics[split][k] for k in METRIC_KEYS},
                    }
                )
    return rows, ignored


def _mean_std(values: list[float]) -> tuple[float, float]:
    arr = np.asarray([v for v in values if v is not None and not math.isnan(v)], np.float64)
    if arr.size == 0:
        return float("nan"), float("nan")
    return float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else 0.0


def summarise(rows: list[dict[str, Any]]) -> dict[str, dict[str, tuple[float, float]]]:
    """topology -> metric -> (mean, std) over seeds."""
    out: dict[str, dict[str, tuple[float, float]]] = {}
    for name in dict.fromkeys(r["topology"] for r in rows):
        mine = [r for r in rows if r["topology"] == name]
        out[name] = {k: _mean_std([r[k] for r in mine]) for k in METRIC_KEYS}
        out[name]["n_seeds"] = (len(mine), 0.0)
    return out


def format_tables(
    summary: dict[str, dict[str, tuple[float, float]]],
    tables: Sequence[str],
    split: str,
    skipped: dict[str, str] | None = None,
) -> str:
    """Markdown tables in the poster's layout with the poster's figures beside ours."""
    lines = []
    for table in tables:
        lines.append(
            f"### {TABLE_TITLES[table]}: ours on the {split} split, mean±std over seeds "
            "(poster, test split)"
        )
        lines.append("")
        lines.append(
            "| Method | Feature | seeds | Prec2 | Rec2 | F1 (2) | Prec7 | Rec7 | F1 (7) | Acc2 | Acc7 | MAE |"
        )
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for name in PAPER_TABLES[table]:
            feature = parse_topology(name).notation
            poster = POSTER_RESULTS[name]
            if name not in summary:
                why = (skipped or {}).get(name, "not run")
                lines.append(
                    f"| {method_of(name)} | {feature} | 0 | "
                    + " | ".join(f"— ({p:.2f})" for p in poster)
                    + f" | {why} | | |"
                )
                continue
            s = summary[name]
            cells = [
                f"{s[k][0]:.2f}±{s[k][1]:.2f} ({p:.2f})"
                for k, p in zip(POSTER_COLUMNS, poster, strict=True)
            ]
            extra = [f"{s[k][0]:.2f}±{s[k][1]:.2f}" for k in ("acc2", "acc7", "mae")]
            lines.append(
                f"| {method_of(name)} | {feature} | {int(s['n_seeds'][0])} | "
                + " | ".join(cells + extra)
                + " |"
            )
        lines.append("")
    if skipped:
        lines.append("Skipped rows: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()))
        lines.append("")
    return "\n".join(lines)


def write_chart(summary, tables: Sequence[str], path: str, split: str) -> None:
    """F1 per topology (binary and 7-class) with std error bars; poster figures as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for t in tables for n in PAPER_TABLES[t] if n in summary]
    if not names:
        return
    fig, axes = plt.subplots(2, 1, figsize=(max(8, 0.55 * len(names) + 2), 8), sharex=True)
    x = np.arange(len(names))
    for ax, key, col, title in (
        (axes[0], "f1_2", 2, "binary F1 (weighted)"),
        (axes[1], "f1_7", 5, "7-class F1 (weighted)"),
    ):
        means = [summary[n][key][0] for n in names]
        stds = [summary[n][key][1] for n in names]
        ax.bar(x, means, yerr=stds, capsize=3, color="#4C72B0", label=f"tfs2s ({split})")
        ax.scatter(
            x,
            [POSTER_RESULTS[n][col] for n in names],
            marker="x",
            color="#C44E52",
            zorder=3,
            label="poster (test)",
        )
        ax.set_ylabel(title)
        ax.set_ylim(0, 1)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(loc="upper right", fontsize=8)
    axes[1].set_xticks(x)
    axes[1].set_xticklabels(names, rotation=60, ha="right", fontsize=8)
    fig.suptitle("Seq2Seq2Sentiment: F1 per topology")
    fig.tight_layout()
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)


def aggregate(
    out: str,
    tables: Sequence[str],
    *,
    split: str,
    skipped: dict[str, str] | None = None,
    log=print,
    base: RunConfig | None = None,
    seeds: int | None = None,
) -> dict[str, Any]:
    """Write results.csv / results.md / f1_chart.png from the finished runs in ``out``.

    Only the runs of ``base`` (topology and seed replaced) at its ``seeds`` seeds are
    aggregated; every other run directory is ignored and logged with the reason (and
    returned under ``"ignored"``). Without ``base``, every finished run counts.
    """
    rows, ignored = _collect(out, tables, split, base, seeds)
    for path, why in ignored.items():
        log(f"ignored {path}: {why}")
    fields = ["table", "method", "topology", "feature", "seed", "split", *METRIC_KEYS]
    tmp = os.path.join(out, "results.csv.tmp")
    with open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, os.path.join(out, "results.csv"))
    summary = summarise(rows)
    md = format_tables(summary, tables, split, skipped)
    tmp = os.path.join(out, "results.md.tmp")
    with open(tmp, "w") as f:
        f.write(md)
    os.replace(tmp, os.path.join(out, "results.md"))
    write_chart(summary, tables, os.path.join(out, "f1_chart.png"), split)
    log(md)
    return {
        "rows": rows,
        "summary": summary,
        "split": split,
        "skipped": skipped or {},
        "ignored": ignored,
    }
