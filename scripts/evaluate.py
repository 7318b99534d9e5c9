"""Evaluate a folder of restored faces: the paper's metrics per image and over the set, a Markdown table, and a
picture report.

  python scripts/evaluate.py --restored results/celeba_test/restored --gt datasets/celeba_test/gt \
      --lq datasets/celeba_test/lq --fid-ref experiments/pretrained_models/inception_FFHQ_512.pth

Restored images are paired with references (and inputs) by file name without extension (--suffix strips e.g. '_00'
from restored names); names found in one folder only are listed, not silently dropped. Writes to --out:
per_image.csv, summary.json (means, std, options, unmatched names), report.png (input | restored | reference for the
best, median and worst images by --sort-by) and report.html. Metrics:

  psnr, ssim  8-bit RGB (or --test-y-channel: BT.601 Y), --crop-border; identical images (PSNR inf) are left out
              of the mean and counted
  lpips       the lpips package, VGG (or --lpips-net alex), inputs in [-1, 1]
  deg         identity angle in degrees between ArcFace (arcface_resnet18.pth) embeddings of restored and reference
              (gray, 128x128, as the training identity loss sees faces)
  niqe        no-reference, Y channel, pristine model niqe_pris_params.npz
  lmd         landmark distance in pixels (facexlib's AWing FAN, 98 points)
  fid         pytorch-fid InceptionV3 pool features of the restored set against --fid-ref (a {'mean','cov'} torch
              file such as inception_FFHQ_512.pth, a pytorch-fid .npz, or a folder; make one with
              scripts/calculate_fid_stats.py)

Weights are looked up as the given path, then experiments/pretrained_models/, then the caches, then downloaded
from their release URL. Before any image is read, the folders, their pairing, the output folder and every chosen
metric's weights and package are checked, and every problem is reported at once (exit code 2, with the one
download command for missing release files); --debug or GFPGAN_DEBUG=1 shows the traceback of an error.
"""
import sys

from gfpgan.metrics.cli import evaluate_main as main

if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
