"""Run a GFPGAN checkpoint over a test set of aligned faces and evaluate the results in one go ("reproduce Table 1":
scripts/make_test_set.py, then this; see --help). Logic: gfpgan.metrics.checkpoint_test and gfpgan.metrics.cli."""
import sys

from gfpgan.errors import run_cli
from gfpgan.metrics.checkpoint_test import build_generator, restore_folder  # noqa: F401  (the former names here)
from gfpgan.metrics.cli import checkpoint_test_main as main

if __name__ == '__main__':
    sys.exit(run_cli(main))
