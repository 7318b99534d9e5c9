"""Build a synthetic test set ("CelebA-Test" protocol): degrade aligned faces with GFPGAN's training degradation
and record every drawn parameter, so that the set can be rebuilt exactly."""
import argparse
import hashlib
import json
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
sys.path.insert(0, ROOT)

DEFAULT_OPT = os.path.join(ROOT, 'options', 'train_gfpgan_v1.yml')
JSON_NAME = 'degradations.json'
FORMAT = 'gfpgan-degradations-v1'
SEEDING = ('numpy.random.default_rng([seed, w0, ..., w7]), w0..w7 = the little-endian uint32 words of '
           'SHA-256(name)')

# Dataset options that shape the degradation; the rest of a datasets.train block (paths, flips, eye / mouth
# boxes, loader settings) plays no part in a test set.
DEGRADATION_KEYS = ('blur_kernel_size', 'kernel_list', 'kernel_prob', 'blur_sigma', 'downsample_range', 'noise_range',
                    'jpeg_range', 'color_jitter_prob', 'color_jitter_shift', 'color_jitter_pt_prob', 'brightness',
                    'contrast', 'saturation', 'hue', 'gray_prob', 'gt_gray')

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


# ----------------------------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------------------------
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


# command-line destination -> dataset option it replaces
OVERRIDES = {
    'blur_kernel_size': 'blur_kernel_size',
    'kernel_list': 'kernel_list',
    'kernel_prob': 'kernel_prob',
    'blur_sigma': 'blur_sigma',
    'downsample': 'downsample_range',
    'noise': 'noise_range',
    'jpeg': 'jpeg_range',
    'color_jitter_prob': 'color_jitter_prob',
    'color_jitter_shift': 'color_jitter_shift',
    'color_jitter_pt_prob': 'color_jitter_pt_prob',
    'brightness': 'brightness',
    'contrast': 'contrast',
    'saturation': 'saturation',
    'hue': 'hue',
    'gray_prob': 'gray_prob',
    'gt_gray': 'gt_gray',
}
SET_OPTIONS = ('seed', 'size', 'opt', 'no_noise', 'no_jpeg', *OVERRIDES)


def degradation_options(args):
    """The degradation options of datasets.train in ``args.opt`` with the command-line overrides applied."""
    from gfpgan.data.ffhq_degradation_dataset import V1_DEFAULTS
    from gfpgan.options import read_yaml

    given = vars(args)
    path = given.get('opt', DEFAULT_OPT)
    train = (read_yaml(path).get('datasets') or {}).get('train')
    if not isinstance(train, dict):
        raise ValueError(f"The options file '{path}' has no datasets.train block to take the degradation from.")
    if train.get('type', 'FFHQDegradationDataset') != 'FFHQDegradationDataset':
        raise ValueError(f"datasets.train of '{path}' is a {train['type']}, not an FFHQDegradationDataset, so it "
                         'defines no degradation.')
    options = {key: train.get(key, V1_DEFAULTS[key]) for key in DEGRADATION_KEYS}
    options.update({key: given[dest] for dest, key in OVERRIDES.items() if dest in given})
    if 'kernel_list' in given and 'kernel_prob' not in given:
        options['kernel_prob'] = [1 / len(given['kernel_list'])] * len(given['kernel_list'])
    if given.get('no_noise'):
        options['noise_range'] = None
    if given.get('no_jpeg'):
        options['jpeg_range'] = None
    return {key: list(value) if isinstance(value, tuple) else value for key, value in options.items()}


# ----------------------------------------------------------------------------------------------------------------
# Building the set
# ----------------------------------------------------------------------------------------------------------------
def image_rng(seed, name):
    """The generator of image ``name`` (see SEEDING): the same for the same (seed, name), whatever else is built."""
    words = np.frombuffer(hashlib.sha256(name.encode('utf-8')).digest(), dtype='<u4')
    return np.random.default_rng([int(seed), *(int(w) for w in words)])


