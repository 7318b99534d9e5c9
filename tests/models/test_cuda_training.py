"""GFPGANModel training steps on CUDA with options/train_gfpgan_tiny.yml and random data: DistributedDataParallel over
NCCL in one process (world size 1, a file:// store), and mixed precision (``train.mixed_precision`` bf16 / fp16)."""
import copy
import json
import math
import os
import subprocess
import sys

import pytest
import torch
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tests'))  # when run as a script (the DDP step's own process)

from cudautil import CUDA_TESTS, DEVICE  # noqa: E402
from refdata import train_step_batch  # noqa: E402

pytestmark = CUDA_TESTS

TINY = os.path.join(ROOT, 'options', 'train_gfpgan_tiny.yml')
BOXES_512 = {'left_eye': [170, 210, 230, 270], 'right_eye': [290, 210, 350, 270], 'mouth': [196, 320, 316, 420]}
TRAINED = ('net_g', 'net_d', 'left_eye', 'right_eye', 'mouth')


def tiny_options(folder, **changes):
    """options/train_gfpgan_tiny.yml for GFPGANModel on DEVICE, checkpoints under ``folder``."""
    with open(TINY) as f:
        opt = yaml.safe_load(f)
    opt.update(is_train=True, num_gpu=1 if DEVICE == 'cuda' else 0, dist=False, rank=0, world_size=1)
    opt['path'] = {'models': os.path.join(folder, 'models'), 'training_states': os.path.join(folder, 'states')}
    opt.update(changes)
    return opt


def _trained_networks(model):
    from gfpgan.models.base_model import bare
    nets = {'net_g': bare(model.net_g), 'net_d': bare(model.net_d)}
    nets.update({part: bare(net) for part, net in model.net_d_components.items()})
    return nets


def train_steps(model, iters=(1, 16)):
    """Run ``iters`` (16: a lazy-R1 iteration) on random batches; {'losses', 'finite', 'changed'} where changed
    names the trained networks whose floating-point weights moved."""
    nets = _trained_networks(model)
    before = {name: copy.deepcopy(net.state_dict()) for name, net in nets.items()}
    losses = {}
    for i, it in enumerate(iters):
        model.feed_data(train_step_batch(i, 64, BOXES_512, batch=2))
        model.optimize_parameters(current_iter=it)
        losses.update({f'{k}@{it}': float(v) for k, v in model.get_current_log().items()})
    changed = [
        name for name, net in nets.items()
        if any(v.dtype.is_floating_point and not torch.equal(before[name][k], v) for k, v in net.state_dict().items())
    ]
    return {'losses': losses, 'finite': all(math.isfinite(v) for v in losses.values()), 'changed': changed}


def ddp_training_step(folder):
    """In a process of its own: join a one-process group (NCCL on CUDA, gloo on the CPU) through a file:// store,
    train the tiny GFPGANModel two iterations under DistributedDataParallel, print a JSON report."""
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from gfpgan.models.gfpgan_model import GFPGANModel
    backend = 'nccl' if DEVICE == 'cuda' else 'gloo'
    if DEVICE == 'cuda':
        torch.cuda.set_device(0)
    dist.init_process_group(backend, init_method=f"file://{os.path.join(folder, 'store')}", rank=0, world_size=1)
    try:
        torch.manual_seed(0)
        model = GFPGANModel(tiny_options(folder, dist=True))
        report = train_steps(model)
        wrapped = all(isinstance(net, DistributedDataParallel) for net in (model.net_g, model.net_d))
        report.update(backend=dist.get_backend(), wrapped=wrapped, device=str(next(model.net_g.parameters()).device))
    finally:
        dist.destroy_process_group()
    print('REPORT ' + json.dumps(report))


def test_ddp_training_step_on_nccl(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([ROOT, os.path.join(ROOT, 'tests'), os.environ.get(
        'PYTHONPATH', '')]), GFPGAN_CUDA_TESTS_DEVICE=DEVICE)
    proc = subprocess.run([sys.executable, os.path.abspath(__file__), 'ddp', str(tmp_path)],
                          capture_output=True,
                          text=True,
                          timeout=240,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.split('REPORT ', 1)[1])
    assert report['backend'] == ('nccl' if DEVICE == 'cuda' else 'gloo')
    assert report['wrapped'] and report['device'].startswith(DEVICE)
    assert report['finite'], report['losses']
    assert 'l_d_r1@16' in report['losses'] and 'l_g_gan_mouth@1' in report['losses']
    assert sorted(report['changed']) == sorted(TRAINED)


def _mixed_precision_known():
    from gfpgan.config.schema import SCHEMA
    return 'mixed_precision' in SCHEMA.fields['train'].fields


@pytest.mark.parametrize('precision,dtype', [('bf16', torch.bfloat16), ('fp16', torch.float16)])
def test_mixed_precision_training_step(tmp_path, precision, dtype):
    if not _mixed_precision_known():
        pytest.skip('train.mixed_precision is not an option yet (gfpgan.options.SCHEMA does not know it)')
    if DEVICE != 'cuda' and dtype is torch.float16:
        pytest.skip('float16 training needs CUDA')
    from gfpgan.models.gfpgan_model import GFPGANModel
    torch.manual_seed(0)
    opt = tiny_options(tmp_path)
    opt['train']['mixed_precision'] = precision
    model = GFPGANModel(opt)
    seen = set()  # dtypes of the generator's module outputs: mixed precision must reach its layers
    hooks = [
        m.register_forward_hook(lambda mod, args, out: seen.add(out.dtype) if torch.is_tensor(out) else None)
        for m in _trained_networks(model)['net_g'].modules()
    ]
    # fp16: a gradient scaler starts at 2**16 and skips the steps whose gradients overflow while it finds its scale
    report = train_steps(model, iters=(1, 16) if precision == 'bf16' else (1, 2, 3, 4, 5, 6, 16))
    for hook in hooks:
        hook.remove()
    assert dtype in seen, f'no layer of net_g computed in {dtype} (saw {sorted(map(str, seen))})'
    assert report['finite'], report['losses']
    assert sorted(report['changed']) == sorted(TRAINED)
    assert all(p.dtype == torch.float32 for p in model.net_g_ema.parameters())  # master weights stay float32
    for net in _trained_networks(model).values():
        assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in net.parameters())


if __name__ == '__main__':
    if sys.argv[1:2] == ['ddp']:
        ddp_training_step(sys.argv[2])
