"""StyleGAN2 with equalized learning rate but interpolation (bilinear by default) instead of FIR
resampling: the decoder of GFPGANBilinear, convertible exactly to the clean architecture.
"""
import math

import torch
from torch import nn

from gfpgan.registry import ARCH_REGISTRY
from .arch_util import check_channels, interpolate, log2_size, stylegan_channels
from .ops import FusedLeakyReLU
from .stylegan2_arch import EqualConv2d, EqualLinear, ScaledLeakyReLU
from .stylegan2_base import ConstantInput, NormStyleCode, StyleGAN2GeneratorBase, modulated_conv2d

__all__ = [
    'EqualLinear', 'EqualConv2d', 'ScaledLeakyReLU', 'ModulatedConv2d', 'StyleConv', 'ToRGB',
    'StyleGAN2GeneratorBilinear', 'ConvLayer', 'ResBlock', 'NormStyleCode', 'ConstantInput'
]


class ModulatedConv2d(nn.Module):
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
        super().__init__()
        if sample_mode not in ('upsample', 'downsample', None):
            raise ValueError(
                f"ModulatedConv2d sample_mode must be 'upsample', 'downsample' or None, got {sample_mode!r}.")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.sample_mode = sample_mode
        self.eps = eps
        self.interpolation_mode = interpolation_mode
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.modulation = EqualLinear(
            num_style_feat, in_channels, bias=True, bias_init_val=1, lr_mul=1, activation=None)
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))
        self.padding = kernel_size // 2

    def forward(self, x, style):
        style = self.modulation(style)
        if self.sample_mode == 'upsample':
            x = interpolate(x, 2, self.interpolation_mode)
        elif self.sample_mode == 'downsample':
            x = interpolate(x, 0.5, self.interpolation_mode)
        return modulated_conv2d(x, self.scale * self.weight, style, self.demodulate, self.eps, self.padding)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, '
                f'demodulate={self.demodulate}, sample_mode={self.sample_mode}, '
                f'interpolation_mode={self.interpolation_mode}')


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
        out = self.modulated_conv(x, style)
        if noise is None:
            b, _, h, w = out.shape
            noise = out.new_empty(b, 1, h, w).normal_()
        out = out + self.weight * noise
        return self.activate(out)


class ToRGB(nn.Module):
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

    def forward(self, x, style, skip=None):
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = interpolate(skip, 2, self.interpolation_mode)
            out = out + skip
        return out


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

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 num_mlp=8,
                 channel_multiplier=2,
                 lr_mlp=0.01,
                 narrow=1,
                 interpolation_mode='bilinear'):
        super().__init__()
        self.num_style_feat = num_style_feat
        self.log_size = log2_size(out_size, type(self).__name__)
        self.channels = channels = stylegan_channels(channel_multiplier, narrow)
        check_channels(channels, type(self).__name__, [2**i for i in range(2, self.log_size + 1)])

        self.style_mlp = nn.Sequential(
            NormStyleCode(), *[
                EqualLinear(
                    num_style_feat, num_style_feat, bias=True, bias_init_val=0, lr_mul=lr_mlp, activation='fused_lrelu')
                for _ in range(num_mlp)
            ])
        self.constant_input = ConstantInput(channels['4'], size=4)
        self.style_conv1 = StyleConv(
            channels['4'],
            channels['4'],
            kernel_size=3,
            num_style_feat=num_style_feat,
            demodulate=True,
            sample_mode=None,
            interpolation_mode=interpolation_mode)
        self.to_rgb1 = ToRGB(channels['4'], num_style_feat, upsample=False, interpolation_mode=interpolation_mode)
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        in_channels = channels['4']
        for i in range(3, self.log_size + 1):
            out_channels = channels[f'{2**i}']
            self.style_convs.append(
                StyleConv(
                    in_channels,
                    out_channels,
                    kernel_size=3,
                    num_style_feat=num_style_feat,
                    demodulate=True,
                    sample_mode='upsample',
                    interpolation_mode=interpolation_mode))
            self.style_convs.append(
                StyleConv(
                    out_channels,
                    out_channels,
                    kernel_size=3,
                    num_style_feat=num_style_feat,
                    demodulate=True,
                    sample_mode=None,
                    interpolation_mode=interpolation_mode))
            self.to_rgbs.append(
                ToRGB(out_channels, num_style_feat, upsample=True, interpolation_mode=interpolation_mode))
            in_channels = out_channels
        self._init_noises()


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
