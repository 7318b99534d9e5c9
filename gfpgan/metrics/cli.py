"""The command lines of the evaluation: ``evaluate_main`` (scripts/evaluate.py, ``gfpgan-evaluate``) and
``checkpoint_test_main`` (scripts/test_gfpgan.py): their options, the preflight whose messages name them, and the run
that prints its table. The computing is ``gfpgan.metrics.evaluation`` and ``gfpgan.metrics.checkpoint_test``.
"""
import argparse
import os
import sys

from gfpgan.archs.presets import RELEASE_ARCHS
from gfpgan.errors import add_debug_argument, os_error_at, run_cli
from gfpgan.preflight import Preflight, did_you_mean
from gfpgan.utils.device import resolve_device

from .base import metric_classes
from .checkpoint_test import build_generator, restore_folder
from .evaluation import (build_metrics, default_metrics, evaluate_pairs, markdown_table, pair_folders, required_files,
                         set_metric_values, summarize, write_reports)
from .metric_util import package_problem

__all__ = [
    'add_metric_arguments', 'metric_options', 'check_evaluation', 'run_evaluation', 'WEIGHT_FLAGS', 'evaluate_main',
    'check_checkpoint_test', 'checkpoint_test_main', 'evaluate_command'
]

EVALUATE_DOC = """\
Evaluate a folder of restored faces: the paper's metrics per image and over the set, a Markdown table, and a
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

A restored video: `python scripts/evaluate.py video --input clip.mp4 --restored restored.mp4` measures its
temporal stability (face-region flicker against the input's, identity angle between consecutive faces); see
`python scripts/evaluate.py video --help`.

Weights are looked up as the given path, then experiments/pretrained_models/, then the caches, then downloaded
from their release URL. Before any image is read, the folders, their pairing, the output folder and every chosen
metric's weights and package are checked, and every problem is reported at once (exit code 2, with the one
download command for missing release files); --debug or GFPGAN_DEBUG=1 shows the traceback of an error.
"""

TEST_CHECKPOINT_DOC = """\
Run a GFPGAN checkpoint over a test set of aligned faces and evaluate the results in one go: "reproduce Table 1"
is build the test set (scripts/make_test_set.py), run this, read the table.

  python scripts/test_gfpgan.py --model experiments/pretrained_models/GFPGANv1.4.pth \
      --input datasets/celeba_test/lq --gt datasets/celeba_test/gt \
      --fid-ref experiments/pretrained_models/inception_FFHQ_512.pth --output results/celeba_test_v1.4

The network is a released architecture (--arch clean for v1.2-v1.4, bilinear, original for GFPGANv1.pth), the one a
checkpoint trained here carries (when --arch is not given), or the network_g of a training options file (--opt).
Each input face is resized to the network's
size if needed, restored as the official inference does (return_rgb=False; the decoder's noise is random as there,
but drawn from --seed so runs repeat) and written to <output>/restored/<name>.png; then the metrics of
scripts/evaluate.py go to <output>/ (per_image.csv, summary.json, report.png, report.html).

Before the network is built, the checkpoint, the folders, the output folder and every chosen metric's weights are
checked and every problem is reported at once (exit code 2, with the one download command for missing release
files); --debug or GFPGAN_DEBUG=1 shows the traceback of an error.
"""

# {metric: (its weights option, the command-line flag that gives it)}: named in the preflight's messages
WEIGHT_FLAGS = {
    'lpips': ('weights', '--lpips-weights'),
    'deg': ('weights', '--arcface'),
    'lmd': ('weights', '--landmark-weights'),
    'niqe': ('params', '--niqe-params'),
    'fid': ('weights', '--inception'),
}


def metric_options(args, device=None):
    """{metric: options of its class} from the options of ``add_metric_arguments``."""
    psnr = {'crop_border': args.crop_border, 'test_y_channel': args.test_y_channel}
    return {
        'psnr': psnr,
        'ssim': dict(psnr),
        'lpips': {'net': args.lpips_net, 'weights': args.lpips_weights, 'device': device},
        'deg': {'weights': args.arcface, 'device': device},
        'lmd': {'weights': args.landmark_weights, 'device': device},
        'niqe': {'crop_border': args.crop_border, 'params': args.niqe_params},
        'fid': {'reference': args.fid_ref, 'weights': args.inception, 'device': device},
    }


