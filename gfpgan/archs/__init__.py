"""Every network of the GFPGAN family, in pure PyTorch, checkpoint-compatible with the official releases.

Importing this package registers each network in ``gfpgan.registry.ARCH_REGISTRY``.
"""
from gfpgan.registry import ARCH_REGISTRY

from .arcface_arch import BasicBlock, Bottleneck, IRBlock, ResNetArcFace
from .gfpgan_bilinear_arch import GFPGANBilinear, StyleGAN2GeneratorBilinearSFT
from .gfpganv1_arch import FacialComponentDiscriminator, GFPGANv1, StyleGAN2GeneratorSFT
from .gfpganv1_clean_arch import GFPGANv1Clean, StyleGAN2GeneratorCSFT
from .restoreformer_arch import RestoreFormer
from .rrdbnet_arch import RRDBNet
from .stylegan2_arch import StyleGAN2Discriminator, StyleGAN2Generator
from .stylegan2_bilinear_arch import StyleGAN2GeneratorBilinear
from .stylegan2_clean_arch import StyleGAN2GeneratorClean
from .vgg_arch import VGGFeatureExtractor

__all__ = [
    'BasicBlock', 'Bottleneck', 'IRBlock', 'ResNetArcFace', 'GFPGANBilinear', 'StyleGAN2GeneratorBilinearSFT',
    'FacialComponentDiscriminator', 'GFPGANv1', 'StyleGAN2GeneratorSFT', 'GFPGANv1Clean', 'StyleGAN2GeneratorCSFT',
    'RestoreFormer', 'RRDBNet', 'StyleGAN2Discriminator', 'StyleGAN2Generator', 'StyleGAN2GeneratorBilinear',
    'StyleGAN2GeneratorClean', 'VGGFeatureExtractor', 'build_network'
]


def build_network(opt):
    """Build a registered network from ``{'type': ClassName, **kwargs}`` (every network is registered by now)."""
    return ARCH_REGISTRY.build(opt)
