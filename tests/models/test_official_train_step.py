"""Three training iterations of GFPGANModel reproduce the losses the official GFPGANModel logs for the same
64x64 configuration, initial weights, batches and noise (tests/data/make_official_train_step.py): every loss of
the generator, the global and the three component discriminators, the R1 step, perceptual + style and identity."""
import json

import torch
from refdata import TRAIN_STEP_REFERENCE, set_parameters_from_recipe, train_step_batch

from gfpgan.models.gfpgan_model import GFPGANModel

RTOL, ATOL = 2e-4, 1e-6  # float32 rounding grows over three Adam steps; observed worst 1.4e-4 (5e-8 abs, l_identity)


def test_three_iterations_match_the_official_losses():
    with open(TRAIN_STEP_REFERENCE) as f:
        ref = json.load(f)
    opt = ref['options']
    opt['train']['perceptual_opt']['pretrained'] = False  # the recipe sets the VGG weights below
    size = opt['network_g']['out_size']
    torch.manual_seed(0)
    model = GFPGANModel(opt)
    assert (model.eye_size, model.mouth_size) == (10, 15)
    set_parameters_from_recipe(model.network_identity, *ref['recipes']['network_identity'])
    set_parameters_from_recipe(model.cri_perceptual.vgg, *ref['recipes']['vgg'])
    for (iteration, seed), expected in zip(ref['iterations'], ref['logs']):
        model.feed_data(train_step_batch(seed, size, ref['boxes_512']))
        torch.manual_seed(100 + iteration)
        model.optimize_parameters(iteration)
        log = model.get_current_log()
        assert set(log) == set(expected), iteration
        for name, value in expected.items():
            assert abs(log[name] - value) <= RTOL * abs(value) + ATOL, (iteration, name, log[name], value)
