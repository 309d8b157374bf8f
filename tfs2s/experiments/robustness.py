"""``tfs2s experiments robustness``: corrupt one modality at test time, score every run.

For every run and every modality its topology reads *during training*, each corruption
of :mod:`tfs2s.experiments.corruptions` is applied at each of its levels (0 = clean) and
the run is scored. A modality a seq2seq model only translates into is corrupted too: the
model never reads it at inference, so its scores must not move, which is the point of
translation-based fusion.

Outputs in ``--out DIR``:

* ``robustness.csv``: one row per (run, modality, corruption, level) with every metric;
* ``robustness.md``: per topology and corrupted modality (mean over seeds): the clean
  score, the score with the modality missing, the worst case over every corruption and
  level, and MultiBench's relative and effective robustness, all on binary F1;
* ``robustness.png``: binary F1 against corruption level, one panel per (corruption,
  modality), one line per topology, mean +- std over seeds.

The two robustness measures follow MultiBench (Liang et al., "MultiBench: Multiscale
Benchmarks for Multimodal Representation Learning", NeurIPS 2021 Datasets and Benchmarks,
Section 3 "Robustness"):

* *relative robustness* is the area under the curve of performance against the level
  of imperfection (levels scaled to [0, 1], trapezoidal rule): how well a model holds
  up in absolute terms;
* *effective robustness* is the performance beyond what a reference fusion model with
  the same clean performance would keep: ``f(l) - (ref(l) - ref(0) + f(0))``, with
  MultiBench's late-fusion reference replaced here by the concatenation baseline of
  the same training modalities (``baseline_TA`` for ``T_A``). MultiBench sums it over
  levels; here it is averaged over the non-zero levels, so that corruptions with
  different numbers of levels compare.

MultiBench then min-max normalises both across the methods of a benchmark; the values
here are left unnormalised (F1 units), so they stay comparable between studies. Each
measure is averaged over the corruption kinds of a modality.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tfs2s import modalities as M
from tfs2s.experiments.corruptions import LEVELS, Corruption, check_corruptions
from tfs2s.topology import PAPER_TOPOLOGIES, parse_topology
from tfs2s.training.metrics import METRIC_KEYS, sentiment_metrics

#: The metric the summary and the chart report.
SCORE = "f1_2"
CSV_FIELDS: tuple[str, ...] = (
    "run",
    "topology",
    "seed",
    "split",
    "modality",
    "read_at_inference",
    "corruption",
    "level",
    *METRIC_KEYS,
)


def paper_runs(paper_dir: str | os.PathLike, log: Callable = print) -> list[Path]:
    """Finished runs of a ``tfs2s experiments paper --out DIR`` directory, in poster order.

    Half-written runs (no ``model.keras``) are skipped with a log line.
    """
    from tfs2s.inference.runs import MODEL_FILE

    base = Path(paper_dir) / "runs"
    if not base.is_dir():
        raise FileNotFoundError(
            f"{paper_dir} is not a paper results directory: it has no runs/ "
            "(expected the --out of tfs2s experiments paper)"
        )
    names = sorted(p.name for p in base.iterdir() if p.is_dir())
    order = {n: i for i, n in enumerate(PAPER_TOPOLOGIES)}
    names.sort(key=lambda n: (order.get(n, len(order)), n))
    found = []
    for name in names:
        seeds = [p for p in (base / name).iterdir() if p.is_dir() and p.name[4:].isdigit()]
        for entry in sorted(seeds, key=lambda p: int(p.name[4:])):
            if not entry.name.startswith("seed"):
                continue
            if (entry / MODEL_FILE).is_file():
                found.append(entry)
            else:
                log(f"skip {entry}: half-written run (no {MODEL_FILE})")
    if not found:
        raise FileNotFoundError(f"{base} holds no finished run")
    return found


def corruption_stats(run, source) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (train mean, train std), raw scale, for every modality of the source.

    The model's own statistics win for the modalities it reads: they define what
    "zero after normalisation" is for it.
    """
    stats = {n: (m, np.sqrt(v)) for n, (m, v) in source.norm_stats().items()}
    if run.model is not None:
        stats.update({n: (m, np.sqrt(v)) for n, (m, v) in run.norm_stats().items()})
    return stats


