"""Registries: registration, lookup errors that list what exists, building from options."""
import pytest

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
