"""Regenerate tests/data/official_training/gfpgan_train_step.json: the losses the official GFPGANModel logs
over three training iterations of a 64x64 configuration, which tests/models/test_official_train_step.py reproduces.

Run it in the official code's environment (gfpgan 1.3.8, basicsr 1.4.2), never in the project's own:
``python tests/data/make_official_train_step.py``. Patches (tests/data/official_env.py): BasicSR's fused activation
gets its CPU formula, Adam gets float betas, torchvision's VGG19 is built without weights, and the eye / mouth crops
use the project's sizes at 64 (10 and 15 pixels; the original's int(out_size / 512) makes them empty below 512).
The networks start from the official initialisation under torch.manual_seed(0), except the ArcFace and VGG
parameters, which are set from deterministic recipes (tests/refdata.py) since pretrained weights are not available.
"""
import json
import os
import sys

import torch
import torchvision

import basicsr.archs.stylegan2_arch as basicsr_stylegan2
import basicsr.archs.vgg_arch as basicsr_vgg
import basicsr.ops.fused_act.fused_act as basicsr_fused_act

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from official_env import patch_adam_betas, patch_fused_act  # noqa: E402
from refdata import TRAIN_STEP_REFERENCE, set_parameters_from_recipe, train_step_batch  # noqa: E402

patch_fused_act(basicsr_fused_act, basicsr_stylegan2)
patch_adam_betas()
_vgg19 = torchvision.models.vgg19
basicsr_vgg.vgg.vgg19 = lambda pretrained=False, **kwargs: _vgg19(weights=None)
from gfpgan.models.gfpgan_model import GFPGANModel  # noqa: E402

SIZE = 64
EYE, MOUTH = 10, 15
ITERATIONS = [[16, 1], [17, 2], [18, 3]]  # (iteration, batch seed); torch.manual_seed(100 + iteration) before each
RECIPES = {'network_identity': [7001, 0.25], 'vgg': [7002, 0.0625]}  # seed, half range (exact in float32)
BOXES_512 = {'left_eye': [170, 210, 230, 270], 'right_eye': [290, 210, 350, 270], 'mouth': [196, 320, 316, 420]}

OPTIONS = {
    'num_gpu': 0,
    'is_train': True,
    'dist': False,
    'rank': 0,
    'world_size': 1,
    'network_g': {
        'type': 'GFPGANv1Clean',
        'out_size': SIZE,
        'num_style_feat': 32,
        'channel_multiplier': 1,
        'narrow': 0.125,
        'fix_decoder': False,
        'num_mlp': 2,
        'input_is_latent': True,
        'different_w': True,
        'sft_half': True
    },
    'network_d': {
        'type': 'StyleGAN2Discriminator',
        'out_size': SIZE,
        'channel_multiplier': 1,
        'narrow': 0.125
    },
    'network_d_left_eye': {
        'type': 'FacialComponentDiscriminator'
    },
    'network_d_right_eye': {
        'type': 'FacialComponentDiscriminator'
    },
    'network_d_mouth': {
        'type': 'FacialComponentDiscriminator'
    },
    'network_identity': {
        'type': 'ResNetArcFace',
        'block': 'IRBlock',
        'layers': [1, 1, 1, 1],
        'use_se': False
    },
    'path': {},
    'train': {
        'optim_g': {
            'type': 'Adam',
            'lr': 2e-3
        },
        'optim_d': {
            'type': 'Adam',
            'lr': 2e-3
        },
        'optim_component': {
            'type': 'Adam',
            'lr': 2e-3
        },
        'scheduler': {
            'type': 'MultiStepLR',
            'milestones': [600000, 700000],
            'gamma': 0.5
        },
        'pixel_opt': {
            'type': 'L1Loss',
            'loss_weight': 0.1,
            'reduction': 'mean'
        },
        'L1_opt': {
            'type': 'L1Loss',
            'loss_weight': 1,
            'reduction': 'mean'
        },
        'pyramid_loss_weight': 1,
        'remove_pyramid_loss': 50000,
        'perceptual_opt': {
            'type': 'PerceptualLoss',
            'layer_weights': {
                'conv1_2': 0.1,
                'conv2_2': 0.1,
                'conv3_4': 1,
                'conv4_4': 1,
                'conv5_4': 1
            },
            'vgg_type': 'vgg19',
            'use_input_norm': True,
            'perceptual_weight': 1.0,
            'style_weight': 50,
            'range_norm': True,
            'criterion': 'l1'
        },
        'gan_opt': {
            'type': 'GANLoss',
            'gan_type': 'wgan_softplus',
            'loss_weight': 0.1
        },
        'r1_reg_weight': 10,
        'gan_component_opt': {
            'type': 'GANLoss',
            'gan_type': 'vanilla',
            'real_label_val': 1.0,
            'fake_label_val': 0.0,
            'loss_weight': 1.0
        },
        'comp_style_weight': 200,
        'identity_weight': 10,
        'net_d_iters': 1,
        'net_d_init_iters': 0,
        'net_d_reg_every': 16,
    },
}


def main():
    original_roi = GFPGANModel.get_roi_regions

    def roi_regions(self, eye_out_size=80, mouth_out_size=120):
        self.opt['network_g']['out_size'] = 512  # face_ratio 1: sizes as given, values unscaled
        original_roi(self, EYE, MOUTH)
        self.opt['network_g']['out_size'] = SIZE

    GFPGANModel.get_roi_regions = roi_regions
    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = GFPGANModel(json.loads(json.dumps(OPTIONS)))
    set_parameters_from_recipe(model.network_identity, *RECIPES['network_identity'])
    set_parameters_from_recipe(model.cri_perceptual.vgg, *RECIPES['vgg'])
    logs = []
    for iteration, seed in ITERATIONS:
        model.feed_data(train_step_batch(seed, SIZE, BOXES_512))
        torch.manual_seed(100 + iteration)
        model.optimize_parameters(iteration)
        logs.append(dict(model.log_dict))
    out = {
        'options':
        OPTIONS,
        'iterations':
        ITERATIONS,
        'recipes':
        RECIPES,
        'boxes_512':
        BOXES_512,
        'logs':
        logs,
        'generated_by':
        'official gfpgan 1.3.8 / basicsr 1.4.2 GFPGANModel (patches: see the script), torch '
        f'{torch.__version__}, CPU float32'
    }
    with open(TRAIN_STEP_REFERENCE, 'w') as f:
        json.dump(out, f, indent=1)
    print(logs[-1])


if __name__ == '__main__':
    main()
