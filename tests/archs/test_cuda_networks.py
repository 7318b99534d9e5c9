"""Every network of the reference vectors and of the official outputs on CUDA, against the same network on the CPU in
float64 with the same weights and inputs: float32 (TF32 off) to 1e-4 and bfloat16 autocast to a loose tolerance."""
import copy
import functools
import os
import tempfile

import pytest
import torch

from cudautil import CUDA_TESTS, DEVICE, ieee_float32, relative_errors
from gfpgan.registry import ARCH_REGISTRY
from refdata import (OFFICIAL_OUTPUTS_DIR, flatten_outputs, load_vector, run_official_output, run_reference_vector,
                     state_dict_from_recipe, vector_names)

pytestmark = CUDA_TESTS

FLOAT32_TOL = 1e-4  # max|cuda float32 - cpu float64| <= FLOAT32_TOL * max|ref|
# bfloat16 keeps 8 significant bits (0.4% per rounding); measured with CPU autocast on these networks: max 4.2%,
# mean 1.5% (a single-value discriminator output), under 1% elsewhere
BF16_MAX_TOL, BF16_MEAN_TOL = 0.1, 0.03
# drawn from the device's random generator, which differs between the CPU and CUDA
DEVICE_RANDOM = {'image_randomize_noise_seed1234'}

CASES = [('reference', n) for n in vector_names()] + [('official', n) for n in vector_names(OFFICIAL_OUTPUTS_DIR)]


def _run(kind, name, net, inputs):
    if name.startswith('vgg'):
        outputs = net(inputs['input'])  # {layer name: features}
    else:
        outputs = (run_reference_vector if kind == 'reference' else run_official_output)(name, net, inputs)
    return {k: v for k, v in flatten_outputs(outputs).items() if k not in DEVICE_RANDOM}


@functools.lru_cache(maxsize=None)
def _case(kind, name):
    """(float32 CPU network, float32 CPU inputs, {output: CPU float64 reference}) of one vector."""
    desc, inputs, _ = load_vector(name, OFFICIAL_OUTPUTS_DIR) if kind == 'official' else load_vector(name)
    cls = ARCH_REGISTRY.get(desc['official_class'].rsplit('.', 1)[-1])
    state_dict = state_dict_from_recipe(desc['weights_recipe'])
    if name.startswith('vgg'):  # built from a torchvision-format weight file, as users have
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, 'vgg19.pth')
            torch.save(state_dict, path)
            net = cls(**desc['kwargs'], pretrained=path).eval()
    else:
        net = cls(**desc['kwargs']).eval()
        net.load_state_dict(state_dict, strict=True)
    with torch.no_grad():
        reference = _run(kind, name, copy.deepcopy(net).double(), {k: v.double() for k, v in inputs.items()})
    return net, inputs, reference


def _on_device(kind, name):
    net, inputs, reference = _case(kind, name)
    return copy.deepcopy(net).to(DEVICE), {k: v.to(DEVICE) for k, v in inputs.items()}, reference


@pytest.mark.parametrize('kind,name', CASES)
def test_float32_on_cuda_matches_cpu_float64(kind, name):
    net, inputs, reference = _on_device(kind, name)
    with torch.no_grad(), ieee_float32():
        got = _run(kind, name, net, inputs)
    assert set(got) == set(reference)
    for key, ref in reference.items():
        if not ref.is_floating_point():  # RestoreFormer's code indices: exact (the nearest codes have no near-ties)
            assert torch.equal(got[key].cpu(), ref), f'{name} {key}'
            continue
        assert got[key].device.type == DEVICE and got[key].dtype == torch.float32, key
        err, _ = relative_errors(got[key], ref)
        assert err <= FLOAT32_TOL, f'{name} {key}: max|cuda - cpu float64| = {err:.3g} x max|ref|'


@pytest.mark.parametrize('kind,name', CASES)
def test_bfloat16_autocast_on_cuda_stays_close_to_cpu_float64(kind, name):
    net, inputs, reference = _on_device(kind, name)
    with torch.no_grad(), torch.autocast(DEVICE, dtype=torch.bfloat16):
        got = _run(kind, name, net, inputs)
    with torch.no_grad(), ieee_float32():
        full = _run(kind, name, net, inputs)
    assert any(not torch.equal(got[k].float(), full[k]) for k in got)  # autocast did change the arithmetic
    for key, ref in reference.items():
        assert torch.isfinite(got[key]).all(), key
        if name.startswith('restoreformer') and not key.startswith(('hs_', 'z')):
            continue  # bfloat16 distances may pick another of two close codes: only the encoder side is compared
        err, mean = relative_errors(got[key], ref)
        assert err <= BF16_MAX_TOL and mean <= BF16_MEAN_TOL, (
            f'{name} {key}: bfloat16 max error {err:.3g}, mean {mean:.3g} x max|ref| '
            f'(allowed {BF16_MAX_TOL}, {BF16_MEAN_TOL})')
