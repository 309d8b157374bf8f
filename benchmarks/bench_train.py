"""Training speed on the built-in data: steady seconds per epoch, and the whole paper.

Prints and writes JSON (default ``benchmarks/results/bench_train.json``):

* for ``baseline_TAV``, ``T_V``, ``embed_AV_T`` (poster recipe) and ``embed_TV_A`` in joint
  mode with a cycle loss (translation and cycle weights 0.1, the MCTN-like setting; once
  unrolled like the poster recipe, once with its LSTMs as XLA-compiled loops like the
  recommended one, once as Keras's while loops): the
  seconds of every epoch of every phase, the first epoch (it pays for tracing) and the
  median of the others; targets: trace under 5 s a phase, joint ``embed_TV_A`` under 1 s
  a steady epoch;
* ``--headline``: the wall time of ``python train.py --topology embed_AV_T`` in a fresh
  process (the recommended recipe) and its time line (start-up, trace, train); target 30 s;
* with ``--paper``: the wall time of ``tfs2s experiments paper`` on the built-in data
  (26 rows, ``--paper-seeds`` seeds, ``--paper-jobs`` worker processes); target: 26 rows x
  5 seeds in 15 minutes. ``--paper-out DIR`` keeps the runs and tables (DIR must be new).

``--rows A,B`` times a subset of the rows; ``--repeat N`` times each N times, each time in
a fresh process, the rows interleaved, and reports the medians and ranges (a shared
machine moves a single figure by 20% or more).

Usage: ``python benchmarks/bench_train.py [--headline] [--paper [--paper-seeds N]
[--paper-jobs N] [--paper-out DIR]] [--epochs 6] [--rows A,B] [--repeat N]
[--skip-epochs] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

#: name -> (topology, overrides on the poster recipe)
TOPOLOGIES = {
    "baseline_TAV": ("baseline_TAV", {}),
    "T_V": ("T_V", {}),
    "embed_AV_T": ("embed_AV_T", {}),
    "embed_TV_A joint+cycle": (
        "embed_TV_A",
        {"train.mode": "joint", "train.translation_weight": 0.1, "train.cycle_weight": 0.1},
    ),
    # the same with the LSTMs as XLA-compiled loops, as the recommended recipe runs them
    "embed_TV_A joint+cycle loops": (
        "embed_TV_A",
        {
            "train.mode": "joint",
            "train.translation_weight": 0.1,
            "train.cycle_weight": 0.1,
            "model.unroll": False,
        },
    ),
    # and with Keras's while loops (model.xla_loops off), for comparison
    "embed_TV_A joint+cycle Keras loops": (
        "embed_TV_A",
        {
            "train.mode": "joint",
            "train.translation_weight": 0.1,
            "train.cycle_weight": 0.1,
            "model.unroll": False,
            "model.xla_loops": False,
        },
    ),
}


def time_epochs(topology: str, overrides: dict, epochs: int) -> dict:
    from tfs2s.config import load_recipe
    from tfs2s.data.sources import load_source
    from tfs2s.topology import parse_topology
    from tfs2s.training.run import set_determinism
    from tfs2s.training.trainer import Trainer

    # patience > epochs so every phase runs all its epochs
    cfg = load_recipe("poster").replace(
        **{
            "topology": topology,
            "train.epochs": epochs,
            "train.translator_epochs": epochs,
            "train.patience": epochs + 1,
            **overrides,
        }
    )
    set_determinism(cfg.train.seed)
    source = load_source(cfg.data)
    t0 = time.perf_counter()
    trainer = Trainer(parse_topology(topology), cfg.model, cfg.train, source)
    build = time.perf_counter() - t0
    trainer.train(verbose=0)
    total = time.perf_counter() - t0
    timing = trainer.timing.to_dict()
    return {
        "overrides": overrides,
        "build_seconds": round(build, 2),
        "phases": timing["phases"],
        "epoch_seconds_per_phase": [
            [round(x, 4) for x in p.epoch_seconds] for p in trainer.timing.phases
        ],
        "trace_seconds": timing["trace_seconds"],
        "max_phase_trace_seconds": max(p["trace_seconds"] for p in timing["phases"].values()),
        "steady_epoch_seconds": max(p["steady_epoch_seconds"] for p in timing["phases"].values()),
        "total_seconds": round(total, 2),
        "train_segments": source.num_examples("train"),
        "batch_size": cfg.train.batch_size,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


def time_epochs_fresh(name: str, epochs: int) -> dict:
    """:func:`time_epochs` of the row ``name`` in a fresh process: its trace pays every
    compile a user's first run pays (nothing cached by an earlier row or repetition)."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import bench_train as b; "
        "t, o = b.TOPOLOGIES[sys.argv[2]]; "
        "print('RESULT ' + json.dumps(b.time_epochs(t, o, int(sys.argv[3]))))"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, os.path.dirname(os.path.abspath(__file__)), name, str(epochs)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{res.stderr[-4000:]}")
    line = next(x for x in res.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line[len("RESULT ") :])


def repeated(runs: list[dict]) -> dict:
    """The median steady epoch and largest-phase trace over fresh-process repetitions."""
    return {
        "repetitions": runs,
        "steady_epoch_seconds": statistics.median(r["steady_epoch_seconds"] for r in runs),
        "max_phase_trace_seconds": statistics.median(r["max_phase_trace_seconds"] for r in runs),
        "steady_epoch_seconds_range": [
            min(r["steady_epoch_seconds"] for r in runs),
            max(r["steady_epoch_seconds"] for r in runs),
        ],
        "max_phase_trace_seconds_range": [
            min(r["max_phase_trace_seconds"] for r in runs),
            max(r["max_phase_trace_seconds"] for r in runs),
        ],
    }


