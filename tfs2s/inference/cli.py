"""``tfs2s evaluate``, ``tfs2s predict`` and ``tfs2s explain``: use a finished run."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from tfs2s.config import parse_data_map, parse_set

EVALUATE_EXAMPLE = """example:
  tfs2s evaluate --run runs/T_A-s0                       # the run's own data: metrics.json
  tfs2s evaluate --run runs/T_A-s0 --data mosi-lite --split valid --json
"""
PREDICT_EXAMPLE = """example:
  tfs2s predict --run runs/T_A-s0 --data my-cache --out preds.csv
  tfs2s predict --run serving/tfs2s/3 --set data.synthetic_segments=150 --format jsonl \\
      --out preds.jsonl
"""
EXPLAIN_EXAMPLE = """example:
  tfs2s explain --run runs/T_A-s0 --top 5 --out explain/
  tfs2s explain --run runs/T_A-s0 --data mosi-lite --segments 2iD-tVS8NPw_3,c5xsKMxpXnc_1 \\
      --out explain/
"""


def add_run_args(p: argparse.ArgumentParser, with_run: bool = True) -> None:
    """``--run`` and the data options of ``tfs2s train`` (default: the run's own data)."""
    from tfs2s.cli_args import add_data_args

    if with_run:
        p.add_argument(
            "--run",
            required=True,
            metavar="DIR",
            help="a finished run directory (tfs2s train) or an exported SavedModel version "
            "(serving/<name>/<version>)",
        )
    add_data_args(p)
    p.add_argument(
        "--set",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="override one data setting of the run, e.g. --set data.synthetic_segments=150",
    )
    p.add_argument(
        "--batch-size", type=int, metavar="N", help="segments per batch (default: the run's)"
    )


def data_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The data options given on the command line, as dotted ``data.*`` overrides."""
    overrides = parse_set(args.set or [])
    if args.data:
        overrides["data.path"] = args.data
    if args.data_map:
        overrides["data.data_map"] = parse_data_map(args.data_map)
    if args.folds:
        overrides["data.folds"] = args.folds
    if args.trust_pickle:
        overrides["data.trust_pickle"] = True
    return overrides


def _batch_size(args) -> int | None:
    if args.batch_size is not None and args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1, found {args.batch_size}")
    return args.batch_size


def _open(args, extra=()):
    from tfs2s.inference.runs import load_run_source, open_run

    run = open_run(args.run)
    return run, load_run_source(run, data_overrides(args), extra)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tfs2s.inference.atomic import atomic_path, check_output_file
    from tfs2s.inference.evaluate import evaluate_run, format_metrics
    from tfs2s.inference.scoring import resolve_splits

    if args.out:
        check_output_file(args.out)
    run, source = _open(args)
    if args.split is not None:
        resolve_splits(source, args.split)  # a bad split fails before any scoring
    if args.batch_size is not None:
        run.eval_batch_size = _batch_size(args)
    metrics = evaluate_run(run, source, args.split)
    text = json.dumps(metrics, indent=2, allow_nan=True)
    if args.out:
        with atomic_path(args.out) as tmp, open(tmp, "w") as f:
            f.write(text)
    if args.json:
        print(text)
    else:
        print(f"{run.topology.name}  {run.topology.notation}  ({run.path} on {source.source})")
        print(format_metrics(metrics))
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from tfs2s.inference.atomic import check_output_file
    from tfs2s.inference.predict import write_predictions

    check_output_file(args.out)
    run, source = _open(args)
    count = write_predictions(
        run, source, args.out, fmt=args.format, split=args.split, batch_size=_batch_size(args)
    )
    print(f"{count} predictions written to {args.out}")
    return 0


def _cmd_explain(args: argparse.Namespace) -> int:
    from tfs2s.inference.explain import explain, parse_segments

    segments = parse_segments(args.segments) if args.segments else None
    if (segments is None) == (args.top is None):
        raise ValueError("give exactly one of --segments ID,... and --top N")
    if args.top is not None and args.top < 1:
        raise ValueError(f"--top must be >= 1, found {args.top}")
    run, source = _open(args)
    written = explain(
        run,
        source,
        args.out,
        segments=segments,
        top=args.top,
        split=args.split,
        batch_size=_batch_size(args),
        words_from=data_overrides(args).get("data.path", run.data.path),
    )
    print("written: " + ", ".join(os.fspath(p) for p in written))
    return 0


def add_parser(sub) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    pe = sub.add_parser(
        "evaluate",
        help="score a finished run on any data",
        description="Score a finished run (its model.keras, normalisation and max_seq_len) "
        "on any data source train accepts; by default the run's own data, whose valid and "
        "test scores are the run's metrics.json.",
        epilog=EVALUATE_EXAMPLE,
        formatter_class=fmt,
    )
    add_run_args(pe)
    pe.add_argument(
        "--split",
        choices=("test", "valid", "train", "all"),
        help="split(s) to score (default: valid and test, as training reports)",
    )
    pe.add_argument("--json", action="store_true", help="print JSON instead of the table")
    pe.add_argument("--out", metavar="FILE", help="also write the metrics JSON to FILE")
    pe.set_defaults(func=_cmd_evaluate)

    from tfs2s.inference.predict import FORMATS

    pp = sub.add_parser(
        "predict",
        help="write one prediction per segment (CSV or JSON lines)",
        description="Score every segment of the data and write segment_id, video_id, split, "
        "sentiment, polarity, sentiment_class and label, streaming batch by batch.",
        epilog=PREDICT_EXAMPLE,
        formatter_class=fmt,
    )
    add_run_args(pp)
    pp.add_argument("--out", required=True, metavar="FILE", help="output file (atomic)")
    pp.add_argument("--format", choices=FORMATS, default="csv", help="default: csv")
    pp.add_argument(
        "--split",
        choices=("test", "valid", "train", "all"),
        default="all",
        help="split(s) to predict (default: all)",
    )
    pp.set_defaults(func=_cmd_predict)

    px = sub.add_parser(
        "explain",
        help="attention weights of the regressor on each word of chosen segments",
        description="For each chosen segment, the regressor's soft-attention weight on every "
        "word (the words themselves when the data has a TimestampedWords .csd), the "
        "prediction and the label; writes explain.json and explain.png into --out.",
        epilog=EXPLAIN_EXAMPLE,
        formatter_class=fmt,
    )
    add_run_args(px)
    px.add_argument("--segments", metavar="ID,...", help="segment ids to explain")
    px.add_argument(
        "--top",
        type=int,
        metavar="N",
        help="the N most confidently wrong and the N most confidently right segments of --split",
    )
    px.add_argument(
        "--split",
        choices=("test", "valid", "train"),
        default="test",
        help="split --top picks from (default: test); --segments searches every split",
    )
    px.add_argument("--out", required=True, metavar="DIR", help="output directory")
    px.set_defaults(func=_cmd_explain)
