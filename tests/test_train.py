"""train.py end to end on the CPU: a short run, the official distributed launch command with gloo (ranks end
identical), SIGKILL + --auto_resume ending bit-identical to an uninterrupted run, SIGTERM saving, bad YAML."""
import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan.data.components import save_component_boxes
from gfpgan.utils.checkpoint import load_checkpoint_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, 'options', 'train_gfpgan_tiny.yml')
TRAIN = os.path.join(ROOT, 'tests', 'train_in_cwd.py')  # train.py, experiments/ under the working directory


@pytest.fixture(scope='module')
def faces(tmp_path_factory):
    """Eight 64x64 faces and their component boxes."""
    root = tmp_path_factory.mktemp('faces')
    folder = root / 'train'
    folder.mkdir()
    img = cv2.resize(skdata.astronaut()[:, :, ::-1], (64, 64), interpolation=cv2.INTER_AREA)
    for i in range(8):
        cv2.imwrite(str(folder / f'{i:03d}.png'), np.roll(img, 3 * i, axis=1))
    box = {'left_eye': [200., 240., 20.], 'right_eye': [310., 240., 20.], 'mouth': [256., 370., 40.]}
    save_component_boxes({f'{i:08d}': box for i in range(8)}, root / 'components.pth')
    return root


def overrides(faces, *extra):
    """--force_yml entries making the tiny config smaller still (seconds per run) and pointing it at ``faces``."""
    return [
        f'datasets:train:dataroot_gt={faces / "train"}', f'datasets:train:component_path={faces / "components.pth"}',
        'datasets:train:batch_size_per_gpu=2', 'network_g:narrow=0.125', 'network_g:num_style_feat=32',
        'network_d:narrow=0.125', 'num_gpu=0', *extra
    ]


def run(args, cwd, timeout=600, env=None):
    return subprocess.run([sys.executable, *args],
                          cwd=cwd,
                          capture_output=True,
                          text=True,
                          timeout=timeout,
                          env=dict(os.environ, **(env or {})))


def state_dicts(folder, label):
    net_g = load_checkpoint_file(folder / 'models' / f'net_g_{label}.pth')
    net_d = load_checkpoint_file(folder / 'models' / f'net_d_{label}.pth')['params']
    return net_g['params'], net_g['params_ema'], net_d


def assert_identical(a, b):
    for sa, sb in zip(a, b):
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), key


