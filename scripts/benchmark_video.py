"""Benchmark temporally stable video restoration against issue 17's targets: flicker and identity angle of
per-frame vs stabilised restoration of a made-up talking-head clip, and frames/s (``--help``; the code is
gfpgan.benchmark.video)."""
import sys

from gfpgan.benchmark.video import main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
