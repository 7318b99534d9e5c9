"""Run a GFPGAN checkpoint over a test set of aligned faces and evaluate the results in one go: "reproduce Table 1"
is build the test set (scripts/make_test_set.py), run this, read the table.

  python scripts/test_gfpgan.py --model experiments/pretrained_models/GFPGANv1.4.pth \
      --input datasets/celeba_test/lq --gt datasets/celeba_test/gt \
      --fid-ref experiments/pretrained_models/inception_FFHQ_512.pth --output results/celeba_test_v1.4

The network is a released architecture (--arch clean for v1.2-v1.4, bilinear, original for GFPGANv1.pth) or the
network_g of a training options file (--opt, e.g. a model you trained). Each input face is resized to the network's
size if needed, restored as the official inference does (return_rgb=False; the decoder's noise is random as there,
but drawn from --seed so runs repeat) and written to <output>/restored/<name>.png; then the metrics of
scripts/evaluate.py go to <output>/ (per_image.csv, summary.json, report.png, report.html).

Before the network is built, the checkpoint, the folders, the output folder and every chosen metric's weights are
checked and every problem is reported at once (exit code 2, with the one download command for missing release
files); --debug or GFPGAN_DEBUG=1 shows the traceback of an error.
"""
import sys

from gfpgan.metrics.checkpoint_test import build_generator, restore_folder  # noqa: F401  (the former names here)
from gfpgan.metrics.cli import checkpoint_test_main as main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
