"""The command line of the test-set builder (scripts/make_test_set.py, ``gfpgan-make-test-set``): options, help,
preflight and the lines printed; the building is ``gfpgan.data.test_set``."""
import argparse
import os

from gfpgan.errors import run_cli

from .test_set import (DEFAULT_OPT, JSON_NAME, OVERRIDES, SEEDING, degradation_options, leftover_images,
                       make_test_set, output_problem, read_record, rebuild_test_set)

__all__ = ['DESCRIPTION', 'build_parser', 'check_run', 'main', 'command']

DESCRIPTION = f"""\
Degrade a folder of high-quality aligned faces (e.g. the CelebA-HQ test images) with the degradation
GFPGAN v1 trains on (FFHQDegradationDataset: blur -> downsample -> noise -> JPEG -> upsample, then
colour jitter / gray), with a fixed seed, and record the parameters drawn for every image:

  <output>/gt/<name>.png       the input resized to --size x --size (as the training dataset resizes:
                               INTER_AREA to shrink, bicubic to enlarge), 8-bit
  <output>/lq/<name>.png       its degraded copy, the same size (the dataset's lq)
  <output>/{JSON_NAME}  {{"seed", "size", "options", "images": {{name: parameters}}}}

<name> is the input file name without extension; evaluation pairs lq / restored / gt by it. The
degradation is applied to the 8-bit gt as written, so gt/ alone rebuilds lq/ (unless --gt-gray made
some gt gray). The parameters of an image: kernel (kernel_type, kernel_size, sigma_x, sigma_y,
rotation in radians, beta for generalized / plateau kernels), downsample_scale, noise (sigma in
0-255 units, gray_noise, and rng_state: the numpy generator state the noise field is drawn from, as
the field itself is too large to store; null without noise), jpeg_quality (null without JPEG),
rgb_shift (3 offsets in 0-1 units, or null), gray, color_jitter ([name, factor] in the order
applied, or null).

Per-image seeds: each image's random numbers come from its own generator, derived from (--seed, name):
  {SEEDING}
(name as UTF-8), so they depend on --seed and the image's name only: an image gets bit-identical lq
in every run, whatever other images the folder holds (a subset keeps the images it keeps).

Degradation ranges: those of datasets.train in --opt (default: options/train_gfpgan_v1.yml, the
official training options: kernel 41, iso / aniso 0.5 / 0.5, blur sigma [0.1, 10], downsample
[0.8, 8], noise [0, 20], JPEG [60, 100], colour jitter 0.3, colour jitter (torchvision) 0.3, gray
0.01); a key absent there takes the dataset's default, and the flags below override single values.

--rebuild {JSON_NAME} re-applies recorded parameters exactly, drawing nothing: every image named in
the JSON must be in the input folder (others are ignored). Inputs are never modified; nothing is
written into an existing non-empty output folder without --force; every file is written atomically,
and {JSON_NAME} last (with --force, an old one is removed first), so a set that has it is complete.
Before anything is read or written, the options, the input folder, --opt / --rebuild and the output
folder are checked and every problem is reported at once (exit code 2); --debug or GFPGAN_DEBUG=1
shows the traceback of an error.

Examples:
  python scripts/make_test_set.py --input datasets/celeba_hq_test --output datasets/celeba_test --seed 0
  python scripts/make_test_set.py --input faces --output out --size 256 --noise 0 10 --jpeg 70 90 --gray-prob 0
  python scripts/make_test_set.py --input datasets/celeba_hq_test --output rebuilt \\
      --rebuild datasets/celeba_test/{JSON_NAME}
"""


