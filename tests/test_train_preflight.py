"""train.py fails early and in one sentence: typical configuration mistakes, each alone and several together, end
with exit code 2 and ``error:`` lines naming the option and the YAML file, before any network is built and without
creating experiments/<name>; a fresh checkout without data or weights learns everything it lacks in one run."""
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import yaml
from skimage import data as skdata

from gfpgan.data.components import save_component_boxes
from gfpgan.config.loading import apply_overrides, read_yaml
from gfpgan.train import main

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'options', 'train_gfpgan_tiny.yml')
OFFICIAL = os.path.join(ROOT, 'options', 'train_gfpgan_v1.yml')


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """Four 64x64 faces and their component boxes."""
    root = tmp_path_factory.mktemp('faces')
    (root / 'train').mkdir()
    img = cv2.resize(skdata.astronaut()[:, :, ::-1], (64, 64), interpolation=cv2.INTER_AREA)
    for i in range(4):
        cv2.imwrite(str(root / 'train' / f'{i:03d}.png'), np.roll(img, 3 * i, axis=1))
    box = {'left_eye': [200., 240., 20.], 'right_eye': [310., 240., 20.], 'mouth': [256., 370., 40.]}
    save_component_boxes({f'{i:08d}': box for i in range(4)}, root / 'components.pth')
    return root


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv('GFPGAN_DEBUG', raising=False)
    return tmp_path


def base(faces):
    return [
        f'datasets:train:dataroot_gt={faces / "train"}', f'datasets:train:component_path={faces / "components.pth"}',
        'datasets:train:batch_size_per_gpu=2', 'num_gpu=0', 'train:total_iter=1'
    ]


def train(workdir, capsys, opt, *extra):
    """(exit code, stderr lines) of train.py's main run in-process in `workdir`."""
    code = main(root_path=str(workdir), argv=['-opt', opt, *extra])
    return code, capsys.readouterr().err.splitlines()


def assert_failed_early(code, lines, workdir):
    assert code == 2, lines
    assert lines and lines[0].startswith('error: '), lines
    assert not any('Traceback' in line for line in lines), lines
    assert all(line.startswith(('error: ', '  - ')) for line in lines), lines
    assert not {'experiments', 'tb_logger'} & set(os.listdir(workdir))


MISTAKES = [
    # (a --force_yml entry, what the message must say)
    ('network_g:type=GFPGANv1Clen', "`network_g.type` in {opt} names 'GFPGANv1Clen', which is not a registered arch "
     "type (did you mean 'GFPGANv1Clean'?)"),
    ('model_type=GFPGANModle', "(did you mean 'GFPGANModel'?)"),
    ('train:optim_g:type=Adan', "`train.optim_g.type` in {opt} names 'Adan', which is not a registered optimizer"),
    ('train:scheduler:type=MultiStepLRR', "(did you mean 'MultiStepLR'?)"),
    ('train:pixel_opt:type=L1loss', "(did you mean 'L1Loss'?)"),
    ('datasets:train:type=FFHQDegradationDatset', "(did you mean 'FFHQDegradationDataset'?)"),
    ('datasets:train:io_backend:type=lmbd', "(did you mean 'lmdb'?)"),
    ('val:val_freq=1 + val:metrics:psnr:type=calculate_psnrr', "(did you mean 'calculate_psnr'?)"),
    ('network_d:chanel_multiplier=1', "`network_d.chanel_multiplier` in {opt} is not an option of "
     "StyleGAN2Discriminator (did you mean 'channel_multiplier'?)"),
    ('datasets:train:batch_size_per_gpu=0', '`datasets.train.batch_size_per_gpu` in {opt} must be an integer >= 1'),
    ('datasets:train:batch_size_per_gpu=100', 'has 4 images, fewer than one batch of 100 per GPU x 1 processes'),
    ('network_g:out_size=60 + datasets:train:out_size=60', '`network_g` in {opt} cannot build GFPGANv1 with these '
     'options: out_size must be a power of two between 8 and 1024, got 60'),
    ('datasets:train:out_size=128', '`datasets.train.out_size` 128, `network_g.out_size` 64, `network_d.out_size` 64 '
     'in {opt} must be equal'),
    ('datasets:train:blur_sigma=[10, 0.1]', "`datasets.train` of {opt}: FFHQDegradationDataset option 'blur_sigma' "
     'must be [low, high]'),
    ('datasets:train:dataroot_gt=/no/such/faces', "`datasets.train.dataroot_gt` in {opt} names '/no/such/faces', "
     'which does not exist'),
    ('path:pretrain_network_g=/no/such/net_g.pth', '`path.pretrain_network_g`'),
    ('train:total_iter=0', '`train.total_iter` in {opt} must be an integer >= 1, got 0'),
    ('train:ema_decay=1.5', '`train.ema_decay` in {opt} must be a number in [0, 1], got 1.5'),
    ('train:mixed_precision=fp8', "`train.mixed_precision` in {opt} must be one of 'none', 'bf16', 'fp16'"),
    ('logger:print_freq=often', "`logger.print_freq` in {opt} must be an integer >= 1, got 'often'"),
    ('dist_params:backend=ncl', "`dist_params.backend` in {opt} must be one of 'nccl', 'gloo'"),
    ('num_gpu=-1', "`num_gpu` in {opt} must be an integer >= 0 or one of 'auto', got -1"),
    ('trian:total_iter=1', "`trian` in {opt} is not a known option (did you mean `train`?)"),
    ('network_g=~', '`network_g` in {opt} must be a mapping with a `type`, got ~ (empty)'),
]


