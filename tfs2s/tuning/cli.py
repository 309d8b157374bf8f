"""``tfs2s tune`` and ``train.py --tune``: keras-tuner searches from the command line.

::

    python train.py --topology T_V --tune random --max-trials 20 --tune-dir runs/tune-t_v
    tfs2s tune --topology T_V --tuner hyperband --max-epochs 27 --objective f1_2
    tfs2s tune --topology T_V --space space.yaml --set train.mode=joint

Imports nothing heavy at import time: ``tfs2s.cli`` adds these flags to every parser.
"""

from __future__ import annotations

import argparse
import os

TUNER_CHOICES = ("random", "bayesian", "hyperband")
OBJECTIVE_CHOICES = ("mae", "f1_2")


def add_search_args(p: argparse.ArgumentParser, *, with_tune_flag: bool) -> None:
    """The search flags; ``with_tune_flag``: ``--tune KIND`` switches ``train.py`` to a
    search (absent: train once), else ``--tuner``/``--tune`` defaults to ``random``."""
    g = p.add_argument_group("hyper-parameter search (keras-tuner)")
    if with_tune_flag:
        g.add_argument(
            "--tune",
            choices=TUNER_CHOICES,
            help="search hyper-parameters with this keras-tuner tuner instead of training once",
        )
    else:
        g.add_argument(
            "--tuner",
            "--tune",
            dest="tune",
            choices=TUNER_CHOICES,
            default="random",
            help="keras-tuner tuner (default random)",
        )
    g.add_argument("--max-trials", type=int, default=10, help="trials in all (default 10)")
    g.add_argument(
        "--tune-dir",
        metavar="DIR",
        help="search directory; a rerun continues the search there "
        "(default runs/tune-<topology>-<tuner>)",
    )
    g.add_argument(
        "--space",
        metavar="YAML",
        help="search space overrides: config key -> {type: choice|int|float|boolean|fixed, "
        "values|min|max|step|sampling|value}, null drops a key (see tfs2s/tuning/space.py)",
    )
    g.add_argument(
        "--objective",
        choices=OBJECTIVE_CHOICES,
        default="mae",
        help="valid-split metric to optimise: mae (minimised, default) or f1_2 (maximised)",
    )
    g.add_argument(
        "--max-epochs",
        type=int,
        help="hyperband: largest epoch budget of a trial (default train.epochs)",
    )
    g.add_argument("--factor", type=int, default=3, help="hyperband: reduction factor (default 3)")
    g.add_argument(
        "--overwrite-search",
        action="store_true",
        help="delete the search in the search directory and start over (chief only)",
    )


def add_parser(sub) -> None:
    from tfs2s.cli import add_config_args, add_data_args

    p = sub.add_parser(
        "tune",
        help="search hyper-parameters with keras-tuner",
        description="Search a topology's hyper-parameters with keras-tuner; writes "
        "trials.csv and best_config.yaml (accepted by train.py --config) into the search "
        "directory. Distributed: set KERASTUNER_TUNER_ID (chief / tuner0, tuner1, ...), "
        "KERASTUNER_ORACLE_IP and KERASTUNER_ORACLE_PORT (see docs/distributed.md).",
    )
    p.add_argument("--topology", metavar="NAME", help="e.g. embed_AV_T, T_V, baseline_TAV")
    add_data_args(p)
    add_config_args(p)
    add_search_args(p, with_tune_flag=False)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_tune_from_train_args)


def run_tune_from_train_args(args: argparse.Namespace) -> int:
    """Run the search the parsed flags describe (``train.py --tune`` and ``tfs2s tune``)."""
    from tfs2s.cli import config_from_args
    from tfs2s.console import fit_verbosity
    from tfs2s.tuning.search import SearchSpec, run_search
    from tfs2s.tuning.space import load_space

    if not getattr(args, "topology", None) and not getattr(args, "config", None):
        raise SystemExit("error: --topology is required (see train.py --list-topologies)")
    base = config_from_args(args, topology=args.topology)
    spec = SearchSpec(
        tuner=args.tune,
        objective=args.objective,
        max_trials=args.max_trials,
        max_epochs=args.max_epochs,
        factor=args.factor,
    )
    space = load_space(args.space)
    if base.train.strategy == "multiworker":
        raise ValueError(
            "--strategy multiworker: keras-tuner runs each trial under a single-worker "
            "strategy; to use several machines, run a distributed search (one chief and one "
            "worker per machine, see docs/distributed.md) with --strategy auto or mirrored"
        )
    from tfs2s.training.strategies import make_strategy

    strategy = make_strategy(base.train.strategy)
    if strategy.num_replicas_in_sync == 1 and base.train.strategy != "mirrored":
        strategy = None  # the default strategy: no scope needed
    directory = args.tune_dir or os.path.join("runs", f"tune-{base.topology}-{spec.tuner}")
    best = run_search(
        base,
        spec,
        space,
        directory,
        strategy=strategy,
        overwrite=args.overwrite_search,
        verbose=fit_verbosity(args.quiet),
    )
    from tfs2s.tuning.search import distributed_role

    if best is None and distributed_role() in (None, "chief"):
        print("tfs2s: error: no trial of the search completed (see the trial errors above)")
        return 1
    return 0
