"""Compute the FID statistics (Inception pool3 mean and covariance) of a folder of images, to use as an FID
reference later, e.g. for the FFHQ ground truth at the resolution the restorer outputs:

  python scripts/calculate_fid_stats.py datasets/ffhq/ffhq_512 experiments/pretrained_models/inception_FFHQ_512.pth

Features are the 2048-d pool3 activations of pytorch-fid's InceptionV3 (pt_inception-2015-12-05-6726825d.pth);
every image is resized to 299 x 299 (bilinear) as pytorch-fid does, so sizes may differ. The output format follows
its extension: .npz writes pytorch-fid's {'mu', 'sigma'}; anything else (.pth) the {'mean', 'cov'} torch file
that GFPGAN / BasicSR use (float64 tensors, loadable with torch.load(weights_only=True)). The file is written
atomically and never overwritten without --force.

The weights are looked up as --weights, then experiments/pretrained_models/, the caches, then downloaded from the
pytorch-fid release; offline, the error names the file to place.
"""
import argparse
import os
import sys
import time


def _device(name, parser):
    """'auto' -> cuda when available, else cpu; an unknown or unavailable device is a usage error."""
    import torch

    from gfpgan.utils.device import resolve_device
    try:
        device = resolve_device(name)
    except RuntimeError:
        parser.error(f"--device '{name}' is not a device (use auto, cpu, cuda or cuda:N).")
    if device.type == 'cuda' and not torch.cuda.is_available():
        parser.error(f"--device '{name}' was asked for but CUDA is not available here; use --device cpu.")
    return device


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input', help='folder of images (png, jpg, jpeg, webp, bmp, tif, tiff), read in sorted order')
    parser.add_argument(
        'output', help="statistics file to write: .pth ({'mean', 'cov'} torch file) or .npz (pytorch-fid format)")
    parser.add_argument(
        '--weights',
        metavar='FILE',
        help='FID Inception weights pt_inception-2015-12-05-6726825d.pth (default: looked up, then downloaded)')
    parser.add_argument('--batch-size', type=int, default=32, help='images per forward pass (default: 32)')
    parser.add_argument(
        '--device', default='auto', help='auto (cuda when available, else cpu), cpu, cuda or cuda:N (default: auto)')
    parser.add_argument('--workers', type=int, default=4, help='threads decoding images ahead (default: 4)')
    parser.add_argument('--recursive', action='store_true', help='include images in subfolders')
    parser.add_argument('--force', action='store_true', help='overwrite an existing output file')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    args = parser.parse_args(argv)

    if args.batch_size < 1:
        parser.error(f'--batch-size must be at least 1, got {args.batch_size}.')
    if args.workers < 1:
        parser.error(f'--workers must be at least 1, got {args.workers}.')
    if os.path.isdir(args.output):
        parser.error(f"the output '{args.output}' is a folder; give a file name such as stats.pth.")
    if os.path.exists(args.output) and not args.force:
        parser.error(f"'{args.output}' exists; pass --force to overwrite it.")
    from gfpgan.preflight import writable_folder_problem
    unwritable = writable_folder_problem(os.path.dirname(os.path.abspath(args.output)))
    if unwritable:  # found now, not after every image was read
        parser.error(f"cannot write '{args.output}': {unwritable}.")
    device = _device(args.device, parser)

    from gfpgan.data.storage import scan_images
    from gfpgan.metrics.fid import FIDInception, feature_statistics, image_features, save_fid_statistics
    from gfpgan.utils.checkpoint import CheckpointError
    from gfpgan.utils.img_util import ImageReadError
    from gfpgan.utils.weights import WeightsNotFoundError

    try:
        paths = scan_images(args.input, recursive=args.recursive)
    except (FileNotFoundError, NotADirectoryError) as err:
        parser.error(str(err))
    if len(paths) < 2:
        parser.error(
            f"'{args.input}' holds {len(paths)} image; FID statistics need at least 2 (thousands in practice).")
    try:
        model = FIDInception(weights=args.weights)
    except (WeightsNotFoundError, CheckpointError) as err:
        parser.error(str(err))

    start = time.time()
    try:
        features = image_features(
            paths, model, batch_size=args.batch_size, device=device, progress=not args.quiet, num_workers=args.workers)
    except ImageReadError as err:
        parser.error(str(err))
    mu, sigma = feature_statistics(features)
    save_fid_statistics(args.output, mu, sigma, num_images=len(paths))
    print(f"Wrote {args.output}: FID statistics (mean {mu.shape}, cov {sigma.shape}) of {len(paths)} images in "
          f"{args.input}, Inception weights {model.weights_path}, {device}, {time.time() - start:.1f} s.")
    if len(paths) < features.shape[1]:
        print(f'Note: {len(paths)} images < {features.shape[1]} feature dimensions: the covariance is singular and '
              'FID against these statistics is biased; use thousands of images for a reference.')
    return 0


if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
