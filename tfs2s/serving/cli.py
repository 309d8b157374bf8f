"""``tfs2s export`` and ``tfs2s models-config``: TF-Serving export and deployment config.

``export/export.py`` and ``export/make_models_config.py`` are thin wrappers over these.
"""

from __future__ import annotations

import argparse
import json
import sys

from tfs2s.console import add_verbose_arg
from tfs2s.serving import DEFAULT_JIT_COMPILE


def add_export_args(p: argparse.ArgumentParser) -> None:
    add_verbose_arg(p)
    p.add_argument("--run", required=True, metavar="DIR", help="run directory of `tfs2s train`")
    p.add_argument("--name", default="tfs2s", help="model name: clients ask for it (default tfs2s)")
    p.add_argument(
        "--out",
        default="serving",
        metavar="DIR",
        help="serving root; the version goes to OUT/NAME/<next version> (default serving/)",
    )
    p.add_argument(
        "--jit-compile",
        action=argparse.BooleanOptionalAction,
        default=DEFAULT_JIT_COMPILE,
        help="XLA-compile the models inside the signatures (default on: ~3x lower CPU "
        "latency; the model server then needs --xla_cpu_compilation_enabled=true)",
    )
    p.add_argument(
        "--no-verify",
        dest="verify",
        action="store_false",
        help="skip reloading the SavedModel and checking it against the Keras model",
    )


def add_models_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--root", default="serving", metavar="DIR", help="serving root (default serving/)"
    )
    p.add_argument(
        "--model",
        action="append",
        default=[],
        metavar="NAME[:POLICY]",
        help="serve NAME: latest version(s) (NAME or NAME:latest), every version (NAME:all) or "
        "specific ones (NAME:1,2); repeatable; default every model under --root, latest",
    )
    p.add_argument(
        "--latest", type=int, default=1, metavar="N", help="versions a latest policy serves"
    )
    p.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME:LABEL=V",
        help="version label, e.g. tfs2s:stable=1 (needs specific versions); repeatable",
    )
    p.add_argument(
        "--container-root",
        default="/models",
        metavar="PATH",
        help="where --root is mounted in the server (default /models)",
    )
    p.add_argument(
        "--out", metavar="FILE", help="config file to write (default ROOT/models.config; - prints)"
    )


def cmd_export(args: argparse.Namespace) -> int:
    from tfs2s.serving.export import ExportError, export_run

    try:
        result = export_run(
            args.run,
            out=args.out,
            name=args.name,
            jit_compile=args.jit_compile,
            verify=args.verify,
        )
    except ExportError as e:
        print(f"tfs2s: export failed, nothing was published: {e}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "path": str(result.path),
                "name": args.name,
                "version": result.version,
                "topology": result.spec.topology,
                "signatures": list(result.spec.signature_names),
                "inputs": result.spec.inputs,
                "seconds": result.seconds,
            },
            indent=2,
        )
    )
    return 0


def cmd_models_config(args: argparse.Namespace) -> int:
    import os

    from tfs2s.serving.models_config import (
        MODELS_CONFIG_FILE,
        entries_from_root,
        models_config_text,
        parse_label_arg,
        parse_model_arg,
    )

    entries = entries_from_root(
        args.root,
        [parse_model_arg(m) for m in args.model],
        container_root=args.container_root,
        num_latest=args.latest,
        labels=[parse_label_arg(label) for label in args.label],
    )
    text = models_config_text(entries)
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    out = args.out or os.path.join(args.root, MODELS_CONFIG_FILE)
    tmp = f"{out}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, out)
    print(f"wrote {out} ({len(entries)} model(s))")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "export", help="export a run as a versioned TF-Serving SavedModel with warmup requests"
    )
    add_export_args(p)
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("models-config", help="write a TF-Serving models.config for exported models")
    add_models_config_args(p)
    p.set_defaults(func=cmd_models_config)
