"""Turn a folder of photos into an FFHQ-aligned GFPGAN training folder: images, meta_info.txt, eye/mouth box file and
a manifest of every face's fate; resumable (``--help``; the code is gfpgan.data.dataset_preparation)."""
import sys

from gfpgan.data.dataset_preparation_cli import main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
