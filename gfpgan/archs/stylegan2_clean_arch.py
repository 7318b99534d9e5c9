"""The "clean" StyleGAN2 generator: equalized-lr scales folded into plain ``nn.Linear``/weights,
bilinear resampling, ``nn.LeakyReLU``. No custom ops; the decoder of the released GFPGAN v1.2-v1.4.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from gfpgan.registry import ARCH_REGISTRY
from .arch_util import check_channels, default_init_weights, log2_size, stylegan_channels
from .stylegan2_base import ConstantInput, NormStyleCode, StyleGAN2GeneratorBase, modulated_conv2d

__all__ = ['ModulatedConv2d', 'StyleConv', 'ToRGB', 'StyleGAN2GeneratorClean', 'NormStyleCode', 'ConstantInput']


class ModulatedConv2d(nn.Module):
    """Style-modulated conv with plain ``nn.Linear`` modulation; bilinear x2 up/down-sampling before the conv.

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
        self.modulation = nn.Linear(num_style_feat, in_channels, bias=True)
        default_init_weights(self.modulation, scale=1, bias_fill=1, a=0, mode='fan_in', nonlinearity='linear')
        self.weight = nn.Parameter(
            torch.randn(1, out_channels, in_channels, kernel_size, kernel_size) /
            math.sqrt(in_channels * kernel_size**2))
        self.padding = kernel_size // 2

    def forward(self, x, style):
        style = self.modulation(style)
        if self.sample_mode == 'upsample':
            x = F.interpolate(x, scale_factor=2, mode='bilinear', align_corners=False)
        elif self.sample_mode == 'downsample':
            x = F.interpolate(x, scale_factor=0.5, mode='bilinear', align_corners=False)
        return modulated_conv2d(x, self.weight, style, self.demodulate, self.eps, self.padding)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, '
                f'demodulate={self.demodulate}, sample_mode={self.sample_mode}')


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
        if noise is None:
            b, _, h, w = out.shape
            noise = out.new_empty(b, 1, h, w).normal_()
        if torch.is_grad_enabled():
            out = out * 2**0.5  # sqrt(2): the gain of the original fused activation
            out = out + self.weight * noise
            out = out + self.bias
        else:  # the same operations in place: no new (B, C, H, W) buffers at inference
            out.mul_(2**0.5).add_(self.weight * noise).add_(self.bias)
        return self.activate(out)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB + bias, plus the bilinearly upsampled skip from the previous scale."""

    def __init__(self, in_channels, num_style_feat, upsample=True):
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(
            in_channels, 3, kernel_size=1, num_style_feat=num_style_feat, demodulate=False, sample_mode=None)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x, style, skip=None):
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = F.interpolate(skip, scale_factor=2, mode='bilinear', align_corners=False)
            out = out + skip if torch.is_grad_enabled() else out.add_(skip)
        return out


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

    def __init__(self, out_size, num_style_feat=512, num_mlp=8, channel_multiplier=2, narrow=1):
        super().__init__()
        self.num_style_feat = num_style_feat
        self.log_size = log2_size(out_size, type(self).__name__)
        self.channels = channels = stylegan_channels(channel_multiplier, narrow)
        check_channels(channels, type(self).__name__, [2**i for i in range(2, self.log_size + 1)])

        style_mlp_layers = [NormStyleCode()]
        for _ in range(num_mlp):
            style_mlp_layers += [
                nn.Linear(num_style_feat, num_style_feat, bias=True),
                nn.LeakyReLU(negative_slope=0.2, inplace=True)
            ]
        self.style_mlp = nn.Sequential(*style_mlp_layers)
        default_init_weights(self.style_mlp, scale=1, bias_fill=0, a=0.2, mode='fan_in', nonlinearity='leaky_relu')

        self.constant_input = ConstantInput(channels['4'], size=4)
        self.style_conv1 = StyleConv(
            channels['4'],
            channels['4'],
            kernel_size=3,
            num_style_feat=num_style_feat,
            demodulate=True,
            sample_mode=None)
        self.to_rgb1 = ToRGB(channels['4'], num_style_feat, upsample=False)
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
                    sample_mode='upsample'))
            self.style_convs.append(
                StyleConv(
                    out_channels,
                    out_channels,
                    kernel_size=3,
                    num_style_feat=num_style_feat,
                    demodulate=True,
                    sample_mode=None))
            self.to_rgbs.append(ToRGB(out_channels, num_style_feat, upsample=True))
            in_channels = out_channels
        self._init_noises()
