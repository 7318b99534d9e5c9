"""scripts/make_test_set.py: a degraded test set with its parameters, reproducible per image name, rebuildable from
its JSON, and one-sentence errors with exit code 2."""
import json
import os
import shutil
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml
from skimage import data as skdata

from gfpgan.data import test_set_cli
from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset
from gfpgan.data.test_set import image_rng as set_image_rng
from gfpgan.errors import run_cli

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'scripts', 'make_test_set.py')
NAMES = ['a0', 'a1', 'a2', 'b3']


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """Four 64x64 crops of the astronaut photo (one of them stored 80x80 and as JPEG, so it is resized)."""
    folder = tmp_path_factory.mktemp('faces') / 'hq'
    folder.mkdir()
    photo = skdata.astronaut()[:, :, ::-1]
    for i, name in enumerate(NAMES):
        crop = np.ascontiguousarray(photo[30 + 20 * i:30 + 20 * i + 160, 150:310])
        if name == 'b3':
            cv2.imwrite(str(folder / f'{name}.jpg'), cv2.resize(crop, (80, 80), interpolation=cv2.INTER_AREA))
        else:
            cv2.imwrite(str(folder / f'{name}.png'), cv2.resize(crop, (64, 64), interpolation=cv2.INTER_AREA))
    return folder


def make(input_folder, output, *args):
    argv = ['--input', input_folder, '--output', output, *args, '--quiet', '--workers', 2]
    return run_cli(test_set_cli.main, [str(a) for a in argv])


def read_rgb(path):
    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, ::-1]


def same_files(a, b, sub, names):
    return all((a / sub / f'{n}.png').read_bytes() == (b / sub / f'{n}.png').read_bytes() for n in names)


@pytest.fixture(scope='module')
def made(faces, tmp_path_factory):
    """The set built with seed 3 at 64 px."""
    out = tmp_path_factory.mktemp('made') / 'set'
    assert make(faces, out, '--size', 64, '--seed', 3) == 0
    return out