def _inside(path, folder):
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def output_problem(input_folder, output, force):
    """None when ``output`` may receive the set, else why not (one sentence): it overlaps the input, is a file,
    or (without ``force``) already holds something. Nothing is created."""
    if _inside(output, input_folder) or _inside(input_folder, output):
        return (f"The output folder '{output}' and the input folder '{input_folder}' overlap; choose an output "
                'outside the input (inputs are never written to).')
    if os.path.exists(output) and not os.path.isdir(output):
        return f"The output '{output}' is a file, not a folder."
    if os.path.isdir(output) and os.listdir(output) and not force:
        return (f"The output folder '{output}' already exists and is not empty; pass --force to write into it, or "
                'choose another folder.')
    return None


def prepare_output(input_folder, output, force):
    """Refuse an output that overlaps the input or (without ``force``) holds anything; remove an old JSON."""
    problem = output_problem(input_folder, output, force)
    if problem is not None:
        raise ValueError(problem)
    if os.path.isdir(output) and os.listdir(output):
        if os.path.isfile(os.path.join(output, JSON_NAME)):
            os.remove(os.path.join(output, JSON_NAME))  # the old record no longer describes the images
    for sub in ('lq', 'gt'):
        os.makedirs(os.path.join(output, sub), exist_ok=True)


def open_dataset(input_folder, size, options):
    """FFHQDegradationDataset over ``input_folder`` with these options: it reads / resizes the inputs as training
    does and samples / applies the degradation. Returns (dataset, {name: index})."""
    from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset
    from gfpgan.data.storage import scan_images

    scan_images(input_folder, option='--input')  # a missing / empty folder is named as the user gave it
    dataset = FFHQDegradationDataset({
        **options, 'dataroot_gt': input_folder,
        'io_backend': {
            'type': 'disk'
        },
        'out_size': size,
        'use_hflip': False
    })
    names = {}
    for index, key in enumerate(dataset.paths):
        name = dataset.source.stem(key)
        if name in names:
            raise ValueError(f"Two images in '{input_folder}' are both named '{name}' "
                             f'({os.path.basename(dataset.paths[names[name]])}, {os.path.basename(key)}); keep one '
                             'per name.')
        names[name] = index
    return dataset, names


def _write_pair(output, name, gt, lq):
    from gfpgan.data.degradations import to_uint8
    from gfpgan.utils.img_util import imwrite
    imwrite(to_uint8(gt)[:, :, ::-1], os.path.join(output, 'gt', f'{name}.png'))
    imwrite(to_uint8(lq)[:, :, ::-1], os.path.join(output, 'lq', f'{name}.png'))


def _build(dataset, index, names, output, make_params, workers, progress):
    """Write gt / lq for ``names`` (in order; ``index`` maps them to dataset indices), ``make_params(name, gt)``
    giving each image's degradation parameters. Returns {name: {'file', **parameters}}."""
    from tqdm import tqdm

    from gfpgan.data import degradations as deg

    def one(name):
        gt = dataset.read_gt(index[name])
        gt = deg.to_uint8(gt).astype(np.float32) / np.float32(255.)  # what gt/ will hold: lq is made from it
        params = make_params(name, gt)
        lq, gray = dataset.apply_degradation(gt, params)
        if gray and dataset.gt_gray:
            gt = deg.rgb_to_grayscale(gt)
        _write_pair(output, name, gt, lq)
        return {'file': os.path.basename(dataset.paths[index[name]]), **params}

    with ThreadPoolExecutor(max_workers=workers) as pool:
        records = list(tqdm(pool.map(one, names), total=len(names), desc='degrading', unit='img', disable=not progress))
    return dict(zip(names, records))


def _write_json(output, record):
    from gfpgan.utils.fileio import atomic_write
    with atomic_write(os.path.join(output, JSON_NAME)) as f:
        f.write((json.dumps(record, indent=1) + '\n').encode('utf-8'))


