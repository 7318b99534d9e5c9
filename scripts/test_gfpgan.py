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
import argparse
import os
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, ROOT)


def build_generator(args):
    """The generator of --opt's network_g, or the released --arch, with --model's weights."""
    from gfpgan.archs import build_network
    from gfpgan.archs.presets import release_network_options
    from gfpgan.utils.checkpoint import load_network
    if args.opt:
        import yaml
        with open(args.opt) as f:
            options = (yaml.safe_load(f) or {}).get('network_g')
        if not isinstance(options, dict) or 'type' not in options:
            raise ValueError(f"The options file '{args.opt}' has no network_g section with a type.")
    else:
        options = release_network_options(args.arch, args.channel_multiplier)
    net = build_network(options)
    load_network(net, args.model, param_key=args.param_key)
    return net.eval(), options['out_size']


def restore_folder(net, size, input_dir, out_dir, device, seed=0, progress=True):
    """Restore every image of ``input_dir`` (aligned faces) into ``out_dir``/<name>.png; returns the written paths."""
    import torch
    from tqdm import tqdm

    from gfpgan.data.storage import scan_images
    from gfpgan.errors import os_error_at
    from gfpgan.utils.img_util import img2tensor, imwrite, read_image, resize_square, tensor2img
    net = net.to(device)
    torch.manual_seed(seed)
    written = []
    for path in tqdm(scan_images(input_dir, option='--input'), desc='restoring', unit='face', disable=not progress):
        img = resize_square(read_image(path), size)
        x = (img2tensor(img, bgr2rgb=False) * 2 - 1).unsqueeze(0).to(device)
        with torch.no_grad():
            out = net(x, return_rgb=False)[0]
        name = os.path.splitext(os.path.relpath(path, input_dir))[0] + '.png'
        target = os.path.join(out_dir, name)
        try:
            imwrite(tensor2img(out, rgb2bgr=True, min_max=(-1, 1)), target)
        except OSError as err:  # a full disk, a lost permission: stop, naming the file
            raise os_error_at(err, target) from err
        written.append(target)
    return written


def check_run(args, restored):
    """The preflight: the checkpoint, the options file, the input and reference folders and their pairing, the
    output folder, and every metric's weights and package, all checked before the network is built or a face
    restored (a whole test set is not restored to find a metric's weights missing). Raises one PreflightError."""
    from gfpgan.metrics.cli import check_evaluation
    from gfpgan.preflight import Preflight
    pf = Preflight()
    pf.file(args.model, '--model')
    pf.file(args.opt, '--opt')
    for folder, flag in ((args.input, '--input'), (args.gt, '--gt')):
        pf.check(not folder or os.path.abspath(folder) not in (os.path.abspath(args.output), os.path.abspath(restored)),
                 f"--output '{args.output}' would write into the {flag} folder '{folder}'.")
    check_evaluation(args, restored, args.output, args.gt, args.input, preflight=pf, restored_later=True,
                     out_flag='--output')
    pf.fetch_missing(progress=not args.no_progress)
    pf.raise_if_any()


def main(argv=None):
    from gfpgan.archs.presets import RELEASE_ARCHS
    from gfpgan.errors import add_debug_argument
    from gfpgan.metrics.cli import add_metric_arguments, run_evaluation
    from gfpgan.utils.device import resolve_device
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True, metavar='FILE', help='generator checkpoint (.pth / .safetensors)')
    parser.add_argument('--input', required=True, metavar='DIR', help='degraded aligned faces (e.g. <test set>/lq)')
    parser.add_argument('--gt', metavar='DIR', help='ground-truth faces, paired by file name (e.g. <test set>/gt)')
    parser.add_argument('--output', required=True, metavar='DIR', help='results folder (restored/ and the metrics)')
    parser.add_argument(
        '--arch',
        choices=tuple(RELEASE_ARCHS),
        default='clean',
        help='released architecture '
        '(default clean: v1.2-v1.4)')
    parser.add_argument('--channel-multiplier', type=int, help='override the architecture\'s channel multiplier')
    parser.add_argument('--opt', metavar='YML', help='take the network from this training options file instead')
    parser.add_argument('--param-key', default='params_ema', help='weights inside the checkpoint (default params_ema)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the decoder noise (default 0)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    add_metric_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    restored = os.path.join(args.output, 'restored')
    check_run(args, restored)
    net, size = build_generator(args)
    device = resolve_device(args.device)
    restore_folder(net, size, args.input, restored, device, args.seed, not args.no_progress)
    run_evaluation(args, restored, args.output, args.gt, args.input, progress=not args.no_progress)
    return 0


if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
