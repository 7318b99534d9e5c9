"""Evaluate a folder of restored faces: pair it with its references by file name, compute the chosen metrics per
image (and FID over the set), and summarise them. Used by scripts/evaluate.py and scripts/test_gfpgan.py.

Images are compared as (H, W, 3) BGR uint8 arrays, the form every per-image metric here takes.
"""
import math
import os
from dataclasses import dataclass, field

import numpy as np

from gfpgan.data.storage import scan_images
from gfpgan.utils.img_util import read_image

from gfpgan.utils.device import resolve_device

__all__ = [
    'METRICS', 'MetricInfo', 'FolderPairs', 'pair_folders', 'read_bgr_uint8', 'build_metrics', 'evaluate_pairs',
    'summarize', 'markdown_table', 'default_metrics', 'required_files', 'check_evaluation'
]


@dataclass(frozen=True)
class MetricInfo:
    label: str  # as printed in tables
    higher_is_better: bool
    needs_reference: bool  # a ground-truth image per restored image
    per_image: bool = True  # False: one value for the whole set (FID)


METRICS = {
    'psnr': MetricInfo('PSNR (dB)', True, True),
    'ssim': MetricInfo('SSIM', True, True),
    'lpips': MetricInfo('LPIPS', False, True),
    'deg': MetricInfo('Deg. (identity angle)', False, True),
    'lmd': MetricInfo('LMD (px)', False, True),
    'niqe': MetricInfo('NIQE', False, False),
    'fid': MetricInfo('FID', False, False, per_image=False),
}


@dataclass
class FolderPairs:
    """Restored images matched by name (file stem, after ``suffix`` is removed from restored names) with their
    references and inputs; names found on one side only are kept in ``unmatched`` for the report."""
    names: list
    restored: dict
    reference: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    unmatched: dict = field(default_factory=dict)  # {'restored only': [...], 'reference only': [...], ...}


def _by_stem(folder, suffix='', option=None):
    """{stem without suffix: path} of the images in ``folder``; two files with one stem are an error."""
    found = {}
    for path in scan_images(folder, option=option):
        stem = os.path.splitext(os.path.relpath(path, folder))[0]
        if suffix and stem.endswith(suffix):
            stem = stem[:-len(suffix)]
        if stem in found:
            raise ValueError(f"Two images in '{folder}' are both named '{stem}' ({os.path.basename(found[stem])}, "
                             f'{os.path.basename(path)}); keep one per name.')
        found[stem] = path
    return found


def pair_folders(restored, reference=None, inputs=None, suffix=''):
    """Match ``restored`` with ``reference`` (and ``inputs``) by file stem. Only names present in every given folder
    are evaluated; the others are listed in ``unmatched``. Raises ValueError when no name is shared."""
    restored_files = _by_stem(restored, suffix, option='--restored')
    folders = {
        'reference': _by_stem(reference, option='--gt') if reference else None,
        'input': _by_stem(inputs, option='--lq') if inputs else None
    }
    names = set(restored_files)
    for files in folders.values():
        if files is not None:
            names &= set(files)
    unmatched = {}
    for side, files in (('restored', restored_files), *folders.items()):
        if files is not None and set(files) - names:
            unmatched[f'{side} only'] = sorted(set(files) - names)
    if not names:
        given = ', '.join(f"'{f}'" for f in (restored, reference, inputs) if f)
        raise ValueError(f'No image name is shared by {given} (names are compared without extension'
                         f"{f' and without the suffix {suffix!r}' if suffix else ''}); check the folders or --suffix.")
    names = sorted(names)
    return FolderPairs(names, {n: restored_files[n]
                               for n in names}, {n: folders['reference'][n]
                                                 for n in names} if folders['reference'] else {},
                       {n: folders['input'][n]
                        for n in names} if folders['input'] else {}, unmatched)


def read_bgr_uint8(path):
    """An image file as a (H, W, 3) BGR uint8 array (16-bit files are rounded to 8 bits)."""
    rgb = read_image(path)
    return np.ascontiguousarray(np.clip(np.rint(rgb[..., ::-1] * 255.), 0, 255).astype(np.uint8))