def study_run(
    run,
    source,
    *,
    split: str = "test",
    corruptions: Sequence[str] = tuple(LEVELS),
    levels: Mapping[str, Sequence[float]] | None = None,
    seed: int = 0,
    batch_size: int | None = None,
) -> list[dict[str, Any]]:
    """Rows of :data:`CSV_FIELDS` for one run: every training modality x corruption x level.

    Args:
        run: a :class:`~tfs2s.inference.runs.TrainedRun`.
        source: a data source holding every modality the run's topology trains on.
        split: the split scored.
        corruptions: names from :data:`~tfs2s.experiments.corruptions.CORRUPTIONS`.
        levels: corruption -> levels (default :data:`~tfs2s.experiments.corruptions.LEVELS`).
        seed: noise seed.
        batch_size: scoring batch size (default: the run's evaluation batch size).
    """
    from tfs2s.inference.scoring import predictions

    corruptions = check_corruptions(corruptions)
    levels = {**LEVELS, **(levels or {})}
    modalities = run.training_modalities
    run.check_source(source, extra=modalities)
    stats = corruption_stats(run, source)
    rows = []
    for modality in modalities:
        mean, std = stats[modality]
        for kind in corruptions:
            for level in levels[kind]:
                corruption = Corruption(modality, kind, float(level), mean, std, seed)
                labels, preds = predictions(
                    run,
                    source,
                    split,
                    batch_size=batch_size,
                    names=modalities,
                    transform=corruption.transform,
                )
                rows.append(
                    {
                        "run": str(run.path),
                        "topology": run.topology.name,
                        "seed": run.seed,
                        "split": split,
                        "modality": modality,
                        "read_at_inference": modality in run.inference_modalities,
                        "corruption": kind,
                        "level": float(level),
                        **sentiment_metrics(labels, preds),
                    }
                )
    return rows


# --------------------------------------------------------------------------- summary


def _curves(rows: Iterable[Mapping[str, Any]]) -> dict[tuple, dict[float, list[float]]]:
    """(topology, modality, corruption) -> level -> scores over seeds."""
    curves: dict[tuple, dict[float, list[float]]] = {}
    for r in rows:
        key = (r["topology"], r["modality"], r["corruption"])
        curves.setdefault(key, {}).setdefault(float(r["level"]), []).append(float(r[SCORE]))
    return curves


def relative_robustness(levels: Sequence[float], scores: Sequence[float]) -> float:
    """MultiBench's relative robustness: area under score vs level, levels scaled to [0, 1]."""
    x = np.asarray(levels, np.float64)
    y = np.asarray(scores, np.float64)
    if x.size < 2 or x.max() <= 0:
        return float(y.mean())
    x = x / x.max()
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)))


def effective_robustness(scores: Sequence[float], reference: Sequence[float]) -> float:
    """MultiBench's effective robustness against ``reference`` (same levels), per level.

    ``mean over l > 0 of f(l) - (ref(l) - ref(0) + f(0))``: what a model keeps beyond a
    reference whose clean score is shifted to the model's.
    """
    f = np.asarray(scores, np.float64)
    ref = np.asarray(reference, np.float64)
    if f.size < 2:
        return math.nan
    return float(np.mean(f[1:] - (ref[1:] - ref[0] + f[0])))


def reference_of(topology: str) -> str:
    """The concatenation baseline over the topology's training modalities."""
    codes = [M.code_of(n) for n in parse_topology(topology).training_modalities]
    return "baseline_" + "".join(codes)


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One dict per (topology, corrupted modality), in first-seen order; see the module doc."""
    curves = _curves(rows)
    mean_curve = {
        key: (sorted(c), [float(np.mean(c[lv])) for lv in sorted(c)]) for key, c in curves.items()
    }
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for (topology, modality, kind), (levels, scores) in mean_curve.items():
        entry = out.setdefault(
            (topology, modality),
            {
                "topology": topology,
                "modality": modality,
                "read_at_inference": modality in parse_topology(topology).inference_modalities,
                "seeds": len(curves[(topology, modality, kind)][levels[0]]),
                "clean": scores[0],
                "missing": math.nan,
                "worst": math.inf,
                "_relative": [],
                "_effective": [],
            },
        )
        if kind == "missing":
            entry["missing"] = scores[-1]
        entry["worst"] = min(entry["worst"], min(scores))
        entry["_relative"].append(relative_robustness(levels, scores))
        ref = mean_curve.get((reference_of(topology), modality, kind))
        if ref is not None and ref[0] == levels:
            entry["_effective"].append(effective_robustness(scores, ref[1]))
    result = []
    for entry in out.values():
        entry["relative"] = float(np.mean(entry.pop("_relative")))
        effective = entry.pop("_effective")
        entry["effective"] = float(np.mean(effective)) if effective else math.nan
        entry["reference"] = reference_of(entry["topology"])
        result.append(entry)
    return result


def _fmt(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{x:.3f}"


def format_markdown(summary: Sequence[Mapping[str, Any]], split: str) -> str:
    """``robustness.md``: the summary table and how to read it."""
    lines = [
        "# Robustness to a corrupted modality",
        "",
        f"Binary F1 (weighted) on the {split} split, mean over seeds. *clean*: no corruption; "
        "*missing*: the modality replaced by its train mean; *worst*: the lowest score over "
        "every corruption and level; *relative* and *effective*: MultiBench's relative "
        "robustness (area under F1 vs level) and effective robustness (F1 kept beyond the "
        "concatenation baseline of the same modalities, *reference*), averaged over the "
        "corruptions. *read*: whether the model reads the modality at inference.",
        "",
        "| topology | corrupted | read | seeds | clean | missing | worst | relative "
        "| effective | reference |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for e in summary:
        lines.append(
            f"| {e['topology']} | {e['modality']} | {'yes' if e['read_at_inference'] else 'no'} "
            f"| {e['seeds']} | {_fmt(e['clean'])} | {_fmt(e['missing'])} | {_fmt(e['worst'])} "
            f"| {_fmt(e['relative'])} | {_fmt(e['effective'])} | {e['reference']} |"
        )
    return "\n".join(lines) + "\n"


def write_chart(rows: Sequence[Mapping[str, Any]], path: str) -> None:
    """Binary F1 vs level: rows of panels per corruption, columns per modality."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _curves(rows)
    kinds = list(dict.fromkeys(k[2] for k in curves))
    modalities = [n for n in M.NAMES.values() if any(k[1] == n for k in curves)]
    topologies = list(dict.fromkeys(k[0] for k in curves))
    # One colour per topology across every panel (a panel omits the topologies that do
    # not train on its modality, so the default colour cycle would reuse colours).
    names = ["tab10"] if len(topologies) <= 10 else ["tab20", "tab20b"]
    palette = [c for name in names for c in matplotlib.colormaps[name].colors]
    colour = {t: palette[i % len(palette)] for i, t in enumerate(topologies)}
    fig, axes = plt.subplots(
        len(kinds),
        len(modalities),
        figsize=(4 * len(modalities), 3 * len(kinds)),
        squeeze=False,
        sharey=True,
    )
    for i, kind in enumerate(kinds):
        for j, modality in enumerate(modalities):
            ax = axes[i][j]
            for topology in topologies:
                curve = curves.get((topology, modality, kind))
                if curve is None:
                    continue
                levels = sorted(curve)
                mean = [np.mean(curve[lv]) for lv in levels]
                std = [np.std(curve[lv]) for lv in levels]
                ax.errorbar(
                    levels,
                    mean,
                    yerr=std,
                    marker="o",
                    ms=3,
                    capsize=2,
                    label=topology,
                    color=colour[topology],
                )
            ax.set_title(f"{modality}: {kind}", fontsize=9)
            ax.set_xlabel("level")
            ax.grid(alpha=0.3)
            if j == 0:
                ax.set_ylabel(f"binary F1 ({SCORE})")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for row in axes:
        for ax in row:
            for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
                if lab not in labels:
                    handles.append(h)
                    labels.append(lab)
    fig.legend(handles, labels, loc="center right", fontsize=7)
    fig.tight_layout(rect=(0, 0, 0.85, 1))
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    os.replace(tmp, path)