def with_mistakes(workdir, faces, *entries):
    """The tiny options file pointed at `faces`, with `entries` (--force_yml syntax) written into it, as a user
    would edit it."""
    opt = read_yaml(TINY)
    apply_overrides(opt, base(faces) + list(entries))
    path = workdir / 'opts.yml'
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return str(path)


@pytest.mark.parametrize('entry, words', MISTAKES, ids=[entry for entry, _ in MISTAKES])
def test_a_mistake_is_one_error_line_before_anything_is_built(faces, workdir, capsys, entry, words):
    path = with_mistakes(workdir, faces, *entry.split(' + '))
    code, lines = train(workdir, capsys, path)
    assert_failed_early(code, lines, workdir)
    assert len(lines) == 1 and words.format(opt=path) in lines[0], lines


def test_a_missing_network_section_is_named(faces, workdir, capsys):
    path = with_mistakes(workdir, faces)
    opt = read_yaml(path)
    del opt['network_g']
    (workdir / 'opts.yml').write_text(yaml.safe_dump(opt, sort_keys=False))
    code, lines = train(workdir, capsys, path)
    assert_failed_early(code, lines, workdir)
    assert lines == [f'error: Option `network_g` in {path} is required but missing.']


def test_several_mistakes_are_reported_together(faces, workdir, capsys):
    path = with_mistakes(workdir, faces, 'network_g:type=GFPGANv1Clen', 'train:optim_g:type=Adan',
                         'datasets:train:io_backend:type=lmbd', 'train:total_iter=0', 'trian:x=1')
    code, lines = train(workdir, capsys, path)
    assert_failed_early(code, lines, workdir)
    assert lines[0] == f'error: 5 problems in {path}; nothing was started:'
    for key in ('trian', 'datasets.train.io_backend.type', 'network_g.type', 'train.optim_g.type', 'train.total_iter'):
        assert sum(f'`{key}`' in line for line in lines[1:]) == 1, (key, lines)


def test_the_traceback_is_shown_on_request(faces, workdir, capsys, monkeypatch):
    path = with_mistakes(workdir, faces, 'train:optim_g:type=Adan')
    code, lines = train(workdir, capsys, path, '--debug')
    assert code == 2 and any('Traceback' in line for line in lines) and lines[-1].startswith('error: ')
    monkeypatch.setenv('GFPGAN_DEBUG', '1')
    code, lines = train(workdir, capsys, path)
    assert code == 2 and any('Traceback' in line for line in lines)


def test_a_fresh_checkout_learns_everything_it_lacks_in_one_run(tmp_path):
    """The official options without data or weights: every missing path and one download command, no folder."""
    env = dict(os.environ, GFPGAN_CACHE=str(tmp_path / 'cache'), TORCH_HOME=str(tmp_path / 'torch'))
    env.pop('GFPGAN_DEBUG', None)
    started = time.time()
    proc = subprocess.run([sys.executable, os.path.join(ROOT, 'tests', 'train_in_cwd.py'), '-opt', OFFICIAL],
                          cwd=tmp_path,
                          capture_output=True,
                          text=True,
                          timeout=300,
                          env=env)
    print(f'fresh-checkout preflight: {time.time() - started:.1f} s')  # README's number (make test -s shows it)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and lines[0] == f'error: 4 problems in {OFFICIAL}; nothing was started:', lines
    for key in ('datasets.train.dataroot_gt', 'datasets.val.dataroot_lq', 'datasets.val.dataroot_gt'):
        assert any(f'`{key}`' in line and 'does not exist' in line for line in lines), lines
    command = ('`python scripts/download_pretrained.py --files FFHQ_eye_mouth_landmarks_512.pth '
               'StyleGAN2_512_Cmul1_FFHQ_B12G4_scratch_800k.pth arcface_resnet18.pth vgg19-dcbb9e9d.pth`')
    assert command in lines[-1], lines
    assert os.listdir(tmp_path) == []  # no experiments/, tb_logger/, cache