def default_metrics(has_reference, has_fid_reference):
    """What scripts/evaluate.py computes when --metrics is not given: the paper's table (LMD needs a landmark
    detector's weights and is asked for explicitly)."""
    names = ['psnr', 'ssim', 'lpips', 'deg', 'niqe'] if has_reference else ['niqe']
    return names + (['fid'] if has_fid_reference else [])


def required_files(names,
                   lpips_net='vgg',
                   lpips_weights=None,
                   arcface_weights=None,
                   niqe_params=None,
                   landmark_weights=None,
                   inception_weights=None):
    """What the metrics ``names`` load, from the modules that load it: ([(pretrained file name or path, what it is)],
    [(optional package module, feature)]). A preflight looks them all up before any image is read."""
    from . import fid, identity_angle, landmark_distance, lpips_metric, niqe
    wanted = {
        'lpips': (lpips_metric.required_weights(lpips_net, lpips_weights), '--lpips-weights', lpips_weights,
                  (lpips_metric.REQUIRED_PACKAGE, 'The LPIPS metric')),
        'deg': (identity_angle.required_weights(arcface_weights), '--arcface', arcface_weights, None),
        'lmd': (landmark_distance.required_weights(landmark_weights), '--landmark-weights', landmark_weights,
                (landmark_distance.REQUIRED_PACKAGE, 'The landmark distance (LMD) metric')),
        'niqe': (niqe.required_weights(niqe_params), '--niqe-params', niqe_params, None),
        'fid': (fid.required_weights(inception_weights), '--inception', inception_weights,
                (fid.REQUIRED_PACKAGE, 'The FID metric')),
    }
    files, packages = [], []
    for name in names:
        if name not in wanted:
            continue
        weights, flag, given, package = wanted[name]
        files += [(file, f'{what} ({flag})' if given else what) for file, what in weights]
        packages += [package] if package else []
    return files, packages


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
    from gfpgan.preflight import Preflight, did_you_mean
    from .metric_util import package_problem
    pf = preflight if preflight is not None else Preflight()
    names = args.metrics.split(',') if args.metrics else default_metrics(bool(reference), bool(args.fid_ref))
    names = [n.strip().lower() for n in names if n.strip()]
    pf.check(names, f"--metrics: no metric given; choose from {', '.join(METRICS)}.")
    for name in names:
        pf.check(name in METRICS, f'--metrics: unknown metric {name!r}{did_you_mean(name, METRICS)}.')
    names = [n for n in names if n in METRICS]
    needs_reference = [n for n in names if METRICS[n].needs_reference]
    pf.check(not needs_reference or reference, f"--metrics: {', '.join(needs_reference)} compare with ground truth: "
             'give --gt, or choose no-reference metrics (niqe, fid).')
    pf.check('fid' not in names or args.fid_ref, '--metrics: fid needs --fid-ref (a statistics file or a folder of '
             'reference images).')
    per_image = [n for n in names if METRICS[n].per_image]
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
    files, packages = required_files(names, args.lpips_net, args.lpips_weights, args.arcface, args.niqe_params,
                                     args.landmark_weights, args.inception)
    for module, feature in packages:
        problem = package_problem(module, feature)
        pf.check(problem is None, f'{problem}.')
    for file, what in files:
        pf.weights(file, what)
    if preflight is None:
        pf.fetch_missing(progress=progress)
        pf.raise_if_any()
    return names


