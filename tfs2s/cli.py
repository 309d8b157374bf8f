"""The ``tfs2s`` command line: ``data inspect|prepare``, ``train``, ``experiments
paper|robustness``, ``export``, ``tune``, and ``evaluate``, ``predict`` and ``explain`` of a
finished run. ``train.py`` at the repository root delegates to ``tfs2s train``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Sequence
from typing import NoReturn

from tfs2s import cli_args
from tfs2s.cli_args import (  # noqa: F401  (public names of tfs2s.cli)
    STRATEGIES,
    add_config_args,
    add_data_args,
    add_search_args,
    config_from_args,
)
from tfs2s.console import (  # noqa: F401
    add_verbose_arg,
    fit_verbosity,
    one_line_warnings,
    quiet_tensorflow,
)
from tfs2s.experiments import cli as experiments_cli
from tfs2s.inference import cli as inference_cli
from tfs2s.serving import cli as serving_cli
from tfs2s.tuning import cli as tuning_cli

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
    meta = prepare(
        load_data(cfg.data), args.out, overwrite=args.overwrite, truncate=cfg.data.truncate
    )
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
    cli_args.add_recipe_arg(p, default="recommended")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/<topology>-s<seed>)")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a finished run in --out (whole); without it, a finished run is refused",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    cli_args.add_search_args(p, with_tune_flag=True)


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
        return tuning_cli.run_tune_from_train_args(args)
    if not args.topology and not args.config:
        raise SystemExit("error: --topology is required (see --list-topologies)")
    cfg = config_from_args(args, topology=args.topology)
    cli_args.note_unread(cfg)
    from tfs2s.training.run import print_results, run

    out = args.out or os.path.join("runs", f"{cfg.topology}-s{cfg.train.seed}")
    result = run(
        cfg,
        out,
        verbose=fit_verbosity(args.quiet),
        overwrite=args.overwrite,
        started=getattr(args, "started", None),
    )
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
        "--debug",
        action="store_true",
        help="show the Python traceback of an error instead of one line",
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
    for module in (experiments_cli, serving_cli, tuning_cli, inference_cli):
        module.add_parser(sub)
    return parser


def configure_devices(args: argparse.Namespace) -> None:
    """Split the CPU into logical devices (``--cpu-devices``/``TFS2S_CPU_DEVICES``) before
    any command initialises TensorFlow's devices."""
    count = getattr(args, "cpu_devices", None)
    if count is not None or os.environ.get("TFS2S_CPU_DEVICES", "").strip():
        from tfs2s.training.strategies import configure_cpu_devices

        configure_cpu_devices(count)


#: Exit status of a command stopped by Ctrl-C (SIGINT), as a shell reports it.
INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Errors print one line ``tfs2s: error: ...`` (no traceback unless
    ``--debug``): exit 2 for bad input (unreadable files, refused directories, invalid
    config, diverged training), 3 for a failed multi-worker peer, 1 for anything else,
    130 (one line too) when Ctrl-C stops it."""
    started = time.perf_counter()
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--debug" in argv:
        # Accepted anywhere (``python train.py ... --debug``), parsed as the global flag.
        argv.remove("--debug")
        argv.insert(0, "--debug")
    args = parser.parse_args(argv)
    args.started = started
    quiet_tensorflow(verbose=args.verbose)
    one_line_warnings()
    try:
        configure_devices(args)
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(
            "tfs2s: interrupted; nothing is left half-written, and a training run resumes "
            "from its last backed-up epoch when the same command runs again",
            file=sys.stderr,
        )
        return INTERRUPTED
    except SystemExit:
        raise
    except Exception as e:
        if args.debug:
            raise
        return _report(e)


def _report(e: Exception) -> int:
    from tfs2s.errors import describe

    # A multi-worker peer failed: one clear line instead of a TensorFlow traceback.
    strategies = sys.modules.get("tfs2s.training.strategies")
    if strategies is not None and isinstance(e, strategies.WorkerFailure):
        print(f"tfs2s: error: {e}", file=sys.stderr)
        return 3
    tf_errors = getattr(sys.modules.get("tensorflow"), "errors", None)
    if tf_errors is not None and isinstance(e, tf_errors.DataLossError):
        # A record failed its checksum (TensorFlow does not name the file).
        print(
            f"tfs2s: error: the data is corrupt ({describe(e)}); if it is a prepared cache, "
            "prepare it again",
            file=sys.stderr,
        )
        return 2
    if isinstance(e, (ValueError, OSError)):
        text = str(e).strip()
        print(f"tfs2s: error: {text.splitlines()[0] if text else describe(e)}", file=sys.stderr)
        return 2
    print(
        f"tfs2s: error: {describe(e)} (an unexpected failure; rerun with --debug for the "
        "traceback)",
        file=sys.stderr,
    )
    return 1


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """Console entry (``tfs2s``, ``train.py``, ``export/export.py``): :func:`main`, then
    exit without Python's teardown of TensorFlow's objects (about 2 s after a training
    run here). Every file a command writes is written, closed and renamed into place
    before :func:`main` returns; the output streams and logging are flushed here. A
    multi-worker process (``TF_CONFIG`` set) exits normally, so that TensorFlow's
    coordination service shuts down with its peers."""
    code = main(argv)
    if os.environ.get("TF_CONFIG"):
        sys.exit(code)
    sys.stdout.flush()
    sys.stderr.flush()
    logging.shutdown()
    os._exit(code)


if __name__ == "__main__":
    run()
