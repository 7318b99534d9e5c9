"""Fetch the pretrained files a use needs into experiments/pretrained_models/ (or --dest), so that inference,
training and evaluation then run offline (``--help``; the code is gfpgan.utils.pretrained_cli over the catalogue
gfpgan.utils.pretrained)."""
import sys

from gfpgan.utils.pretrained_cli import main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