def run_robustness(
    runs: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    *,
    overrides: Mapping[str, Any] | None = None,
    split: str | None = None,
    corruptions: Sequence[str] = tuple(LEVELS),
    seed: int = 0,
    batch_size: int | None = None,
    log: Callable = print,
) -> list[dict[str, Any]]:
    """Study every run and write ``robustness.csv``, ``.md`` and ``.png`` into ``out``.

    ``split`` None scores ``test`` when the data has it, else ``valid`` (as
    ``tfs2s experiments paper`` reports).

    Every run is opened and its data checked before anything is scored or written; a
    source is loaded once per distinct data config.

    Returns:
        the summary (see :func:`summarise`).
    """
    from tfs2s.data.sources import load_source
    from tfs2s.inference.atomic import atomic_path
    from tfs2s.inference.runs import data_config, open_run
    from tfs2s.inference.scoring import resolve_splits

    corruptions = check_corruptions(corruptions)
    if not runs:
        raise ValueError("no run given; pass --runs DIR... or --paper-dir DIR")
    opened = [open_run(path) for path in runs]
    # Each run is one seed of its row's mean and std: the same run twice (or a copy of it)
    # would pass for two seeds that agree.
    seen: dict[tuple, Any] = {}
    for run in opened:
        key = (run.topology.name, run.seed) if run.seed is not None else run.path.resolve()
        if key in seen:
            raise ValueError(
                f"{seen[key].path} and {run.path} are the same run "
                f"({run.topology.name}, seed {run.seed}); each run counts as one seed, so "
                "name it once"
            )
        seen[key] = run
    sources: dict[str, Any] = {}
    plan = []
    for run in opened:
        cfg = data_config(run, overrides or {})
        key = repr(cfg)
        if key not in sources:
            sources[key] = load_source(cfg)
        source = sources[key]
        run.check_source(source, extra=run.training_modalities)
        if split is None:
            split = "test" if "test" in source.nonempty_splits() else "valid"
        resolve_splits(source, split)
        plan.append((run, source))
    rows = []
    for i, (run, source) in enumerate(plan):
        log(f"[{i + 1}/{len(plan)}] {run.topology.name} ({run.path})")
        rows += study_run(
            run, source, split=split, corruptions=corruptions, seed=seed, batch_size=batch_size
        )
    summary = summarise(rows)
    os.makedirs(out, exist_ok=True)
    with atomic_path(os.path.join(out, "robustness.csv")) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    with atomic_path(os.path.join(out, "robustness.md")) as tmp, open(tmp, "w") as f:
        f.write(format_markdown(summary, split))
    write_chart(rows, os.path.join(out, "robustness.png"))
    return summary