def test_a_short_run_writes_the_official_layout(faces, tmp_path):
    proc = run([
        TRAIN, '-opt', TINY, '--force_yml',
        *overrides(faces, 'train:total_iter=4', 'logger:save_checkpoint_freq=2', 'logger:print_freq=2')
    ], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = tmp_path / 'experiments' / 'train_gfpgan_tiny'
    models = sorted(os.listdir(exp / 'models'))
    assert 'net_g_2.pth' in models and 'net_g_4.pth' in models and 'net_g_latest.pth' in models
    assert 'net_d_mouth_4.pth' in models
    assert sorted(os.listdir(exp / 'training_states')) == ['2.state', '4.state']
    state = load_checkpoint_file(exp / 'training_states' / '4.state')
    assert state['iter'] == 4 and len(state['optimizers']) == 5 and 'rng' in state
    assert 'train_gfpgan_tiny.yml' in os.listdir(exp)
    log = next(p for p in os.listdir(exp) if p.endswith('.log'))
    text = (exp / log).read_text()
    assert 'iter:       4' in text and 'l_g_gan_mouth' in text

    again = run([TRAIN, '-opt', TINY, '--force_yml', *overrides(faces, 'train:total_iter=2')], tmp_path)
    assert again.returncode == 0, again.stderr[-3000:]
    archived = [p for p in os.listdir(tmp_path / 'experiments') if p.startswith('train_gfpgan_tiny_archived_')]
    assert len(archived) == 1 and 'net_g_4.pth' in os.listdir(tmp_path / 'experiments' / archived[0] / 'models')


def test_a_bad_option_is_one_line(faces, tmp_path):
    proc = run([TRAIN, '-opt', TINY, '--force_yml', *overrides(faces, 'train:total_iters=4')], tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and 'train.total_iters' in lines[0] and 'train_gfpgan_tiny.yml' in lines[0]


def test_official_distributed_launch_on_cpu_keeps_ranks_identical(faces, tmp_path):
    proc = run([
        '-m', 'torch.distributed.launch', '--nproc_per_node=2', '--master_port=29561', TRAIN, '-opt', TINY,
        '--launcher', 'pytorch', '--force_yml', *overrides(faces, 'train:total_iter=3', 'logger:print_freq=1')
    ],
               tmp_path,
               env={'OMP_NUM_THREADS': '1'})
    assert proc.returncode == 0, proc.stderr[-4000:]
    dumps = [json.loads((tmp_path / f'weights_rank{r}.json').read_text()) for r in range(2)]
    assert dumps[0]['world_size'] == dumps[1]['world_size'] == 2
    assert dumps[0]['iter'] == 3
    assert dumps[0]['sha256'] == dumps[1]['sha256']
    log_dir = tmp_path / 'experiments' / 'train_gfpgan_tiny'
    log = (log_dir / next(p for p in os.listdir(log_dir) if p.endswith('.log'))).read_text()
    assert 'x 2 ranks' in log


def test_sigkill_and_auto_resume_end_bit_identical(faces, tmp_path):
    args = overrides(faces, 'train:total_iter=6', 'logger:save_checkpoint_freq=2', 'deterministic=true')
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    straight.mkdir()
    resumed.mkdir()
    proc = run([TRAIN, '-opt', TINY, '--force_yml', *args], straight)
    assert proc.returncode == 0, proc.stderr[-3000:]

    states = resumed / 'experiments' / 'train_gfpgan_tiny' / 'training_states'
    child = subprocess.Popen([sys.executable, TRAIN, '-opt', TINY, '--force_yml', *args],
                             cwd=resumed,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not (states / '2.state').exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    assert child.wait() == -signal.SIGKILL  # killed mid-run, not finished
    assert not (states / '6.state').exists()

    proc = run([TRAIN, '-opt', TINY, '--auto_resume', '--force_yml', *args], resumed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log_dir = resumed / 'experiments' / 'train_gfpgan_tiny'
    logs = ''.join((log_dir / p).read_text() for p in os.listdir(log_dir) if p.endswith('.log'))
    assert 'Resuming from epoch' in logs
    assert_identical(
        state_dicts(straight / 'experiments' / 'train_gfpgan_tiny', 6),
        state_dicts(resumed / 'experiments' / 'train_gfpgan_tiny', 6))


def test_sigterm_saves_a_checkpoint_and_exits_cleanly(faces, tmp_path):
    args = overrides(faces, 'train:total_iter=1000', 'logger:save_checkpoint_freq=1000')
    child = subprocess.Popen([sys.executable, TRAIN, '-opt', TINY, '--force_yml', *args],
                             cwd=tmp_path,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE,
                             text=True)
    exp = tmp_path / 'experiments' / 'train_gfpgan_tiny'
    deadline = time.time() + 300
    while time.time() < deadline and child.poll() is None:
        logs = [p for p in os.listdir(exp) if p.endswith('.log')] if exp.exists() else []
        if logs and 'Start training' in (exp / logs[0]).read_text():
            break
        time.sleep(0.05)
    time.sleep(1.0)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=300)
    assert child.returncode == 0, err[-3000:]
    states = os.listdir(exp / 'training_states')
    assert len(states) == 1 and 0 < int(states[0].split('.')[0]) < 1000


def test_the_tiny_config_trains_in_bf16_and_resumes_exactly(faces, tmp_path):
    args = overrides(faces, 'train:mixed_precision=bf16', 'logger:save_checkpoint_freq=2', 'logger:print_freq=1',
                     'deterministic=true')
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    straight.mkdir()
    resumed.mkdir()
    proc = run([TRAIN, '-opt', TINY, '--force_yml', *args, 'train:total_iter=4'], straight)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run([TRAIN, '-opt', TINY, '--force_yml', *args, 'train:total_iter=2'], resumed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    proc = run([TRAIN, '-opt', TINY, '--auto_resume', '--force_yml', *args, 'train:total_iter=4'], resumed)
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = straight / 'experiments' / 'train_gfpgan_tiny'
    log = ''.join((exp / p).read_text() for p in os.listdir(exp) if p.endswith('.log'))
    assert "mixed_precision: bf16" in log and 'l_g_gan:' in log and 'skipped_steps' not in log
    weights = state_dicts(exp, 4)
    assert all(torch.isfinite(t).all() for sd in weights for t in sd.values())
    assert_identical(weights, state_dicts(resumed / 'experiments' / 'train_gfpgan_tiny', 4))
