"""Training speed on the built-in data: steady seconds per epoch, and the whole paper.

Prints and writes JSON (default ``benchmarks/results/bench_train.json``):

* for ``baseline_TAV``, ``T_V`` and ``embed_AV_T``: seconds of every epoch of every phase,
  and the median of the epochs after the first of each phase (the first pays for tracing);
  target for ``embed_AV_T``: a steady epoch under 1 s on a 2-core machine;
* with ``--paper``: the wall time of one full ``tfs2s experiments paper --seeds 1``
  (26 rows); target: 26 rows x 5 seeds in under 60 minutes. ``--paper-seeds 5`` times the
  target itself (later seeds reuse the first seed's traced models, so 5 x the one-seed time
  overestimates it); ``--paper-out DIR`` keeps the runs and tables (DIR must be new).

Usage: ``python benchmarks/bench_train.py [--paper [--paper-seeds N] [--paper-out DIR]]
[--epochs 6] [--skip-epochs] [--out FILE]``
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

TOPOLOGIES = ("baseline_TAV", "T_V", "embed_AV_T")


def time_epochs(topology: str, epochs: int) -> dict:
    import keras

    from tfs2s.config import RunConfig
    from tfs2s.data.sources import load_source
    from tfs2s.topology import parse_topology
    from tfs2s.training.fit import train_model
    from tfs2s.training.run import set_determinism

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.phases: list[list[float]] = []

        def on_train_begin(self, logs=None):
            self.phases.append([])

        def on_epoch_begin(self, epoch, logs=None):
            self._t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.phases[-1].append(time.perf_counter() - self._t)

    # patience > epochs so every phase runs all its epochs
    cfg = RunConfig().replace(
        **{
            "topology": topology,
            "train.epochs": epochs,
            "train.translator_epochs": epochs,
            "train.patience": epochs + 1,
        }
    )
    set_determinism(cfg.train.seed)
    source = load_source(cfg.data)
    timer = EpochTimer()
    t0 = time.perf_counter()
    train_model(
        parse_topology(topology), cfg.model, cfg.train, source, callbacks=[timer], verbose=0
    )
    total = time.perf_counter() - t0
    steady = [statistics.median(p[1:]) for p in timer.phases if len(p) > 1]
    return {
        "epoch_seconds_per_phase": [[round(s, 4) for s in p] for p in timer.phases],
        "steady_epoch_seconds_per_phase": [round(s, 4) for s in steady],
        "steady_epoch_seconds": round(max(steady), 4) if steady else None,
        "total_seconds": round(total, 2),
        "train_segments": source.num_examples("train"),
        "batch_size": cfg.train.batch_size,
    }


def time_paper(out_dir: str, seeds: int) -> dict:
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
        "rows": 26,
        "runs": len(run_seconds),
        "wall_seconds": round(wall, 1),
        "wall_minutes": round(wall / 60, 1),
        "run_seconds_median": round(statistics.median(run_seconds), 1) if run_seconds else None,
        "run_seconds_max": round(max(run_seconds), 1) if run_seconds else None,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "target_5_seeds_minutes": 60,
    }
    if seeds < 5:
        result["projected_5_seeds_minutes_upper_bound"] = round(5 / seeds * wall / 60, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--paper", action="store_true", help="also time experiments paper")
    parser.add_argument("--paper-seeds", type=int, default=1, help="seeds for --paper (default 1)")
    parser.add_argument("--paper-out", metavar="DIR", help="keep the paper runs here (a new dir)")
    parser.add_argument("--skip-epochs", action="store_true", help="only time the paper")
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
        "target_embed_AV_T_steady_epoch_seconds": 1.0,
        "topologies": {},
    }
    for name in () if args.skip_epochs else TOPOLOGIES:
        result["topologies"][name] = time_epochs(name, args.epochs)
        print(f"{name:14s} steady epoch {result['topologies'][name]['steady_epoch_seconds']} s")
    if args.paper:
        if args.paper_out:
            result["paper"] = time_paper(args.paper_out, args.paper_seeds)
        else:
            with tempfile.TemporaryDirectory() as d:
                result["paper"] = time_paper(d, args.paper_seeds)
        p = result["paper"]
        print(f"paper --seeds {p['seeds']}: {p['wall_minutes']} min for {p['runs']} runs")
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, args.out)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
