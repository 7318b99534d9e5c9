"""Registries: registration, lookup errors that list what exists, building from options."""
import pytest
import torch

from gfpgan.registry import ARCH_REGISTRY, Registry


def test_register_get_build_and_errors():
    reg = Registry('widget')

    @reg.register()
    class Gear:

        def __init__(self, teeth=8):
            self.teeth = teeth

    reg.register(dict, name='Mapping')
    assert reg.get('Gear') is Gear and 'Mapping' in reg and reg.keys() == ['Gear', 'Mapping']
    opt = {'type': 'Gear', 'teeth': 12}
    assert reg.build(opt).teeth == 12 and opt == {'type': 'Gear', 'teeth': 12}  # options are not consumed
    with pytest.raises(KeyError, match="No widget named 'Cog'; registered widget types are: Gear, Mapping"):
        reg.get('Cog')
    with pytest.raises(KeyError, match='already registered'):
        reg.register(list, name='Gear')
    with pytest.raises(TypeError):
        reg.build({'type': 'Gear', 'colour': 'red'})  # an unknown option is not silently dropped


def test_arch_registry_holds_the_family():
    import gfpgan  # noqa: F401
    for name in ('GFPGANv1', 'GFPGANv1Clean', 'GFPGANBilinear', 'StyleGAN2Generator', 'StyleGAN2GeneratorSFT',
                 'StyleGAN2GeneratorCSFT', 'StyleGAN2GeneratorBilinearSFT', 'StyleGAN2Discriminator',
                 'FacialComponentDiscriminator', 'ResNetArcFace', 'VGGFeatureExtractor', 'RRDBNet'):
        assert name in ARCH_REGISTRY


def test_optimizers_and_schedulers_are_registries_with_the_same_unknown_name_error():
    from gfpgan.models.base_model import OPTIMIZERS
    from gfpgan.models.lr_scheduler import SCHEDULERS, MultiStepRestartLR, build_scheduler
    from gfpgan.registry import OPTIMIZER_REGISTRY, SCHEDULER_REGISTRY
    assert OPTIMIZERS is OPTIMIZER_REGISTRY and SCHEDULERS is SCHEDULER_REGISTRY  # the former dicts' names
    assert dict(OPTIMIZERS) == {'Adam': torch.optim.Adam, 'AdamW': torch.optim.AdamW, 'SGD': torch.optim.SGD}
    assert SCHEDULER_REGISTRY.get('MultiStepLR') is MultiStepRestartLR and 'CosineAnnealingRestartLR' in SCHEDULERS
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.)
    with pytest.raises(ValueError, match="No scheduler named 'Step'; registered scheduler types are: Cosine"):
        build_scheduler(optimizer, {'type': 'Step'})
    with pytest.raises(KeyError, match="No optimizer named 'Adamw'; registered optimizer types are: Adam, AdamW, SGD"):
        OPTIMIZER_REGISTRY.get('Adamw')


def test_build_network_lives_with_the_networks():
    import gfpgan
    from gfpgan.archs import build_network
    assert gfpgan.build_network is build_network
    net = build_network({'type': 'VGGFeatureExtractor', 'layer_name_list': ['conv1_1'], 'pretrained': False})
    assert type(net).__name__ == 'VGGFeatureExtractor'
