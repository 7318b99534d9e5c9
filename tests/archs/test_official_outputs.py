"""Networks the shared reference vectors do not cover (GFPGANBilinear, StyleGAN2GeneratorBilinear,
RRDBNet x1/x2/x4, VGGFeatureExtractor) against outputs of the official code (tests/data/official_outputs,
made by running gfpgan 1.3.8 / basicsr 1.4.2 on recipe weights; see tests/data/README.md)."""
import pytest
import torch

from gfpgan.registry import ARCH_REGISTRY
from refdata import (OFFICIAL_OUTPUTS_DIR, load_vector, run_official_output, sha256_state_dict, state_dict_from_recipe,
                     vector_names)

RTOL = 2e-5
NAMES = vector_names(OFFICIAL_OUTPUTS_DIR)


def test_all_official_output_sets_present():
    assert NAMES == [
        'gfpgan_bilinear_small', 'rrdbnet_x1_small', 'rrdbnet_x2_small', 'rrdbnet_x4_small',
        'stylegan2_generator_bilinear_small', 'vgg19_feature_extractor'
    ]


@pytest.mark.parametrize('name', NAMES)
def test_matches_official_outputs(name, tmp_path):
    desc, inputs, outputs = load_vector(name, OFFICIAL_OUTPUTS_DIR)
    state_dict = state_dict_from_recipe(desc['weights_recipe'])
    assert sha256_state_dict(state_dict) == desc['weights_sha256']
    cls = ARCH_REGISTRY.get(desc['official_class'].rsplit('.', 1)[-1])
    with torch.no_grad():
        if name.startswith('vgg'):  # a torchvision-format weight file, as users have
            path = tmp_path / 'vgg19.pth'
            torch.save(state_dict, path)
            net = cls(**desc['kwargs'], pretrained=str(path))
            got = net(inputs['input'])
        else:
            net = cls(**desc['kwargs']).eval()
            net.load_state_dict(state_dict, strict=True)
            got = run_official_output(name, net, inputs)
    for key, ref in outputs.items():
        err = (got[key] - ref).abs().max().item()
        assert got[key].shape == ref.shape, key
        assert err <= RTOL * ref.abs().max().item(), f'{name} {key}: max|out - ref| = {err:.3g}'
