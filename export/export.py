#!/usr/bin/env python
"""Export a trained run for TF-Serving: ``python export/export.py --run RUN_DIR`` (see ``--help``).

A thin wrapper over ``tfs2s export``; writes ``serving/<name>/<version>/``.
"""

import os
import sys

# Runnable from a clone without installing the package, like benchmarks/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfs2s.cli import run  # noqa: E402

if __name__ == "__main__":
    run(["export", *sys.argv[1:]])
