"""Benchmark GFPGAN: the restorer network, the training data pipeline, training steps and photo restoration; prints
Markdown tables and writes the figures as JSON (``--help`` describes every suite; the code is gfpgan.benchmark)."""
import sys

from gfpgan.benchmark.cli import main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
