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
import argparse
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, ROOT)


def main(argv=None):
    from gfpgan.errors import add_debug_argument
    from gfpgan.metrics.cli import add_metric_arguments, run_evaluation
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--restored', required=True, metavar='DIR', help='folder of restored faces')
    parser.add_argument('--gt', metavar='DIR', help='folder of ground-truth faces (full-reference metrics)')
    parser.add_argument('--lq', metavar='DIR', help='folder of degraded inputs (first column of the picture report)')
    parser.add_argument('--suffix', default='', help="removed from restored file names before pairing (e.g. '_00')")
    parser.add_argument(
        '--out',
        metavar='DIR',
        help='where the tables and pictures go (default results/evaluate_<name '
        'of the restored folder>)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    add_metric_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    out = args.out or os.path.join('results', f'evaluate_{os.path.basename(os.path.normpath(args.restored))}')
    run_evaluation(args, args.restored, out, args.gt, args.lq, args.suffix, progress=not args.no_progress)
    return 0


if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
