"""Evaluate a folder of restored faces: the paper's metrics per image and over the set, a Markdown table and a
picture report (`python scripts/evaluate.py --help`, or the `gfpgan-evaluate` command). Logic: gfpgan.metrics.cli."""
import sys

from gfpgan.errors import run_cli
from gfpgan.metrics.cli import evaluate_main as main

if __name__ == '__main__':
    sys.exit(run_cli(main))