def add_metric_arguments(parser):
    """The metric options shared by scripts/evaluate.py and scripts/test_gfpgan.py."""
    group = parser.add_argument_group('metrics')
    group.add_argument(
        '--metrics',
        help=f"comma-separated, from {', '.join(metric_classes())} (default: psnr,ssim,lpips,deg,niqe with references, "
        'niqe without; fid when --fid-ref is given; lmd only when asked)')
    group.add_argument('--fid-ref', metavar='PATH', help='FID reference: statistics file or folder of images')
    group.add_argument('--crop-border', type=int, default=0, help='pixels left out at each edge for PSNR/SSIM/NIQE')
    group.add_argument('--test-y-channel', action='store_true', help='PSNR/SSIM on the BT.601 Y channel')
    group.add_argument('--lpips-net', choices=('vgg', 'alex'), default='vgg', help='LPIPS backbone (default vgg)')
    group.add_argument('--lpips-weights', metavar='FILE', help='torchvision VGG16 / AlexNet weights for LPIPS')
    group.add_argument('--arcface', metavar='FILE', help='ArcFace weights for Deg. (default arcface_resnet18.pth)')
    group.add_argument('--inception', metavar='FILE', help='FID InceptionV3 weights (pt_inception-2015-12-05)')
    group.add_argument(
        '--landmark-weights', metavar='FILE', help='AWing FAN weights for LMD (default '
        'alignment_WFLW_4HG.pth)')
    group.add_argument('--niqe-params', metavar='FILE', help='NIQE pristine model (default niqe_pris_params.npz)')
    group.add_argument(
        '--sort-by',
        metavar='METRIC',
        help='metric that ranks the picture report (default: lpips '
        'if computed, else the first per-image metric)')
    group.add_argument('--report-count', type=int, default=3, help='images per group (best/median/worst), default 3')
    group.add_argument('--device', default='auto', help='auto (CUDA when available), cpu, cuda, cuda:1 ...')


def check_evaluation(args,
                     restored,
                     out_dir,
                     reference=None,
                     inputs=None,
                     suffix='',
                     preflight=None,
                     restored_later=False,
                     progress=True,
                     out_flag='--out'):
    """The preflight of an evaluation with the options of ``add_metric_arguments``: the metric names, the folders
    and their pairing, the output folder, every metric's pretrained file and package, all checked before any image
    is read. Problems go to ``preflight`` when given (the caller raises); otherwise missing release files are
    downloaded (unless GFPGAN_NO_DOWNLOAD) and every problem is raised together. ``restored_later``: the restored
    folder does not exist yet (scripts/test_gfpgan.py makes it from ``inputs``); ``out_flag`` names the option that
    gave ``out_dir``. Returns the metric names."""
    pf = preflight if preflight is not None else Preflight()
    names = args.metrics.split(',') if args.metrics else default_metrics(bool(reference), bool(args.fid_ref))
    names = [n.strip().lower() for n in names if n.strip()]
    classes = metric_classes()
    pf.check(names, f"--metrics: no metric given; choose from {', '.join(classes)}.")
    for name in names:
        pf.check(name in classes, f'--metrics: unknown metric {name!r}{did_you_mean(name, classes)}.')
    names = [n for n in names if n in classes]
    needs_reference = [n for n in names if classes[n].needs_reference]
    pf.check(not needs_reference or reference, f"--metrics: {', '.join(needs_reference)} compare with ground truth: "
             'give --gt, or choose no-reference metrics (niqe, fid).')
    pf.check('fid' not in names or args.fid_ref, '--metrics: fid needs --fid-ref (a statistics file or a folder of '
             'reference images).')
    per_image = [n for n in names if classes[n].per_image]
    pf.check(args.sort_by is None or args.sort_by in per_image, f'--sort-by: {args.sort_by!r} is not a per-image '
             f"metric of this run; choose one of {', '.join(per_image) or '(none computed)'}.")
    pf.check(args.report_count >= 1, f'--report-count must be at least 1, got {args.report_count}.')
    pf.check(args.crop_border >= 0, f'--crop-border must be at least 0, got {args.crop_border}.')
    try:
        resolve_device(args.device)
    except (RuntimeError, ValueError) as err:
        pf.add(f"--device: '{args.device}' is not a device torch knows ({err}).")
    folders_ok = True
    if not restored_later:
        folders_ok = bool(pf.images(restored, '--restored'))
    for folder, flag in ((reference, '--gt'), (inputs, '--lq' if not restored_later else '--input')):
        folders_ok = (folder is None or bool(pf.images(folder, flag))) and folders_ok
    if folders_ok:
        try:  # the names that will be evaluated: test_gfpgan.py's restored faces are named as its inputs
            pair_folders(inputs if restored_later else restored, reference, None if restored_later else inputs, suffix)
        except ValueError as err:
            pf.add(str(err))
    pf.exists(args.fid_ref, '--fid-ref')
    for folder in (restored, reference, inputs):
        pf.check(not folder or os.path.abspath(folder) != os.path.abspath(out_dir),
                 f"{out_flag}: the output folder '{out_dir}' is one of the evaluated folders; choose another.")
    pf.output_folder(out_dir, out_flag)
    options = metric_options(args)
    files, packages = required_files(names, options)
    for module, feature in packages:
        problem = package_problem(module, feature)
        pf.check(problem is None, f'{problem}.')
    for name, weights in files.items():
        key, flag = WEIGHT_FLAGS.get(name, (None, None))
        given = key is not None and options[name].get(key) is not None
        for file, what in weights:
            pf.weights(file, f'{what} ({flag})' if given else what)
    if preflight is None:
        pf.fetch_missing(progress=progress)
        pf.raise_if_any()
    return names


