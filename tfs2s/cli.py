"""The ``tfs2s`` command line: ``data inspect|prepare``, ``train``, ``experiments paper``,
``export`` and ``tune``. ``train.py`` at the repository root delegates to ``tfs2s train``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from tfs2s.config import RunConfig, apply_overrides, load_yaml, parse_data_map, parse_set
from tfs2s.console import add_verbose_arg, fit_verbosity, quiet_tensorflow

STRATEGIES = ("auto", "one", "mirrored", "multiworker")


def add_data_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument(
        "--data",
        metavar="PATH",
        help="directory of CMU-SDK .csd files, a prepared cache (tfs2s data prepare) or an "
        "aligned .pkl; default: the built-in synthetic CMU-MOSI",
    )
    g.add_argument(
        "--data-map",
        metavar="MAP",
        help="modality files in --data, e.g. text=CMU_MOSI_GloVe50_WordVectors,"
        "audio=CMU_MOSI_openSMILE_Segment,labels=CMU_MOSI_Opinion_Labels (.csd optional)",
    )
    g.add_argument("--folds", metavar="JSON", help="folds file; default: standard CMU-MOSI folds")
    g.add_argument(
        "--trust-pickle",
        action="store_true",
        help="allow reading a .pkl (unpickling runs code from the file: only for files you trust)",
    )


def add_config_args(p: argparse.ArgumentParser, *, training: bool = True) -> None:
    """``--config``/``--set``/``--verbose``, and with ``training`` the flags of a training
    run (seed, epochs, batch size, strategy, CPU devices)."""
    g = p.add_argument_group("configuration")
    g.add_argument("--config", metavar="YAML", help="YAML file overriding the defaults")
    g.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one config value, e.g. --set train.mode=joint (repeatable)",
    )
    add_verbose_arg(g)
    if not training:
        return
    g.add_argument("--seed", type=int, help="random seed (train.seed)")
    g.add_argument("--epochs", type=int, help="maximum epochs of every phase")
    g.add_argument("--batch-size", type=int, help="global batch size (train.batch_size)")
    g.add_argument(
        "--strategy",
        choices=STRATEGIES,
        help="distribution strategy (train.strategy): auto (all GPUs if several), one, "
        "mirrored (all GPUs, or all logical CPUs), multiworker (TF_CONFIG cluster); "
        "see docs/distributed.md",
    )
    g.add_argument(
        "--cpu-devices",
        type=int,
        metavar="N",
        help="split the CPU into N logical devices before TensorFlow starts, so that "
        "--strategy mirrored runs N replicas without a GPU (env TFS2S_CPU_DEVICES)",
    )


def config_from_args(args: argparse.Namespace, topology: str | None = None) -> RunConfig:
    """Defaults -> ``--config`` YAML -> ``--set`` -> explicit flags."""
    cfg = RunConfig()
    if getattr(args, "config", None):
        cfg = load_yaml(args.config, cfg)
    overrides = parse_set(getattr(args, "set", []) or [])
    if topology:
        overrides["topology"] = topology
    if getattr(args, "data", None):
        overrides["data.path"] = args.data
    if getattr(args, "data_map", None):
        overrides["data.data_map"] = parse_data_map(args.data_map)
    if getattr(args, "folds", None):
        overrides["data.folds"] = args.folds
    if getattr(args, "trust_pickle", False):
        overrides["data.trust_pickle"] = True
    if getattr(args, "seed", None) is not None:
        overrides["train.seed"] = args.seed
    if getattr(args, "epochs", None) is not None:
        overrides["train.epochs"] = args.epochs
        overrides["train.translator_epochs"] = args.epochs
    if getattr(args, "batch_size", None) is not None:
        overrides["train.batch_size"] = args.batch_size
    if getattr(args, "strategy", None):
        overrides["train.strategy"] = args.strategy
    return apply_overrides(cfg, overrides)


# --------------------------------------------------------------------------- data


def _cmd_data_inspect(args: argparse.Namespace) -> int:
    from tfs2s.data.cache import CachedSource, is_cache
    from tfs2s.data.inspect import inspect_data, inspect_source
    from tfs2s.data.sources import load_data

    cfg = config_from_args(args)
    if cfg.data.path and os.path.isdir(cfg.data.path) and is_cache(cfg.data.path):
        report = inspect_source(CachedSource(cfg.data.path))
    else:
        report = inspect_data(load_data(cfg.data))
    print(json.dumps(report, indent=2, default=str))
    return 0


def _cmd_data_prepare(args: argparse.Namespace) -> int:
    from tfs2s.data.cache import prepare
    from tfs2s.data.sources import load_data

    cfg = config_from_args(args)
    meta = prepare(load_data(cfg.data), args.out, overwrite=args.overwrite)
    print(json.dumps({"out": args.out, "counts": meta.get("counts")}, indent=2, default=str))
    return 0


def _add_data_parser(sub) -> None:
    p = sub.add_parser("data", help="inspect or prepare data")
    dsub = p.add_subparsers(dest="data_command", required=True)
    pi = dsub.add_parser("inspect", help="print one JSON object describing the data")
    add_data_args(pi)
    add_config_args(pi, training=False)
    pi.set_defaults(func=_cmd_data_inspect)
    pp = dsub.add_parser("prepare", help="align once and write a streamable TFRecord cache")
    add_data_args(pp)
    add_config_args(pp, training=False)
    pp.add_argument("--out", required=True, metavar="DIR", help="cache directory to create")
    pp.add_argument("--overwrite", action="store_true", help="replace an existing cache")
    pp.set_defaults(func=_cmd_data_prepare)


# --------------------------------------------------------------------------- train


def add_train_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", metavar="NAME", help="e.g. embed_AV_T, T_V, baseline_TAV")
    p.add_argument(
        "--list-topologies", action="store_true", help="print the registered topologies and exit"
    )
    add_data_args(p)
    add_config_args(p)
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<topology>-s<seed>)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    from tfs2s.tuning.cli import add_search_args

    add_search_args(p, with_tune_flag=True)


def list_topologies() -> str:
    from tfs2s.topology import PAPER_TABLES, parse_topology

    lines = []
    for table, names in PAPER_TABLES.items():
        lines.append(f"# {table}")
        lines += [f"{n:22s}  {parse_topology(n).notation}" for n in names]
    return "\n".join(lines)


def _cmd_train(args: argparse.Namespace) -> int:
    if args.list_topologies:
        print(list_topologies())
        return 0
    if getattr(args, "tune", None):
        from tfs2s.tuning.cli import run_tune_from_train_args

        return run_tune_from_train_args(args)
    if not args.topology and not args.config:
        raise SystemExit("error: --topology is required (see --list-topologies)")
    cfg = config_from_args(args, topology=args.topology)
    from tfs2s.training.run import print_results, run

    out = args.out or os.path.join("runs", f"{cfg.topology}-s{cfg.train.seed}")
    result = run(cfg, out, verbose=fit_verbosity(args.quiet))
    chief = True
    if cfg.train.strategy == "multiworker":
        from tfs2s.training.strategies import is_chief_task, read_tf_config

        chief = is_chief_task(read_tf_config())
    print_results(result, cfg, out, chief=chief)
    return 0


# --------------------------------------------------------------------------- main


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tfs2s",
        description="Multimodal sentiment analysis by seq2seq modality translation.",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up logs and warnings (hidden by default)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_data_parser(sub)
    pt = sub.add_parser("train", help="train one topology")
    add_train_args(pt)
    pt.set_defaults(func=_cmd_train)
    for module in ("tfs2s.experiments.cli", "tfs2s.serving.cli", "tfs2s.tuning.cli"):
        try:
            mod = __import__(module, fromlist=["add_parser"])
        except ModuleNotFoundError as e:
            if e.name != module:
                raise
            continue
        mod.add_parser(sub)
    return parser


def configure_devices(args: argparse.Namespace) -> None:
    """Split the CPU into logical devices (``--cpu-devices``/``TFS2S_CPU_DEVICES``) before
    any command initialises TensorFlow's devices."""
    count = getattr(args, "cpu_devices", None)
    if count is not None or os.environ.get("TFS2S_CPU_DEVICES", "").strip():
        from tfs2s.training.strategies import configure_cpu_devices

        configure_cpu_devices(count)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    quiet_tensorflow(verbose=args.verbose)
    try:
        configure_devices(args)
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError) as e:
        print(f"tfs2s: error: {e}", file=sys.stderr)
        return 2
    except RuntimeError as e:
        # A multi-worker peer failed: one clear line instead of a TensorFlow traceback.
        strategies = sys.modules.get("tfs2s.training.strategies")
        if strategies is None or not isinstance(e, strategies.WorkerFailure):
            raise
        print(f"tfs2s: error: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
