"""``tfs2s experiments paper``: the poster's tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from tfs2s.cli_args import add_config_args, add_data_args, add_recipe_arg, config_from_args


def add_parser(sub) -> None:
    p = sub.add_parser("experiments", help="reproduce the paper's tables")
    esub = p.add_subparsers(dest="experiment", required=True)
    pp = esub.add_parser("paper", help="every row of the poster's tables, several seeds")
    add_data_args(pp)
    add_config_args(pp)
    add_recipe_arg(pp, default="poster")
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
    pp.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="train rows in N worker processes, the CPUs split between them; same runs "
        "as with 1 (default 1; 2 is about twice as fast on 2 cores)",
    )
    pp.add_argument("--quiet", action="store_true", help="no progress bars")
    pp.set_defaults(func=_cmd_paper)
    _add_robustness_parser(esub)


def _cmd_paper(args: argparse.Namespace) -> int:
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
        jobs=args.jobs,
    )
    return 0


ROBUSTNESS_EXAMPLE = """example:
  tfs2s experiments robustness --paper-dir runs/paper --out runs/robustness
  tfs2s experiments robustness --runs runs/T_A-s0 runs/baseline_TA-s0 --split valid \\
      --corruptions missing,dropout --out runs/robustness-TA
"""


def _add_robustness_parser(esub) -> None:
    from tfs2s.experiments.corruption_levels import CORRUPTIONS
    from tfs2s.inference.cli import add_run_args

    pr = esub.add_parser(
        "robustness",
        help="corrupt one modality at test time (missing, noise, word dropout), score runs",
        description="For every run and every modality its topology trains on, corrupt that "
        "modality at test time at several levels and score the run; writes robustness.csv, "
        "robustness.md (clean, worst case, MultiBench relative and effective robustness) and "
        "robustness.png.",
        epilog=ROBUSTNESS_EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_args(pr, with_run=False)
    group = pr.add_mutually_exclusive_group(required=True)
    group.add_argument("--runs", nargs="+", metavar="DIR", help="finished run directories")
    group.add_argument(
        "--paper-dir", metavar="DIR", help="every finished run of tfs2s experiments paper --out DIR"
    )
    pr.add_argument(
        "--split",
        choices=("test", "valid", "train"),
        help="default: test if the data has one, else valid (as experiments paper)",
    )
    pr.add_argument(
        "--corruptions",
        default=",".join(CORRUPTIONS),
        metavar="NAMES",
        help=f"comma-separated subset of {','.join(CORRUPTIONS)} (default: all)",
    )
    pr.add_argument("--noise-seed", type=int, default=0, help="seed of the corruptions")
    pr.add_argument("--out", required=True, metavar="DIR", help="results directory")
    pr.set_defaults(func=_cmd_robustness)


def _cmd_robustness(args: argparse.Namespace) -> int:
    from tfs2s.experiments.corruptions import check_corruptions
    from tfs2s.experiments.robustness import paper_runs, run_robustness
    from tfs2s.inference.cli import data_overrides

    corruptions = check_corruptions(c.strip() for c in args.corruptions.split(",") if c.strip())
    runs = args.runs or paper_runs(args.paper_dir)
    run_robustness(
        runs,
        args.out,
        overrides=data_overrides(args),
        split=args.split,
        corruptions=corruptions,
        seed=args.noise_seed,
        batch_size=args.batch_size,
    )
    # the table as written, which names the split it was scored on
    print((Path(args.out) / "robustness.md").read_text(), end="")
    print(f"written: robustness.csv, robustness.md, robustness.png in {args.out}")
    return 0
