#!/usr/bin/env python
"""Train one topology: ``python train.py --topology embed_AV_T`` (see ``--help``).

A thin wrapper over ``tfs2s train``.
"""

import sys

from tfs2s.cli import run

if __name__ == "__main__":
    run(["train", *sys.argv[1:]])
