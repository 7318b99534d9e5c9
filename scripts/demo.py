"""GFPGAN in one command, on a CPU, with no dataset and no pretrained weights: builds a face set, trains the tiny
config, restores held-out faces, a whole photo and a made-up clip (side by side video; --no-video skips it; see
--help). Logic: gfpgan.demo.walkthrough."""
import sys

from gfpgan.demo.walkthrough import TINY, main, restore_photo  # noqa: F401  (names the tests and users reach here)
from gfpgan.errors import run_cli

if __name__ == '__main__':
    sys.exit(run_cli(main))
