#!/usr/bin/env python
"""Write a TF-Serving ``models.config``: ``python export/make_models_config.py --root serving``.

A thin wrapper over ``tfs2s models-config`` (see ``--help``).
"""

import os
import sys

# Runnable from a clone without installing the package, like benchmarks/.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tfs2s.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["models-config", *sys.argv[1:]]))
