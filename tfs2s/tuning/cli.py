"""``tfs2s tune`` and ``train.py --tune``: keras-tuner searches from the command line.

::

    python train.py --topology T_V --tune random --max-trials 20 --tune-dir runs/tune-t_v
    tfs2s tune --topology T_V --tuner hyperband --max-epochs 27 --objective f1_2
    tfs2s tune --topology T_V --space space.yaml --set train.mode=joint

Imports nothing heavy at import time; the flags live in :mod:`tfs2s.cli_args`.
"""

from __future__ import annotations

import argparse
import os

from tfs2s.cli_args import (  # noqa: F401  (add_search_args: public here too)
    add_config_args,
    add_data_args,
    add_recipe_arg,
    add_search_args,
    config_from_args,
    note_unread,
)


def add_parser(sub) -> None:

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
    add_recipe_arg(p, default="recommended")
    add_search_args(p, with_tune_flag=False)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_tune_from_train_args)


def command_line_keys(args: argparse.Namespace, cfg) -> dict:
    """Config key -> value of every key set by ``--set`` or a flag (``--batch-size``, ...):
    the user fixed these, so a search must not override them."""
    from tfs2s.config import flatten, parse_set

    keys = set(parse_set(getattr(args, "set", []) or []))
    flags = {
        "batch_size": ("train.batch_size",),
        "epochs": ("train.epochs", "train.translator_epochs"),
        "seed": ("train.seed",),
        "strategy": ("train.strategy",),
    }
    for flag, names in flags.items():
        if getattr(args, flag, None) is not None:
            keys.update(names)
    values = flatten(cfg.to_dict())
    return {k: values[k] for k in sorted(keys) if k in values}


def run_tune_from_train_args(args: argparse.Namespace) -> int:
    """Run the search the parsed flags describe (``train.py --tune`` and ``tfs2s tune``)."""
    from tfs2s.console import fit_verbosity
    from tfs2s.tuning.search import SearchSpec, run_search
    from tfs2s.tuning.space import load_space

    if not getattr(args, "topology", None) and not getattr(args, "config", None):
        raise SystemExit("error: --topology is required (see train.py --list-topologies)")
    base = config_from_args(args, topology=args.topology)
    note_unread(base)
    spec = SearchSpec(
        tuner=args.tune,
        objective=args.objective,
        max_trials=args.max_trials,
        max_epochs=args.max_epochs,
        factor=args.factor,
    )
    from tfs2s.tuning.space import without_fixed

    space = without_fixed(load_space(args.space), command_line_keys(args, base))
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
