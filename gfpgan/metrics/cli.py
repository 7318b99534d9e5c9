"""The command line of the evaluation (scripts/evaluate.py, scripts/test_gfpgan.py): the metric options, the
preflight whose messages name them, and the run that prints its table. The computing is ``gfpgan.metrics.evaluation``.
"""
import os

from gfpgan.errors import os_error_at
from gfpgan.preflight import Preflight, did_you_mean
from gfpgan.utils.device import resolve_device

from .base import metric_classes
from .evaluation import (build_metrics, default_metrics, evaluate_pairs, markdown_table, pair_folders, required_files,
                         set_metric_values, summarize, write_reports)
from .metric_util import package_problem

__all__ = ['add_metric_arguments', 'metric_options', 'check_evaluation', 'run_evaluation', 'WEIGHT_FLAGS']

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