def _probability_or_none(text):
    if text.lower() in ('none', '~', 'null', 'off'):
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"expected a probability in [0, 1] or 'none', got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog='make_test_set.py', description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--input',
        required=True,
        metavar='DIR',
        help='folder of high-quality aligned face images (png, jpg, webp, ...; not its subfolders); never modified')
    parser.add_argument(
        '--output', required=True, metavar='DIR', help=f'folder to create with lq/, gt/ and {JSON_NAME}')
    parser.add_argument(
        '--rebuild',
        metavar='JSON',
        help=f'a {JSON_NAME} to re-apply exactly instead of drawing new parameters; the seed, size and options '
        'come from it, so none of the options below may be given with it')
    # Options without a default (SUPPRESS): present in the parsed arguments only when given.
    unset = argparse.SUPPRESS
    parser.add_argument(
        '--seed',
        type=int,
        default=unset,
        help='non-negative base seed of the per-image generators (see above) (default: 0)')
    parser.add_argument(
        '--size',
        type=int,
        default=unset,
        help='side of the square gt / lq images; inputs of another size are resized (default: 512)')
    parser.add_argument(
        '--opt',
        metavar='YML',
        default=unset,
        help='options file whose datasets.train (an FFHQDegradationDataset) gives the degradation ranges '
        '(default: options/train_gfpgan_v1.yml)')
    group = parser.add_argument_group('degradation overrides',
                                      'each replaces one key of datasets.train; defaults of train_gfpgan_v1.yml in ()')
    group.add_argument('--blur-kernel-size', type=int, metavar='K', default=unset, help='odd side of the kernel (41)')
    group.add_argument(
        '--kernel-list',
        nargs='+',
        metavar='TYPE',
        default=unset,
        help='kernel types to draw from: iso aniso generalized_iso generalized_aniso plateau_iso plateau_aniso '
        '(iso aniso); equally likely unless --kernel-prob is given')
    group.add_argument(
        '--kernel-prob', type=float, nargs='+', metavar='P', default=unset, help='weight of each type (0.5 0.5)')
    ranges = (('blur-sigma', 'blur kernel sigma in pixels (0.1 10)'), ('downsample', 'downsampling factor (0.8 8)'),
              ('noise', 'Gaussian noise sigma, 0-255 units (0 20)'),
              ('jpeg',
               'JPEG quality, drawn as int(uniform(LO, HI)) like the original, so HI is never reached (60 100)'))
    for name, text in ranges:
        group.add_argument(f'--{name}', type=float, nargs=2, metavar=('LO', 'HI'), default=unset, help=text)
    group.add_argument('--no-noise', action='store_true', default=unset, help='no Gaussian noise')
    group.add_argument('--no-jpeg', action='store_true', default=unset, help='no JPEG compression')
    group.add_argument(
        '--color-jitter-prob',
        type=_probability_or_none,
        metavar='P',
        default=unset,
        help="probability of a random per-channel shift, or 'none' (0.3)")
    group.add_argument(
        '--color-jitter-shift',
        type=float,
        metavar='S',
        default=unset,
        help='largest per-channel shift, 0-255 units (20)')
    group.add_argument(
        '--color-jitter-pt-prob',
        type=_probability_or_none,
        metavar='P',
        default=unset,
        help="probability of a brightness / contrast / saturation / hue jitter in random order, or 'none' (0.3)")
    for name, default in (('brightness', '0.5 1.5'), ('contrast', '0.5 1.5'), ('saturation', '0 1.5'), ('hue',
                                                                                                        '-0.1 0.1')):
        group.add_argument(
            f'--{name}',
            type=float,
            nargs=2,
            metavar=('LO', 'HI'),
            default=unset,
            help=f'{name} factor of that jitter ({default})')
    group.add_argument(
        '--gray-prob',
        type=_probability_or_none,
        metavar='P',
        default=unset,
        help="probability of a gray lq, or 'none' (0.01)")
    group.add_argument(
        '--gt-gray',
        action=argparse.BooleanOptionalAction,
        default=unset,
        help='make gt gray too where lq is made gray, as the dataset does with gt_gray (no)')
    parser.add_argument('--force', action='store_true', help='write into an existing non-empty output folder')
    parser.add_argument(
        '--workers',
        type=int,
        default=None,
        help='threads degrading images (default: min(8, CPUs)); results do not depend on it')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser


SET_OPTIONS = ('seed', 'size', 'opt', 'no_noise', 'no_jpeg', *OVERRIDES)


def check_run(args):
    """The preflight: the options, the input folder, the options file or the JSON to rebuild from, and the output
    folder, all checked before anything is read or written; every problem is raised together (PreflightError)."""
    from gfpgan.errors import GFPGANError
    from gfpgan.preflight import Preflight
    given = vars(args)
    pf = Preflight()
    pf.check(args.workers >= 1, f'--workers must be at least 1, got {args.workers}.')
    if args.rebuild:
        clash = [dest for dest in SET_OPTIONS if dest in given]
        pf.check(not clash, f"--rebuild takes the seed, size and options from its JSON; drop "
                 f"--{clash[0].replace('_', '-') if clash else ''}.")
        if pf.file(args.rebuild, '--rebuild'):
            try:
                read_record(args.rebuild)
            except (OSError, ValueError) as err:
                pf.add(f'--rebuild: {err}')
    else:
        pf.check(given.get('seed', 0) >= 0, f"--seed must be a non-negative integer, got {given.get('seed')}.")
        pf.check(given.get('size', 512) >= 1, f"--size must be a positive number of pixels, got {given.get('size')}.")
        if pf.file(given.get('opt', DEFAULT_OPT), '--opt'):
            try:
                degradation_options(args)
            except (GFPGANError, OSError, ValueError) as err:
                pf.add(f'--opt: {err}')
    for flag in ('noise', 'jpeg'):
        pf.check(not (flag in given and f'no_{flag}' in given), f'--{flag} and --no-{flag} contradict each other; '
                 'give one.')
    if pf.images(args.input, '--input'):
        problem = output_problem(args.input, args.output, args.force)
        pf.check(problem is None, f'--output: {problem}')
    pf.output_folder(args.output, '--output')
    pf.raise_if_any()


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    given = vars(args)
    if args.workers is None:
        args.workers = min(8, os.cpu_count() or 1)
    check_run(args)
    if args.rebuild:
        record = rebuild_test_set(args.rebuild, args.input, args.output, args.force, args.workers,
                                  progress=not args.quiet)
    else:
        record = make_test_set(
            args.input,
            args.output,
            degradation_options(args),
            seed=given.get('seed', 0),
            size=given.get('size', 512),
            force=args.force,
            workers=args.workers,
            progress=not args.quiet)
    leftovers = leftover_images(args.output, record['images'])
    if leftovers:
        print(f"Note: {len(leftovers)} older image(s) in {os.path.join(args.output, 'lq')} / gt are not part of this "
              f'set (first: {leftovers[0]}); remove them before evaluating.')
    print(f"Wrote {len(record['images'])} degraded images ({record['size']} px, seed {record.get('seed')}) to "
          f"{os.path.join(args.output, 'lq')}, their ground truth to {os.path.join(args.output, 'gt')} and the "
          f'parameters to {os.path.join(args.output, JSON_NAME)}.')
    return 0


def command():
    """The ``gfpgan-make-test-set`` console command: main with one-sentence errors and exit codes."""
    return run_cli(main)
