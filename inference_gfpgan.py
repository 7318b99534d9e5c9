"""Restore the faces in photos with GFPGAN (the original's command line; see --help). Logic: gfpgan/restoration/."""
import sys

from gfpgan.errors import run_cli
from gfpgan.restoration.cli import run

if __name__ == '__main__':
    sys.exit(run_cli(run))