def time_headline() -> dict:
    """``python train.py --topology embed_AV_T`` in a fresh process, as a user runs it."""
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        res = subprocess.run(
            [sys.executable, "train.py", "--topology", "embed_AV_T", "--out", d, "--overwrite"],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise RuntimeError(f"train.py failed:\n{res.stderr[-4000:]}")
    line = next(x for x in res.stdout.splitlines() if x.startswith("time: "))
    seconds = {k: float(v) for v, k in re.findall(r"([0-9.]+) s (start-up|trace|train)", line)}
    test = next(x for x in res.stdout.splitlines() if x.startswith("test "))
    return {
        "command": "python train.py --topology embed_AV_T",
        "wall_seconds": round(wall, 1),
        "time_line": line,
        "startup_seconds": seconds.get("start-up"),
        "trace_seconds": seconds.get("trace"),
        "train_seconds": seconds.get("train"),
        "test_corr": float(test.split()[-1]),
        "target_seconds": 30,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }


def time_paper(out_dir: str, seeds: int, jobs: int) -> dict:
    if os.path.exists(os.path.join(out_dir, "runs")):
        # finished runs would be skipped and the time would mean nothing
        raise SystemExit(f"--paper-out {out_dir} already holds runs; give a new directory")
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "tfs2s.cli",
            "experiments",
            "paper",
            "--seeds",
            str(seeds),
            "--jobs",
            str(jobs),
            "--out",
            out_dir,
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    with open(os.path.join(out_dir, "paper.log"), "w") as f:
        f.write(res.stdout)
    if res.returncode != 0:
        raise RuntimeError(f"experiments paper failed:\n{res.stderr[-4000:]}")
    run_seconds = [float(m) for m in re.findall(r": ([0-9.]+) s \(trace", res.stdout)]
    result = {
        "seeds": seeds,
        "jobs": jobs,
        "rows": 26,
        "runs": len(run_seconds),
        "wall_seconds": round(wall, 1),
        "wall_minutes": round(wall / 60, 1),
        "run_seconds_median": round(statistics.median(run_seconds), 1) if run_seconds else None,
        "run_seconds_max": round(max(run_seconds), 1) if run_seconds else None,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "target_5_seeds_minutes": 15,
    }
    if seeds < 5:
        result["projected_5_seeds_minutes_upper_bound"] = round(5 / seeds * wall / 60, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--paper", action="store_true", help="also time experiments paper")
    parser.add_argument("--paper-seeds", type=int, default=1, help="seeds for --paper (default 1)")
    parser.add_argument("--paper-jobs", type=int, default=2, help="--jobs for --paper (default 2)")
    parser.add_argument("--paper-out", metavar="DIR", help="keep the paper runs here (a new dir)")
    parser.add_argument("--headline", action="store_true", help="time train.py embed_AV_T")
    parser.add_argument("--skip-epochs", action="store_true", help="only time the paper")
    parser.add_argument(
        "--rows", help=f"comma-separated subset of the rows ({', '.join(TOPOLOGIES)})"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=0,
        help="time each row N times, each in a fresh process, the rows interleaved; "
        "report the medians (default: every row once, in this process)",
    )
    parser.add_argument(
        "--out", default=os.path.join(ROOT, "benchmarks", "results", "bench_train.json")
    )
    args = parser.parse_args()

    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "targets": {
            "trace_seconds_per_phase": 5.0,
            "joint_embed_TV_A_steady_epoch_seconds": 1.0,
            "headline_seconds": 30,
            "paper_5_seeds_minutes": 15,
        },
        "topologies": {},
    }
    rows = list(TOPOLOGIES) if not args.rows else args.rows.split(",")
    unknown = [r for r in rows if r not in TOPOLOGIES]
    if unknown:
        parser.error(f"--rows: unknown {unknown}; expected some of {list(TOPOLOGIES)}")
    rows = [] if args.skip_epochs else rows
    if args.repeat:
        runs: dict[str, list[dict]] = {name: [] for name in rows}
        for _ in range(args.repeat):
            for name in rows:
                runs[name].append(time_epochs_fresh(name, args.epochs))
        result["topologies"] = {name: repeated(r) for name, r in runs.items()}
    else:
        for name in rows:
            topology, overrides = TOPOLOGIES[name]
            result["topologies"][name] = time_epochs(topology, overrides, args.epochs)
    for name, r in result["topologies"].items():
        print(
            f"{name:24s} steady epoch {r['steady_epoch_seconds']} s, "
            f"trace {r['max_phase_trace_seconds']} s (largest phase)"
        )
    if args.headline:
        h = result["headline"] = time_headline()
        print(f"headline: {h['wall_seconds']} s wall; {h['time_line']}")
    if args.paper:
        if args.paper_out:
            result["paper"] = time_paper(args.paper_out, args.paper_seeds, args.paper_jobs)
        else:
            with tempfile.TemporaryDirectory() as d:
                result["paper"] = time_paper(d, args.paper_seeds, args.paper_jobs)
        p = result["paper"]
        print(
            f"paper --seeds {p['seeds']} --jobs {p['jobs']}: {p['wall_minutes']} min "
            f"for {p['runs']} runs"
        )
    if os.path.exists(args.out):
        # the figures this run replaces, for before/after comparisons
        with open(args.out) as f:
            previous = json.load(f)
        previous.pop("previous", None)
        result["previous"] = previous
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