def run_evaluation(args, restored, out_dir, reference=None, inputs=None, suffix='', progress=True, log=print):
    """Evaluate ``restored`` with the options of ``add_metric_arguments`` and write ``out_dir``/{per_image.csv,
    summary.json, report.png, report.html}; everything is checked first (``check_evaluation``). Returns the summary
    dict (as saved in summary.json)."""
    names = check_evaluation(args, restored, out_dir, reference, inputs, suffix, progress=progress)
    device = resolve_device(args.device)
    pairs = pair_folders(restored, reference, inputs, suffix)
    for kind, names_missing in pairs.unmatched.items():
        log(f'{len(names_missing)} image(s) {kind}, not evaluated: {", ".join(names_missing[:5])}'
            f'{" ..." if len(names_missing) > 5 else ""}')

    options = metric_options(args, device)
    per_image = build_metrics(names, options)
    rows = evaluate_pairs(pairs, per_image, progress) if per_image else {n: {} for n in pairs.names}
    summary = summarize(rows, set_metric_values(names, options, pairs.restored.values(), progress))
    table = markdown_table(summary)
    folders = {'restored': restored, 'reference': reference, 'input': inputs}
    run_options = {k: v for k, v in vars(args).items() if isinstance(v, (str, int, float, bool, type(None)))}
    try:
        report = write_reports(out_dir, pairs, rows, summary, table, folders, run_options, per_image, args.sort_by,
                               args.report_count)
    except OSError as err:  # a full disk, a lost permission: name the output folder when the error names nothing
        raise os_error_at(err, out_dir) from err
    log(table)
    log(f'\nper image: {os.path.join(out_dir, "per_image.csv")}\nsummary: {os.path.join(out_dir, "summary.json")}' +
        (f'\npictures: {os.path.join(out_dir, "report.png")}, {os.path.join(out_dir, "report.html")}' if per_image
         else ''))
    return report


def evaluate_main(argv=None):
    """scripts/evaluate.py: evaluate a folder of restored faces; ``video ...``: the temporal stability of a restored
    video (``gfpgan.metrics.video_cli``)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ['video']:
        from .video_cli import video_evaluate_main
        return video_evaluate_main(argv[1:])
    parser = argparse.ArgumentParser(description=EVALUATE_DOC, formatter_class=argparse.RawDescriptionHelpFormatter)
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


def check_checkpoint_test(args, restored):
    """The preflight: the checkpoint, the options file, the input and reference folders and their pairing, the
    output folder, and every metric's weights and package, all checked before the network is built or a face
    restored (a whole test set is not restored to find a metric's weights missing). Raises one PreflightError."""
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


def checkpoint_test_main(argv=None):
    """scripts/test_gfpgan.py: restore a test set with a checkpoint, then evaluate it."""
    parser = argparse.ArgumentParser(description=TEST_CHECKPOINT_DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model', required=True, metavar='FILE', help='generator checkpoint (.pth / .safetensors)')
    parser.add_argument('--input', required=True, metavar='DIR', help='degraded aligned faces (e.g. <test set>/lq)')
    parser.add_argument('--gt', metavar='DIR', help='ground-truth faces, paired by file name (e.g. <test set>/gt)')
    parser.add_argument('--output', required=True, metavar='DIR', help='results folder (restored/ and the metrics)')
    parser.add_argument(
        '--arch',
        choices=tuple(RELEASE_ARCHS),
        help='released architecture (default: the network a checkpoint trained here carries, else clean: v1.2-v1.4)')
    parser.add_argument('--channel-multiplier', type=int, help='override the architecture\'s channel multiplier')
    parser.add_argument('--opt', metavar='YML', help='take the network from this training options file instead')
    parser.add_argument('--param-key', default='params_ema', help='weights inside the checkpoint (default params_ema)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the decoder noise (default 0)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    add_metric_arguments(parser)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    restored = os.path.join(args.output, 'restored')
    check_checkpoint_test(args, restored)
    net, size = build_generator(args.model, args.arch, args.channel_multiplier, args.opt, args.param_key)
    device = resolve_device(args.device)
    restore_folder(net, size, args.input, restored, device, args.seed, not args.no_progress)
    run_evaluation(args, restored, args.output, args.gt, args.input, progress=not args.no_progress)
    return 0


def evaluate_command():
    """The ``gfpgan-evaluate`` console command: evaluate_main with one-sentence errors and exit codes."""
    return run_cli(evaluate_main)
