"""Restore the faces in photos and videos with GFPGAN (the original's command line, plus videos; see --help). Logic:
gfpgan/restoration/ and gfpgan/video/."""
import sys

from gfpgan.errors import run_cli
from gfpgan.restoration.cli import run

if __name__ == '__main__':
    sys.exit(run_cli(run))
