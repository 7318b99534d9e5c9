"""Build a synthetic test set ("CelebA-Test" protocol): degrade aligned faces with GFPGAN's training degradation
and record every drawn parameter, so that the set can be rebuilt exactly (``--help``; the code is
gfpgan.data.test_set, also installed as ``gfpgan-make-test-set``)."""
import sys

from gfpgan.data.test_set_cli import main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