def _leftovers(output, names):
    """Names of the images in lq/ or gt/ that this run did not write (from an earlier set, with --force)."""
    keep = {f'{name}.png' for name in names}
    return sorted({
        f
        for sub in ('lq', 'gt')
        for f in os.listdir(os.path.join(output, sub)) if not f.startswith('.') and f not in keep
    })


def make_test_set(input_folder, output, options, seed=0, size=512, force=False, workers=1, progress=True):
    """Degrade every image of ``input_folder`` with parameters drawn from its own generator; returns the record
    written to ``<output>/degradations.json``."""
    if seed < 0:
        raise ValueError(f'--seed must be a non-negative integer, got {seed}.')
    if size < 1:
        raise ValueError(f'--size must be a positive number of pixels, got {size}.')
    dataset, names = open_dataset(input_folder, size, options)
    prepare_output(input_folder, output, force)
    images = _build(dataset, names, list(names), output,
                    lambda name, gt: dataset.sample_degradation(image_rng(seed, name), gt.shape), workers, progress)
    record = {'format': FORMAT, 'seed': seed, 'seeding': SEEDING, 'size': size, 'options': options, 'images': images}
    _write_json(output, record)
    return record


def read_record(path):
    """The content of a degradations.json, checked for the keys a rebuild needs."""
    try:
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
    except OSError as err:
        raise OSError(f"Cannot read '{path}': {err.strerror or err}.") from None
    except ValueError as err:
        raise ValueError(f"'{path}' is not valid JSON ({err}).") from None
    ok = (
        isinstance(record, dict) and isinstance(record.get('images'), dict) and isinstance(record.get('options'), dict)
        and isinstance(record.get('size'), int))
    if not ok or record.get('format') != FORMAT:
        raise ValueError(f"'{path}' is not a {JSON_NAME} written by make_test_set.py (format {FORMAT}).")
    return record


def rebuild_test_set(json_path, input_folder, output, force=False, workers=1, progress=True):
    """Re-apply the parameters recorded in ``json_path`` to the same-named images of ``input_folder``."""
    record = read_record(json_path)
    dataset, names = open_dataset(input_folder, record['size'], record['options'])
    missing = [name for name in record['images'] if name not in names]
    if missing:
        raise FileNotFoundError(f"{len(missing)} of the {len(record['images'])} images of '{json_path}' are not in "
                                f"'{input_folder}' (first: '{missing[0]}').")
    needed = set(dataset.sample_degradation(np.random.default_rng(0)))
    for name, params in record['images'].items():
        lacking = sorted(needed - set(params)) if isinstance(params, dict) else ['all']
        if lacking:
            raise ValueError(f"'{json_path}' lacks parameters of image '{name}' ({', '.join(lacking)}).")
    prepare_output(input_folder, output, force)

    def recorded(name, gt):
        return {key: value for key, value in record['images'][name].items() if key != 'file'}

    try:
        images = _build(dataset, names, list(record['images']), output, recorded, workers, progress)
    except (KeyError, TypeError) as err:
        raise ValueError(f"The parameters in '{json_path}' are incomplete or malformed ({type(err).__name__}: "
                         f'{err}).') from None
    _write_json(output, {**record, 'images': images})
    return record


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
    leftovers = _leftovers(args.output, record['images'])
    if leftovers:
        print(f"Note: {len(leftovers)} older image(s) in {os.path.join(args.output, 'lq')} / gt are not part of this "
              f'set (first: {leftovers[0]}); remove them before evaluating.')
    print(f"Wrote {len(record['images'])} degraded images ({record['size']} px, seed {record.get('seed')}) to "
          f"{os.path.join(args.output, 'lq')}, their ground truth to {os.path.join(args.output, 'gt')} and the "
          f'parameters to {os.path.join(args.output, JSON_NAME)}.')
    return 0


if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
