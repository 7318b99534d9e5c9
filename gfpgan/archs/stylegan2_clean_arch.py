"""The "clean" StyleGAN2 generator: equalized-lr scales folded into plain ``nn.Linear``/weights,
bilinear resampling, ``nn.LeakyReLU``. No custom ops; the decoder of the released GFPGAN v1.2-v1.4.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from gfpgan.registry import ARCH_REGISTRY
from .arch_util import clamp_fp16, default_init_weights
from .stylegan2_base import (ConstantInput, ModulatedConv2dBase, NormStyleCode, StyleGAN2GeneratorBase, ToRGBBase,
                             inject_noise)

__all__ = ['ModulatedConv2d', 'StyleConv', 'ToRGB', 'StyleGAN2GeneratorClean', 'NormStyleCode', 'ConstantInput']


class ModulatedConv2d(ModulatedConv2dBase):
    """Style-modulated conv with plain ``nn.Linear`` modulation (scales folded into the weights);
    bilinear x2 up/down-sampling before the conv.

    x: (B, in_channels, H, W), style: (B, num_style_feat) -> (B, out_channels, H', W').
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 num_style_feat,
                 demodulate=True,
                 sample_mode=None,
                 eps=1e-8):
        super().__init__(in_channels, out_channels, kernel_size, demodulate, sample_mode, eps)
        self.modulation = nn.Linear(num_style_feat, in_channels, bias=True)
        default_init_weights(self.modulation, scale=1, bias_fill=1, a=0, mode='fan_in', nonlinearity='linear')
        self.weight = nn.Parameter(
            torch.randn(1, out_channels, in_channels, kernel_size, kernel_size) /
            math.sqrt(in_channels * kernel_size**2))


class StyleConv(nn.Module):
    """Modulated conv (output x sqrt(2)) + noise (strength ``weight``) + ``bias`` + leaky ReLU."""

    def __init__(self, in_channels, out_channels, kernel_size, num_style_feat, demodulate=True, sample_mode=None):
        super().__init__()
        self.modulated_conv = ModulatedConv2d(
            in_channels, out_channels, kernel_size, num_style_feat, demodulate=demodulate, sample_mode=sample_mode)
        self.weight = nn.Parameter(torch.zeros(1))  # noise strength
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.activate = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x, style, noise=None):
        out = self.modulated_conv(x, style)
        grad = torch.is_grad_enabled()
        out = out * 2**0.5 if grad else out.mul_(2**0.5)  # sqrt(2): the gain of the original fused activation
        out = inject_noise(out, self.weight, noise)
        out = out + self.bias.to(out.dtype) if grad else out.add_(self.bias)
        return clamp_fp16(self.activate(out))


class ToRGB(ToRGBBase):
    """1x1 modulated conv to RGB + bias, plus the bilinearly upsampled skip from the previous scale."""

    def __init__(self, in_channels, num_style_feat, upsample=True):
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(
            in_channels, 3, kernel_size=1, num_style_feat=num_style_feat, demodulate=False, sample_mode=None)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def upsample_skip(self, skip):
        return F.interpolate(skip, scale_factor=2, mode='bilinear', align_corners=False) if self.upsample else skip


@ARCH_REGISTRY.register()
class StyleGAN2GeneratorClean(StyleGAN2GeneratorBase):
    """StyleGAN2 generator without custom ops (bilinear resampling, scales folded into the weights).

    Args:
        out_size (int): output resolution, a power of two.
        num_style_feat (int): style code width. Default 512.
        num_mlp (int): layers of the mapping MLP. Default 8.
        channel_multiplier (int): width multiplier from 64x64 up. Default 2.
        narrow (float): width ratio of every layer. Default 1.
    """
    style_conv_cls = StyleConv
    to_rgb_cls = ToRGB

    def __init__(self, out_size, num_style_feat=512, num_mlp=8, channel_multiplier=2, narrow=1):
        super().__init__(out_size, num_style_feat, num_mlp, channel_multiplier, narrow)

    def _make_style_mlp(self, num_style_feat, num_mlp):
        layers = [NormStyleCode()]
        for _ in range(num_mlp):
            layers += [
                nn.Linear(num_style_feat, num_style_feat, bias=True),
                nn.LeakyReLU(negative_slope=0.2, inplace=True)
            ]
        style_mlp = nn.Sequential(*layers)
        default_init_weights(style_mlp, scale=1, bias_fill=0, a=0.2, mode='fan_in', nonlinearity='leaky_relu')
        return style_mlp
