"""A degraded test set with its parameters: every image of a folder of aligned faces degraded as GFPGAN v1 trains
(FFHQDegradationDataset), from its own generator seeded by (seed, name), the parameters drawn recorded in
degradations.json so that the set can be rebuilt exactly. The command line is ``gfpgan.data.test_set_cli``
(scripts/make_test_set.py, ``gfpgan-make-test-set``)."""
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

__all__ = [
    'JSON_NAME', 'FORMAT', 'SEEDING', 'DEGRADATION_KEYS', 'DEFAULT_OPT', 'OVERRIDES', 'degradation_options',
    'image_rng', 'output_problem', 'prepare_output', 'open_dataset', 'leftover_images', 'make_test_set',
    'read_record', 'rebuild_test_set'
]

# the official training options of the repository, whose datasets.train block gives the degradation by default
DEFAULT_OPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), 'options',
                           'train_gfpgan_v1.yml')
JSON_NAME = 'degradations.json'
FORMAT = 'gfpgan-degradations-v1'
SEEDING = ('numpy.random.default_rng([seed, w0, ..., w7]), w0..w7 = the little-endian uint32 words of '
           'SHA-256(name)')

# Dataset options that shape the degradation; the rest of a datasets.train block (paths, flips, eye / mouth
# boxes, loader settings) plays no part in a test set.
DEGRADATION_KEYS = ('blur_kernel_size', 'kernel_list', 'kernel_prob', 'blur_sigma', 'downsample_range', 'noise_range',
                    'jpeg_range', 'color_jitter_prob', 'color_jitter_shift', 'color_jitter_pt_prob', 'brightness',
                    'contrast', 'saturation', 'hue', 'gray_prob', 'gt_gray')

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


def leftover_images(output, names):
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
