"""Restore the faces in photos with GFPGAN (the original's command line; see --help). Logic: gfpgan/restoration/."""
import sys

from gfpgan.restoration.cli import main

if __name__ == '__main__':
    sys.exit(main())
