"""The argparse flags shared by the ``tfs2s`` subcommands, and the config they resolve to.

Every subcommand module (``tfs2s.cli``, ``tfs2s.tuning.cli``, ``tfs2s.experiments.cli``,
...) imports its flags from here; nothing here imports a subcommand, so the command
modules form no import cycle. Name lists (strategies, tuners, objectives) come from
the ``Literal`` types of :mod:`tfs2s.config`.
"""

from __future__ import annotations

import argparse
import sys

from tfs2s.config import (
    Objective,
    Recipe,
    RunConfig,
    Strategy,
    Tuner,
    apply_overrides,
    choices,
    load_recipe,
    load_yaml,
    parse_data_map,
    parse_set,
    unread_keys,
)
from tfs2s.console import add_verbose_arg
from tfs2s.errors import InputError

STRATEGIES: tuple[str, ...] = choices(Strategy)


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


def add_recipe_arg(p: argparse.ArgumentParser, default: str) -> None:
    """``--recipe NAME``: the named recipe the config starts from (under ``--config``)."""
    p.add_argument(
        "--recipe",
        choices=choices(Recipe),
        default=default,
        help="named recipe the config starts from, before --config and --set: poster "
        "(the paper's Algorithms 1 and 2: two-phase, frozen encoder) or recommended "
        f"(joint training, regularised; see tfs2s/recipes/) (default {default})",
    )


def note_unread(cfg: RunConfig) -> None:
    """Print one note naming the values ``cfg`` sets that its run does not read."""
    unread = unread_keys(cfg)
    if unread:
        print(
            f"tfs2s: note: topology {cfg.topology} in {cfg.train.mode} mode does not read "
            f"{', '.join(unread)}: their values are ignored",
            file=sys.stderr,
        )
    if cfg.train.jit_compile:
        print(
            "tfs2s: note: train.jit_compile=true is ignored: Keras turns XLA off under "
            "TensorFlow's op determinism, which every tfs2s run turns on",
            file=sys.stderr,
        )


def config_from_args(args: argparse.Namespace, topology: str | None = None) -> RunConfig:
    """Recipe (``--recipe``; the library defaults without one) -> ``--config`` YAML ->
    ``--set`` -> explicit flags.

    Trust to unpickle comes from ``--trust-pickle`` alone: ``data.trust_pickle`` in a
    ``--config`` file (see :func:`tfs2s.config.from_dict`) or a ``--set`` is ignored
    with a note (a file must not grant itself the right to run code).
    """
    recipe = getattr(args, "recipe", None)
    cfg = load_recipe(recipe) if recipe else RunConfig()
    if getattr(args, "config", None):
        cfg = load_yaml(args.config, cfg)
    overrides = parse_set(getattr(args, "set", []) or [])
    # A recipe named in the --config file or by --set recipe=NAME is the layer the run
    # starts from, not only its label: params.yaml must not record a recipe whose values
    # the run did not use.
    named = overrides.pop("recipe", None) or cfg.recipe
    if named != (recipe or RunConfig().recipe):
        cfg = load_recipe(named)
        if getattr(args, "config", None):
            cfg = load_yaml(args.config, cfg)
        cfg = apply_overrides(cfg, {"recipe": named})
    if "data.trust_pickle" in overrides:
        del overrides["data.trust_pickle"]
        print(
            "tfs2s: note: --set data.trust_pickle is ignored; only --trust-pickle grants trust",
            file=sys.stderr,
        )
    if topology:
        overrides["topology"] = topology
    if getattr(args, "data", None):
        overrides["data.path"] = args.data
    if getattr(args, "data_map", None):
        overrides["data.data_map"] = parse_data_map(args.data_map)
    if getattr(args, "folds", None):
        overrides["data.folds"] = args.folds
    overrides["data.trust_pickle"] = bool(getattr(args, "trust_pickle", False))
    if getattr(args, "seed", None) is not None:
        overrides["train.seed"] = args.seed
    if getattr(args, "epochs", None) is not None:
        if args.epochs < 1:
            raise InputError(f"--epochs: expected at least 1, found {args.epochs}")
        overrides["train.epochs"] = args.epochs
        overrides["train.translator_epochs"] = args.epochs
    if getattr(args, "batch_size", None) is not None:
        overrides["train.batch_size"] = args.batch_size
    if getattr(args, "strategy", None):
        overrides["train.strategy"] = args.strategy
    return apply_overrides(cfg, overrides)


def add_search_args(p: argparse.ArgumentParser, *, with_tune_flag: bool) -> None:
    """The search flags; ``with_tune_flag``: ``--tune KIND`` switches ``train.py`` to a
    search (absent: train once), else ``--tuner``/``--tune`` defaults to ``random``."""
    g = p.add_argument_group("hyper-parameter search (keras-tuner)")
    if with_tune_flag:
        g.add_argument(
            "--tune",
            choices=choices(Tuner),
            help="search hyper-parameters with this keras-tuner tuner instead of training once",
        )
    else:
        g.add_argument(
            "--tuner",
            "--tune",
            dest="tune",
            choices=choices(Tuner),
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
        choices=choices(Objective),
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