def test_help_runs_as_a_script():
    result = subprocess.run([sys.executable, SCRIPT, '--help'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    for text in ('degradations.json', 'SHA-256', '--rebuild', '--blur-sigma', '--gray-prob', '--force', '--opt'):
        assert text in result.stdout


def test_writes_lq_gt_and_the_parameters_of_the_official_options(faces, made):
    assert sorted(os.listdir(made)) == ['degradations.json', 'gt', 'lq']
    record = json.loads((made / 'degradations.json').read_text())
    assert record['seed'] == 3 and record['size'] == 64 and list(record['images']) == NAMES
    with open(os.path.join(ROOT, 'options', 'train_gfpgan_v1.yml')) as f:
        train = yaml.safe_load(f)['datasets']['train']
    for key, value in record['options'].items():
        assert value == train.get(key, value), key
    assert record['options']['gray_prob'] == 0.01 and record['options']['blur_kernel_size'] == 41
    assert record['images']['b3']['file'] == 'b3.jpg'
    dataset = FFHQDegradationDataset({
        **record['options'], 'dataroot_gt': str(faces),
        'io_backend': {
            'type': 'disk'
        },
        'out_size': 64
    })
    image_rng = set_image_rng
    for name in NAMES:
        params = record['images'][name]
        assert params['kernel']['kernel_type'] in ('iso', 'aniso') and 0.1 <= params['kernel']['sigma_x'] <= 10
        assert 0.8 <= params['downsample_scale'] <= 8 and 60 <= params['jpeg_quality'] < 100
        assert 0 <= params['noise']['sigma'] <= 20
        lq, gt = read_rgb(made / 'lq' / f'{name}.png'), read_rgb(made / 'gt' / f'{name}.png')
        assert lq.shape == gt.shape == (64, 64, 3) and lq.dtype == gt.dtype == np.uint8
        if name != 'b3':
            np.testing.assert_array_equal(gt, read_rgb(faces / f'{name}.png'))  # already 64 px: stored as is
        # lq is the training dataset's degradation of gt, drawn from the image's own generator
        expected, _ = dataset.degrade(gt.astype(np.float32) / np.float32(255), image_rng(3, name))
        np.testing.assert_array_equal(lq, np.rint(expected * 255).astype(np.uint8))


def test_same_seed_same_files_and_a_subset_keeps_its_images(faces, made, tmp_path):
    again = tmp_path / 'again'
    assert make(faces, again, '--size', 64, '--seed', 3) == 0
    assert same_files(made, again, 'lq', NAMES) and same_files(made, again, 'gt', NAMES)
    assert (made / 'degradations.json').read_bytes() == (again / 'degradations.json').read_bytes()

    subset = tmp_path / 'subset'
    subset.mkdir()
    for name in ('a2', 'b3'):
        shutil.copy(next(faces.glob(f'{name}.*')), subset)
    assert make(subset, tmp_path / 'sub_out', '--size', 64, '--seed', 3) == 0
    assert same_files(made, tmp_path / 'sub_out', 'lq', ['a2', 'b3'])
    sub = json.loads((tmp_path / 'sub_out' / 'degradations.json').read_text())['images']
    assert sub == {n: p for n, p in json.loads((made / 'degradations.json').read_text())['images'].items() if n in sub}

    other = tmp_path / 'other_seed'
    assert make(faces, other, '--size', 64, '--seed', 4) == 0
    assert not same_files(made, other, 'lq', NAMES)


def test_rebuild_from_the_json_is_bit_identical(faces, made, tmp_path, capsys):
    assert make(faces, tmp_path / 'rebuilt', '--rebuild', made / 'degradations.json') == 0
    assert same_files(made, tmp_path / 'rebuilt', 'lq', NAMES) and same_files(made, tmp_path / 'rebuilt', 'gt', NAMES)
    # gt/ of a set rebuilds its lq/ too, since lq is made from the 8-bit gt
    assert make(made / 'gt', tmp_path / 'from_gt', '--rebuild', made / 'degradations.json') == 0
    assert same_files(made, tmp_path / 'from_gt', 'lq', NAMES)

    record = json.loads((made / 'degradations.json').read_text())
    del record['images']['a1']['noise']
    (tmp_path / 'bad.json').write_text(json.dumps(record))
    assert make(faces, tmp_path / 'bad', '--rebuild', tmp_path / 'bad.json') == 2
    assert "lacks parameters of image 'a1' (noise)" in capsys.readouterr().err
    assert not (tmp_path / 'bad').exists()


def test_overrides_are_recorded_and_respected(faces, tmp_path):
    opt = tmp_path / 'my.yml'
    opt.write_text(yaml.safe_dump({'datasets': {'train': {'type': 'FFHQDegradationDataset', 'jpeg_range': [90, 95]}}}))
    out = tmp_path / 'custom'
    assert make(faces, out, '--size', 64, '--opt', opt, '--blur-sigma', 1, 2, '--downsample', 2, 3, '--noise', 5, 6,
                '--kernel-list', 'generalized_aniso', 'plateau_iso', '--gray-prob', 1, '--color-jitter-prob', 'none',
                '--color-jitter-pt-prob', 1, '--hue', 0, 0.05, '--gt-gray') == 0
    record = json.loads((out / 'degradations.json').read_text())
    options = record['options']
    assert options['blur_sigma'] == [1, 2] and options['downsample_range'] == [2, 3]
    assert options['noise_range'] == [5, 6] and options['jpeg_range'] == [90, 95]  # from --opt
    assert options['kernel_list'] == ['generalized_aniso', 'plateau_iso'] and options['kernel_prob'] == [0.5, 0.5]
    assert options['gray_prob'] == 1 and options['color_jitter_prob'] is None and options['gt_gray'] is True
    assert options['blur_kernel_size'] == 41  # absent from my.yml: the dataset's default
    for name, params in record['images'].items():
        kernel = params['kernel']
        assert kernel['kernel_type'] in options['kernel_list'] and 'beta' in kernel
        assert 1 <= kernel['sigma_x'] <= 2 and 1 <= kernel['sigma_y'] <= 2
        assert 2 <= params['downsample_scale'] <= 3 and 5 <= params['noise']['sigma'] <= 6
        assert 90 <= params['jpeg_quality'] < 95 and params['gray'] and params['rgb_shift'] is None
        assert {n for n, _ in params['color_jitter']} == {'brightness', 'contrast', 'saturation', 'hue'}
        assert all(0 <= f <= 0.05 for n, f in params['color_jitter'] if n == 'hue')
        gt = read_rgb(out / 'gt' / f'{name}.png')
        assert np.array_equal(gt[:, :, 0], gt[:, :, 1]) and np.array_equal(gt[:, :, 0], gt[:, :, 2])  # --gt-gray


def test_refuses_to_write_into_a_non_empty_folder_without_force(faces, tmp_path, capsys):
    out = tmp_path / 'set'
    out.mkdir()
    (out / 'notes.txt').write_text('mine')
    assert make(faces, out, '--size', 64) == 2
    assert 'already exists and is not empty; pass --force' in capsys.readouterr().err
    assert os.listdir(out) == ['notes.txt']
    assert make(faces, out, '--size', 64, '--force') == 0
    assert (out / 'notes.txt').read_text() == 'mine' and len(os.listdir(out / 'lq')) == 4


@pytest.mark.parametrize('args, message', [
    (['{tmp}/absent', '{tmp}/out'], "--input: The image folder '{tmp}/absent' does not exist."),
    (['{tmp}/empty', '{tmp}/out'], "--input: The image folder '{tmp}/empty' holds no images"),
    (['{faces}', '{faces}/out'], 'overlap; choose an output outside the input'),
    (['{faces}', '{tmp}/out', '--blur-sigma', '5', '1'], "option 'blur_sigma' must be [low, high]"),
    (['{faces}', '{tmp}/out', '--gray-prob', '2'], "expected a probability in [0, 1] or 'none'"),
    (['{faces}', '{tmp}/out', '--rebuild', '{tmp}/x.json', '--seed', '1'], 'drop --seed.'),
    (['{faces}', '{tmp}/out', '--rebuild', '{tmp}/absent.json'], "--rebuild: '{tmp}/absent.json' does not exist."),
    (['{faces}', '{tmp}/file/out'], "--output: cannot write to '{tmp}/file/out': '{tmp}/file' is a file"),
    (['{faces}', '{tmp}/out', '--noise', '1', '2', '--no-noise'], '--noise and --no-noise contradict each other'),
    (['{faces}', '{tmp}/out', '--opt', '{tmp}/absent.yml'], "--opt: '{tmp}/absent.yml' does not exist."),
])
def test_user_mistakes_exit_2_with_one_sentence(faces, tmp_path, capsys, args, message):
    (tmp_path / 'empty').mkdir()
    (tmp_path / 'file').write_text('x')
    before = sorted(os.listdir(faces))
    try:
        code = make(*(a.format(tmp=tmp_path, faces=faces) for a in args))
    except SystemExit as err:  # argparse's own refusals
        code = err.code
    assert code == 2
    error = capsys.readouterr().err
    assert message.format(tmp=tmp_path, faces=faces) in error and 'Traceback' not in error
    assert 'error: ' in error.strip().splitlines()[-1] or error.startswith('error: ')
    assert sorted(os.listdir(faces)) == before and not (tmp_path / 'out').exists()


def test_every_problem_is_reported_at_once_and_nothing_is_written(faces, tmp_path, capsys):
    out = tmp_path / 'out'
    assert make(tmp_path / 'absent', out, '--seed', -1, '--opt', tmp_path / 'absent.yml') == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0] == 'error: 3 problems; nothing was started:' and 'Traceback' not in err
    for text in ('--seed must be a non-negative integer', "--opt: '", '--input: The image folder'):
        assert sum(text in line for line in lines[1:]) == 1, (text, err)
    assert not out.exists()


def test_debug_shows_the_traceback(faces, tmp_path, capsys):
    assert make(tmp_path / 'absent', tmp_path / 'out', '--debug') == 2
    err = capsys.readouterr().err
    assert 'Traceback' in err and err.strip().splitlines()[-1].startswith('error: ')
