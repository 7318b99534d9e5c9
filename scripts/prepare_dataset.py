"""Turn a folder of photos into an FFHQ-aligned GFPGAN training folder: images, meta_info.txt, eye/mouth box file, a
manifest of every face's fate, optionally an LMDB, and a contact sheet; quality filters, worker processes, resumable
after a kill (``--help``; docs/dataset_preparation.md; the code is gfpgan.data.dataset_preparation)."""
import sys

from gfpgan.data.dataset_preparation_cli import main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
