"""``tfs2s experiments paper``: the poster's tables."""

from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    from tfs2s.cli import add_config_args, add_data_args

    p = sub.add_parser("experiments", help="reproduce the paper's tables")
    esub = p.add_subparsers(dest="experiment", required=True)
    pp = esub.add_parser("paper", help="every row of the poster's tables, several seeds")
    add_data_args(pp)
    add_config_args(pp)
    pp.add_argument("--seeds", type=int, default=5, help="seeds per row (default 5)")
    pp.add_argument(
        "--tables",
        default="unimodal,bimodal,trimodal",
        help="comma-separated subset of unimodal,bimodal,trimodal",
    )
    pp.add_argument(
        "--out", default="runs/paper", metavar="DIR", help="results directory (default runs/paper)"
    )
    pp.add_argument("--shard", metavar="i/n", help="run rows i, i+n, ... (1-based)")
    pp.add_argument(
        "--split",
        choices=("valid", "test"),
        help="split the tables report (default: test if the data has one, else valid)",
    )
    pp.add_argument("--quiet", action="store_true", help="no progress bars")
    pp.set_defaults(func=_cmd_paper)


def _cmd_paper(args: argparse.Namespace) -> int:
    from tfs2s.cli import config_from_args
    from tfs2s.experiments.paper import parse_shard, run_paper

    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, found {args.seeds}")
    cfg = config_from_args(args)
    tables = [t.strip() for t in args.tables.split(",") if t.strip()]
    run_paper(
        cfg,
        args.out,
        seeds=args.seeds,
        tables=tables,
        shard=parse_shard(args.shard),
        verbose=0 if args.quiet else 2,
        split=args.split,
    )
    return 0
