"""Three training iterations of GFPGANModel reproduce the losses the official GFPGANModel logs for the same
64x64 configuration, initial weights, batches and noise (tests/data/make_official_train_step.py): every loss of
the generator, the global and the three component discriminators, the R1 step, perceptual + style and identity."""
import json
import os

import torch
from refdata import det_values

from gfpgan.models.gfpgan_model import GFPGANModel

REFERENCE = os.path.join(
    os.path.dirname(os.path.dirname(__file__)), 'data', 'official_training', 'gfpgan_train_step.json')
RTOL, ATOL = 2e-4, 1e-6  # float32 rounding grows over three Adam steps; observed worst 1.4e-4 (5e-8 abs, l_identity)


def set_parameters(net, seed, half_range):
    with torch.no_grad():
        for k, p in enumerate(net.parameters()):
            p.copy_(torch.from_numpy(det_values(seed, k, tuple(p.shape), -half_range, half_range, 'float32', 24)))


def make_batch(seed, size, boxes_512):
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(2, 3, size, size, generator=g) * 2 - 1
    lq = (gt + 0.3 * torch.randn(2, 3, size, size, generator=g)).clamp(-1, 1)
    data = {'lq': lq, 'gt': gt}
    for part, box in boxes_512.items():
        data[f'loc_{part}'] = torch.tensor([box] * 2, dtype=torch.float32) * size / 512
    return data


def test_three_iterations_match_the_official_losses():
    with open(REFERENCE) as f:
        ref = json.load(f)
    opt = ref['options']
    opt['train']['perceptual_opt']['pretrained'] = False  # the recipe sets the VGG weights below
    size = opt['network_g']['out_size']
    torch.manual_seed(0)
    model = GFPGANModel(opt)
    assert (model.eye_size, model.mouth_size) == (10, 15)
    set_parameters(model.network_identity, *ref['recipes']['network_identity'])
    set_parameters(model.cri_perceptual.vgg, *ref['recipes']['vgg'])
    for (iteration, seed), expected in zip(ref['iterations'], ref['logs']):
        model.feed_data(make_batch(seed, size, ref['boxes_512']))
        torch.manual_seed(100 + iteration)
        model.optimize_parameters(iteration)
        log = model.get_current_log()
        assert set(log) == set(expected), iteration
        for name, value in expected.items():
            assert abs(log[name] - value) <= RTOL * abs(value) + ATOL, (iteration, name, log[name], value)
