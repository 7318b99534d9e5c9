"""The network sections of the official training config build networks with the official layouts."""
import os

import pytest
import torch
import yaml

from gfpgan.archs import build_network
from refdata import load_manifest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SECTIONS = {
    'network_g': 'gfpganv1_512_cmul1',
    'network_d': 'stylegan2_discriminator_512_cmul1',
    'network_d_left_eye': 'facial_component_discriminator',
    'network_d_right_eye': 'facial_component_discriminator',
    'network_d_mouth': 'facial_component_discriminator',
    'network_identity': 'arcface_resnet18',
}


@pytest.mark.parametrize('section', sorted(SECTIONS))
def test_train_gfpgan_v1_network_sections(section):
    with open(os.path.join(ROOT, 'options', 'train_gfpgan_v1.yml')) as f:
        opt = yaml.safe_load(f)[section]
    if 'decoder_load_path' in opt:  # the StyleGAN2 prior is not shipped; its loading is tested elsewhere
        opt['decoder_load_path'] = None
    with torch.device('meta'):
        net = build_network(opt)
    want = [(e['key'], e['shape']) for e in load_manifest(SECTIONS[section])['state_dict']]
    assert [(k, list(v.shape)) for k, v in net.state_dict().items()] == want