def build_metrics(names,
                  device=None,
                  crop_border=0,
                  test_y_channel=False,
                  lpips_net='vgg',
                  lpips_weights=None,
                  arcface_weights=None,
                  niqe_params=None,
                  landmark_weights=None):
    """{name: callable(restored, reference) -> float} for the per-image metrics among ``names`` (``reference`` is
    None for no-reference metrics). Networks are built (and their weights resolved) here, once."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise ValueError(f"Unknown metric {', '.join(unknown)}; choose from {', '.join(METRICS)}.")
    metrics = {}
    for name in names:
        if name in ('psnr', 'ssim'):
            from .psnr_ssim import calculate_psnr, calculate_ssim
            fn = calculate_psnr if name == 'psnr' else calculate_ssim
            metrics[name] = (lambda fn: lambda img, ref: fn(img, ref, crop_border, test_y_channel=test_y_channel))(fn)
        elif name == 'lpips':
            from .lpips_metric import LPIPSMetric
            metrics[name] = LPIPSMetric(net=lpips_net, weights=lpips_weights, device=device)
        elif name == 'deg':
            from .identity_angle import IdentityAngle
            metrics[name] = IdentityAngle(weights=arcface_weights, device=device)
        elif name == 'lmd':
            from .landmark_distance import FANLandmarkDetector, LandmarkDistance
            metrics[name] = LandmarkDistance(FANLandmarkDetector(weights=landmark_weights, device=device), device)
        elif name == 'niqe':
            from .niqe import calculate_niqe, load_niqe_params
            params = load_niqe_params(niqe_params)
            metrics[name] = lambda img, ref: calculate_niqe(img, crop_border, params=params)
    return metrics


def evaluate_pairs(pairs, metrics, progress=True):
    """{name: {metric: value}} over ``pairs.names``; restored and reference must have the same size."""
    from tqdm import tqdm
    rows = {}
    for name in tqdm(pairs.names, desc='evaluating', unit='img', disable=not progress):
        img = read_bgr_uint8(pairs.restored[name])
        ref = read_bgr_uint8(pairs.reference[name]) if pairs.reference else None
        if ref is not None and ref.shape != img.shape:
            raise ValueError(f"'{pairs.restored[name]}' is {img.shape[1]}x{img.shape[0]} but its reference "
                             f"'{pairs.reference[name]}' is {ref.shape[1]}x{ref.shape[0]}; restored faces and "
                             'references must have the same size.')
        rows[name] = {metric: float(fn(img, ref)) for metric, fn in metrics.items()}
    return rows


def summarize(rows, set_metrics=None):
    """{metric: {'mean', 'std', 'count'}} of the per-image ``rows``, plus set-level values ({'fid': x})."""
    summary = {}
    for metric in (next(iter(rows.values())) if rows else {}):
        values = np.array([row[metric] for row in rows.values()], dtype=np.float64)
        finite = values[np.isfinite(values)]
        summary[metric] = {
            'mean': float(finite.mean()) if finite.size else math.inf,
            'std': float(finite.std()) if finite.size else 0.,
            'count': int(values.size),
            'infinite': int(values.size - finite.size),
        }
    for metric, value in (set_metrics or {}).items():
        summary[metric] = {'mean': float(value), 'std': 0., 'count': len(rows), 'infinite': 0}
    return summary


def markdown_table(summary):
    """The summary as a Markdown table: metric, mean ± std, images, which direction is better."""
    lines = ['| metric | mean | std | images | better |', '|---|---:|---:|---:|---|']
    for metric, s in summary.items():
        info = METRICS[metric]
        note = f" ({s['infinite']} identical, left out)" if s.get('infinite') else ''
        lines.append(f"| {info.label} | {s['mean']:.4f} | {s['std']:.4f} | {s['count']}{note} | "
                     f"{'higher' if info.higher_is_better else 'lower'} |")
    return '\n'.join(lines)


def fid_of(paths, fid_reference, weights=None, device=None, progress=True):
    """FID between the images ``paths`` and ``fid_reference``: a statistics file ({'mean', 'cov'} torch file or
    pytorch-fid .npz) or a folder of reference images."""
    from .fid import FIDInception, feature_statistics, folder_statistics, frechet_distance, image_features
    from .fid import load_fid_statistics
    model = FIDInception(weights=weights)
    if os.path.isdir(fid_reference):
        mu_ref, sigma_ref = folder_statistics(fid_reference, model, device=device, progress=progress)
    else:
        mu_ref, sigma_ref = load_fid_statistics(fid_reference)
    mu, sigma = feature_statistics(image_features(list(paths), model, device=device, progress=progress))
    return frechet_distance(mu, sigma, mu_ref, sigma_ref)


def add_metric_arguments(parser):
    """The metric options shared by scripts/evaluate.py and scripts/test_gfpgan.py."""
    group = parser.add_argument_group('metrics')
    group.add_argument(
        '--metrics',
        help=f"comma-separated, from {', '.join(METRICS)} (default: psnr,ssim,lpips,deg,niqe with references, "
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


def run_evaluation(args, restored, out_dir, reference=None, inputs=None, suffix='', progress=True, log=print):
    """Evaluate ``restored`` with the options of ``add_metric_arguments`` and write ``out_dir``/{per_image.csv,
    summary.json, report.png, report.html}; everything is checked first (``check_evaluation``). Returns the summary
    dict (as saved in summary.json)."""
    from gfpgan.errors import os_error_at

    names = check_evaluation(args, restored, out_dir, reference, inputs, suffix, progress=progress)
    device = resolve_device(args.device)
    pairs = pair_folders(restored, reference, inputs, suffix)
    for kind, names_missing in pairs.unmatched.items():
        log(f'{len(names_missing)} image(s) {kind}, not evaluated: {", ".join(names_missing[:5])}'
            f'{" ..." if len(names_missing) > 5 else ""}')

    per_image = build_metrics([n for n in names if METRICS[n].per_image], device, args.crop_border, args.test_y_channel,
                              args.lpips_net, args.lpips_weights, args.arcface, args.niqe_params, args.landmark_weights)
    rows = evaluate_pairs(pairs, per_image, progress) if per_image else {n: {} for n in pairs.names}
    set_metrics = {}
    if 'fid' in names:
        set_metrics['fid'] = fid_of(pairs.restored.values(), args.fid_ref, args.inception, device, progress)
    summary = summarize(rows, set_metrics)
    table = markdown_table(summary)
    try:
        report = _write_reports(args, out_dir, pairs, rows, summary, table, restored, reference, inputs, per_image)
    except OSError as err:  # a full disk, a lost permission: name the output folder when the error names nothing
        raise os_error_at(err, out_dir) from err
    log(table)
    log(f'\nper image: {os.path.join(out_dir, "per_image.csv")}\nsummary: {os.path.join(out_dir, "summary.json")}' +
        (f'\npictures: {os.path.join(out_dir, "report.png")}, {os.path.join(out_dir, "report.html")}' if per_image
         else ''))
    return report


def _write_reports(args, out_dir, pairs, rows, summary, table, restored, reference, inputs, per_image):
    """per_image.csv, report.png / report.html (with per-image metrics) and summary.json, each atomically."""
    import csv
    import io
    import json

    from gfpgan.utils.fileio import atomic_write
    from gfpgan.utils.img_util import imwrite
    from .report import pick_examples, report_grid, report_html
    os.makedirs(out_dir, exist_ok=True)
    columns = list(per_image)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(['name', *columns, 'restored', 'reference'])
    for name in pairs.names:
        writer.writerow(
            [name, *(repr(rows[name][c]) for c in columns), pairs.restored[name],
             pairs.reference.get(name, '')])
    with atomic_write(os.path.join(out_dir, 'per_image.csv')) as f:
        f.write(text.getvalue().encode('utf-8'))
    report = {
        'metrics': summary,
        'images': len(pairs.names),
        'unmatched': pairs.unmatched,
        'folders': {
            'restored': restored,
            'reference': reference,
            'input': inputs
        },
        'options': {
            k: v
            for k, v in vars(args).items() if isinstance(v, (str, int, float, bool, type(None)))
        }
    }
    if columns:
        sort_by = args.sort_by or ('lpips' if 'lpips' in columns else columns[0])
        picks = pick_examples(rows, sort_by, args.report_count)
        imwrite(report_grid(pairs, rows, picks, sort_by), os.path.join(out_dir, 'report.png'))
        page = report_html(os.path.join(out_dir, 'report.html'), table, rows, picks, pairs, sort_by, 'report.png')
        with atomic_write(os.path.join(out_dir, 'report.html')) as f:
            f.write(page.encode('utf-8'))
        report['report'] = {'sorted_by': sort_by, **picks}
    with atomic_write(os.path.join(out_dir, 'summary.json')) as f:
        f.write(json.dumps(report, indent=2).encode('utf-8'))
    return report
