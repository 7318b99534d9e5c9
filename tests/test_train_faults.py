"""train.py attacked with faults, on the CPU with 2 gloo processes: a NaN gradient with a finite loss on one rank is
skipped by every rank and counted; SIGTERM to one rank + --auto_resume ends bit-identical to the uninterrupted run,
the skip counts included, and the temporary file of an interrupted write removed; resuming with another number of
processes is refused in one line."""
import json
import os
import signal
import subprocess
import sys
import time

import torch

from test_train import TINY, assert_identical, faces, overrides, run, state_dicts  # noqa: F401 (faces: a fixture)

from gfpgan.utils.checkpoint import load_checkpoint_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, 'tests', 'train_faults_in_cwd.py')
NAN_GRAD = {'GFPGAN_TEST_NAN_GRAD': '1:2', 'OMP_NUM_THREADS': '1'}  # rank 1, iteration 2


def launch(port, args):
    return [
        '-m', 'torch.distributed.launch', '--nproc_per_node=2', f'--master_port={port}', TRAIN, '-opt', TINY,
        '--launcher', 'pytorch', *args
    ]


def log_text(exp):
    return ''.join((exp / p).read_text() for p in sorted(os.listdir(exp)) if p.endswith('.log'))


def max_difference(a, b):
    return max(float((x[k].float() - y[k].float()).abs().max()) for x, y in zip(a, b) for k in x)


def test_two_processes_skip_a_nan_gradient_and_resume_bit_identical_after_sigterm(faces, tmp_path):  # noqa: F811
    args = ['--force_yml', *overrides(faces, 'train:total_iter=8', 'logger:save_checkpoint_freq=2',
                                      'deterministic=true')]
    straight, resumed = tmp_path / 'straight', tmp_path / 'resumed'
    straight.mkdir()
    resumed.mkdir()
    proc = run(launch(29581, args), straight, env=NAN_GRAD)
    assert proc.returncode == 0, proc.stderr[-4000:]
    exp = straight / 'experiments' / 'train_gfpgan_tiny'
    dumps = [json.loads((straight / f'weights_rank{r}.json').read_text()) for r in range(2)]
    assert dumps[0]['sha256'] == dumps[1]['sha256']  # both ranks skipped the same step
    log = log_text(exp)
    assert 'Iteration 2: skipped the optimizer step of g: gradient not finite' in log
    assert 'skipped_steps: 1.0000e+00' in log  # the periodic line (and TensorBoard scalar)
    assert '1 iterations skipped an optimizer step (g: gradient not finite x 1).' in log
    weights = state_dicts(exp, 8)
    assert all(torch.isfinite(t).all() for sd in weights for t in sd.values())
    counts = load_checkpoint_file(exp / 'training_states' / '8.state')['nonfinite_steps']
    assert counts == {'skipped': 1, 'overflowed': 0, 'streak': 0, 'causes': {'g: gradient not finite': 1}}

    # the same run, stopped by SIGTERM to rank 1 alone after the checkpoint of iteration 2, then resumed
    states = resumed / 'experiments' / 'train_gfpgan_tiny' / 'training_states'
    child = subprocess.Popen([sys.executable, *launch(29582, args)],
                             cwd=resumed,
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL,
                             env=dict(os.environ, **NAN_GRAD))
    deadline = time.time() + 300
    while not (states / '2.state').exists() and time.time() < deadline and child.poll() is None:
        time.sleep(0.02)
    os.kill(int((resumed / 'pid_rank1').read_text()), signal.SIGTERM)
    assert child.wait(timeout=300) == 0  # both ranks saved and left cleanly
    saved = sorted(int(p.split('.')[0]) for p in os.listdir(states))
    assert 2 <= saved[-1] < 8, saved  # stopped early, at the same iteration on both ranks
    state = load_checkpoint_file(states / f'{saved[-1]}.state')
    assert len(state['rng_ranks']) == 2 and state['nonfinite_steps']['skipped'] == 1
    assert not torch.equal(state['rng_ranks'][0]['torch'], state['rng_ranks'][1]['torch'])  # each rank its own

    resumed_exp = resumed / 'experiments' / 'train_gfpgan_tiny'
    leftover = resumed_exp / 'models' / '.net_g_9.pth.0123abcd.tmp'  # as a kill -9 during a write leaves it
    leftover.write_bytes(b'\0' * 1000)
    os.utime(leftover, (time.time() - 60, time.time() - 60))
    (resumed_exp / 'models' / 'notes.tmp').write_text('not ours')
    proc = run(launch(29583, ['--auto_resume', *args]), resumed, env=NAN_GRAD)
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = log_text(resumed_exp)
    assert f'Resuming from epoch {state["epoch"]}, iteration {saved[-1]}' in log
    assert 'Removed 1 temporary file of interrupted checkpoint writes (1,000 bytes).' in log
    assert not leftover.exists() and (resumed_exp / 'models' / 'notes.tmp').exists()
    resumed_weights = state_dicts(resumed_exp, 8)
    assert max_difference(weights, resumed_weights) == 0
    assert_identical(weights, resumed_weights)
    assert load_checkpoint_file(resumed_exp / 'training_states' / '8.state')['nonfinite_steps'] == counts

    # one process cannot resume what two saved: one line, exit code 2
    proc = run([TRAIN, '-opt', TINY, '--auto_resume', *args[:-1], 'train:total_iter=10'], resumed)
    assert proc.returncode == 2, proc.stderr[-3000:]
    line = proc.stderr.strip().splitlines()[-1]
    assert '8.state' in line and '2 processes' in line and 'this run has 1' in line, line
