"""StyleGAN2 with equalized learning rate but interpolation (bilinear by default) instead of FIR
resampling: the decoder of GFPGANBilinear, convertible exactly to the clean architecture.
"""
import math

import torch
from torch import nn

from gfpgan.registry import ARCH_REGISTRY
from .arch_util import interpolate
from .ops import FusedLeakyReLU
from .stylegan2_arch import EqualConv2d, EqualLinear, EqualLRModulatedConv2d, ScaledLeakyReLU, make_style_mlp
from .stylegan2_base import ConstantInput, NormStyleCode, StyleGAN2GeneratorBase, ToRGBBase, inject_noise

__all__ = [
    'EqualLinear', 'EqualConv2d', 'ScaledLeakyReLU', 'ModulatedConv2d', 'StyleConv', 'ToRGB',
    'StyleGAN2GeneratorBilinear', 'ConvLayer', 'ResBlock', 'NormStyleCode', 'ConstantInput'
]


class ModulatedConv2d(EqualLRModulatedConv2d):
    """Equalized-lr modulated conv; resampling by ``interpolation_mode`` x2 before the conv.

    x: (B, in_channels, H, W), style: (B, num_style_feat) -> (B, out_channels, H', W').
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 num_style_feat,
                 demodulate=True,
                 sample_mode=None,
                 eps=1e-8,
                 interpolation_mode='bilinear'):
        super().__init__(in_channels, out_channels, kernel_size, num_style_feat, demodulate, sample_mode, eps)
        self.interpolation_mode = interpolation_mode

    def extra_repr(self):
        return f'{super().extra_repr()}, interpolation_mode={self.interpolation_mode}'


class StyleConv(nn.Module):
    """Modulated conv + noise (strength ``weight``) + fused bias/leaky ReLU."""

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 num_style_feat,
                 demodulate=True,
                 sample_mode=None,
                 interpolation_mode='bilinear'):
        super().__init__()
        self.modulated_conv = ModulatedConv2d(
            in_channels,
            out_channels,
            kernel_size,
            num_style_feat,
            demodulate=demodulate,
            sample_mode=sample_mode,
            interpolation_mode=interpolation_mode)
        self.weight = nn.Parameter(torch.zeros(1))  # noise strength
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x, style, noise=None):
        return self.activate(inject_noise(self.modulated_conv(x, style), self.weight, noise))


class ToRGB(ToRGBBase):
    """1x1 modulated conv to RGB + bias, plus the interpolated skip from the previous scale."""

    def __init__(self, in_channels, num_style_feat, upsample=True, interpolation_mode='bilinear'):
        super().__init__()
        self.upsample = upsample
        self.interpolation_mode = interpolation_mode
        self.modulated_conv = ModulatedConv2d(
            in_channels,
            3,
            kernel_size=1,
            num_style_feat=num_style_feat,
            demodulate=False,
            sample_mode=None,
            interpolation_mode=interpolation_mode)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def upsample_skip(self, skip):
        return interpolate(skip, 2, self.interpolation_mode) if self.upsample else skip


@ARCH_REGISTRY.register()
class StyleGAN2GeneratorBilinear(StyleGAN2GeneratorBase):
    """StyleGAN2 generator with equalized lr and interpolation resampling.

    Args:
        out_size (int): output resolution, a power of two.
        num_style_feat (int): style code width. Default 512.
        num_mlp (int): layers of the mapping MLP. Default 8.
        channel_multiplier (int): width multiplier from 64x64 up. Default 2.
        lr_mlp (float): learning-rate multiplier of the mapping MLP. Default 0.01.
        narrow (float): width ratio of every layer. Default 1.
        interpolation_mode (str): 'bilinear' (default) or another F.interpolate mode.
    """
    style_conv_cls = StyleConv
    to_rgb_cls = ToRGB

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 num_mlp=8,
                 channel_multiplier=2,
                 lr_mlp=0.01,
                 narrow=1,
                 interpolation_mode='bilinear'):
        self.lr_mlp = lr_mlp
        self.layer_kwargs = {'interpolation_mode': interpolation_mode}
        super().__init__(out_size, num_style_feat, num_mlp, channel_multiplier, narrow)

    def _make_style_mlp(self, num_style_feat, num_mlp):
        return make_style_mlp(num_style_feat, num_mlp, self.lr_mlp)


class _Interpolate(nn.Module):
    """x2 or /2 resampling by F.interpolate (no parameters)."""

    def __init__(self, scale_factor, mode):
        super().__init__()
        self.scale_factor = scale_factor
        self.mode = mode

    def forward(self, x):
        return interpolate(x, self.scale_factor, self.mode)

    def extra_repr(self):
        return f'scale_factor={self.scale_factor}, mode={self.mode}'


class ConvLayer(nn.Sequential):
    """[interpolation /2 +] equalized conv (stride 1, same padding) [+ fused bias/leaky ReLU or scaled leaky ReLU]."""

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 downsample=False,
                 bias=True,
                 activate=True,
                 interpolation_mode='bilinear'):
        layers = []
        if downsample:
            layers.append(_Interpolate(0.5, interpolation_mode))
        layers.append(
            EqualConv2d(
                in_channels, out_channels, kernel_size, stride=1, padding=kernel_size // 2, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channels) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Downsampling residual block: conv, interpolate /2 + conv, interpolated 1x1 skip, / sqrt(2)."""

    def __init__(self, in_channels, out_channels, interpolation_mode='bilinear'):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, bias=True, activate=True)
        self.conv2 = ConvLayer(
            in_channels,
            out_channels,
            3,
            downsample=True,
            bias=True,
            activate=True,
            interpolation_mode=interpolation_mode)
        self.skip = ConvLayer(
            in_channels,
            out_channels,
            1,
            downsample=True,
            bias=False,
            activate=False,
            interpolation_mode=interpolation_mode)

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        skip = self.skip(x)
        return (out + skip) / math.sqrt(2)
