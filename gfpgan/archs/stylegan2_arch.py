"""The original StyleGAN2 (as in BasicSR's ``stylegan2_arch``): equalized learning rate, FIR
(upfirdn2d) resampling with ``resample_kernel``, fused bias + leaky ReLU. Generator and discriminator.

These are the networks of GFPGAN's training configuration (``options/train_gfpgan_v1.yml``): the
StyleGAN2 prior loaded as GFPGANv1's decoder and the global discriminator.
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from gfpgan.registry import ARCH_REGISTRY
from .arch_util import check_channels, check_input, log2_size, precision_at, stylegan_channels
from .ops import FusedLeakyReLU, fused_leaky_relu, upfirdn2d
from .stylegan2_base import (ConstantInput, ModulatedConv2dBase, NormStyleCode, StyleGAN2GeneratorBase, ToRGBBase,
                             inject_noise, modulate_weight)

__all__ = [
    'make_resample_kernel', 'EqualLRModulatedConv2d', 'UpFirDnUpsample', 'UpFirDnDownsample', 'UpFirDnSmooth',
    'EqualLinear', 'EqualConv2d', 'ScaledLeakyReLU', 'ModulatedConv2d', 'StyleConv', 'ToRGB', 'ConvLayer', 'ResBlock',
    'StyleGAN2Generator', 'StyleGAN2Discriminator', 'NormStyleCode', 'ConstantInput', 'make_style_mlp'
]


def make_resample_kernel(k):
    """1-D taps (outer product) or a 2-D kernel -> normalised 2-D float32 kernel summing to 1."""
    k = torch.tensor(k, dtype=torch.float32)
    if k.ndim == 1:
        k = k[None, :] * k[:, None]
    return k / k.sum()


class _FIRResample(nn.Module):
    """Holds a FIR kernel as a non-persistent buffer (moves with .to(), not in the state_dict)."""

    def _set_kernel(self, kernel):
        self.register_buffer('kernel', kernel, persistent=False)


class UpFirDnUpsample(_FIRResample):
    """Upsample by ``factor`` with the FIR kernel (zero insertion + filtering)."""

    def __init__(self, resample_kernel, factor=2):
        super().__init__()
        self._set_kernel(make_resample_kernel(resample_kernel) * (factor**2))
        self.factor = factor
        pad = self.kernel.shape[0] - factor
        self.pad = ((pad + 1) // 2 + factor - 1, pad // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel.to(x.dtype), up=self.factor, down=1, pad=self.pad)

    def __repr__(self):
        return f'{self.__class__.__name__}(factor={self.factor})'


class UpFirDnDownsample(_FIRResample):
    """Downsample by ``factor`` with the FIR kernel (filtering + striding)."""

    def __init__(self, resample_kernel, factor=2):
        super().__init__()
        self._set_kernel(make_resample_kernel(resample_kernel))
        self.factor = factor
        pad = self.kernel.shape[0] - factor
        self.pad = ((pad + 1) // 2, pad // 2)

    def forward(self, x):
        return upfirdn2d(x, self.kernel.to(x.dtype), up=1, down=self.factor, pad=self.pad)

    def __repr__(self):
        return f'{self.__class__.__name__}(factor={self.factor})'


class UpFirDnSmooth(_FIRResample):
    """FIR smoothing around a strided/transposed conv of ``kernel_size`` (anti-aliasing, no resampling itself)."""

    def __init__(self, resample_kernel, upsample_factor=1, downsample_factor=1, kernel_size=1):
        super().__init__()
        self.upsample_factor = upsample_factor
        self.downsample_factor = downsample_factor
        kernel = make_resample_kernel(resample_kernel)
        if upsample_factor > 1:
            kernel = kernel * (upsample_factor**2)
        self._set_kernel(kernel)
        if upsample_factor > 1:
            pad = (kernel.shape[0] - upsample_factor) - (kernel_size - 1)
            self.pad = ((pad + 1) // 2 + upsample_factor - 1, pad // 2 + 1)
        elif downsample_factor > 1:
            pad = (kernel.shape[0] - downsample_factor) + (kernel_size - 1)
            self.pad = ((pad + 1) // 2, pad // 2)
        else:
            raise ValueError('UpFirDnSmooth needs upsample_factor > 1 or downsample_factor > 1.')

    def forward(self, x):
        return upfirdn2d(x, self.kernel.to(x.dtype), up=1, down=1, pad=self.pad)

    def __repr__(self):
        return (f'{self.__class__.__name__}(upsample_factor={self.upsample_factor}, '
                f'downsample_factor={self.downsample_factor})')


class EqualLinear(nn.Module):
    """Linear layer with equalized learning rate: weight * (lr_mul / sqrt(in)), bias * lr_mul.

    Input (..., in_channels) as ``F.linear``; the bias is added on the last (feature) axis, with or without the
    fused activation.

    Args:
        activation (None | 'fused_lrelu'): optional fused bias + leaky ReLU.
    """

    def __init__(self, in_channels, out_channels, bias=True, bias_init_val=0, lr_mul=1, activation=None):
        super().__init__()
        if activation not in ('fused_lrelu', None):
            raise ValueError(f"EqualLinear activation must be 'fused_lrelu' or None, got {activation!r}.")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.lr_mul = lr_mul
        self.activation = activation
        self.scale = (1 / math.sqrt(in_channels)) * lr_mul
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels).div_(lr_mul))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_channels).fill_(bias_init_val))
        else:
            self.register_parameter('bias', None)

    def forward(self, x):
        bias = None if self.bias is None else self.bias * self.lr_mul
        if self.activation == 'fused_lrelu':
            out = F.linear(x, self.weight * self.scale)
            if out.ndim <= 2:
                return fused_leaky_relu(out, bias)
            # (B, ..., C), e.g. w+ codes (B, num_latent, C) through the style MLP: fused_leaky_relu adds its bias
            # over dim 1, the features are the last one
            return fused_leaky_relu(out.movedim(-1, 1), bias).movedim(1, -1)
        return F.linear(x, self.weight * self.scale, bias=bias)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, out_channels={self.out_channels}, '
                f'bias={self.bias is not None}, lr_mul={self.lr_mul}')


class EqualConv2d(nn.Module):
    """Conv2d with equalized learning rate: weight * 1 / sqrt(in * k * k)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, bias_init_val=0):
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel_size, kernel_size))
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_channels).fill_(bias_init_val))
        else:
            self.register_parameter('bias', None)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.scale, bias=self.bias, stride=self.stride, padding=self.padding)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, out_channels={self.out_channels}, '
                f'kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, '
                f'bias={self.bias is not None}')


class ScaledLeakyReLU(nn.Module):
    """leaky_relu(x) * sqrt(2)."""

    def __init__(self, negative_slope=0.2):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, negative_slope=self.negative_slope) * math.sqrt(2)


class EqualLRModulatedConv2d(ModulatedConv2dBase):
    """Modulated conv with equalized learning rate: ``EqualLinear`` modulation and a weight scaled by
    1 / sqrt(in * k * k) at run time; interpolating resampling (as in the bilinear variant)."""

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 num_style_feat,
                 demodulate=True,
                 sample_mode=None,
                 eps=1e-8):
        super().__init__(in_channels, out_channels, kernel_size, demodulate, sample_mode, eps)
        self.scale = 1 / math.sqrt(in_channels * kernel_size**2)
        self.modulation = EqualLinear(
            num_style_feat, in_channels, bias=True, bias_init_val=1, lr_mul=1, activation=None)
        self.weight = nn.Parameter(torch.randn(1, out_channels, in_channels, kernel_size, kernel_size))

    def conv_weight(self):
        return self.scale * self.weight


class ModulatedConv2d(EqualLRModulatedConv2d):
    """Style-modulated (and optionally demodulated) conv; upsampling by transposed conv + FIR smoothing,
    downsampling by FIR smoothing + strided conv. Equalized-lr scale applied at run time.

    x: (B, in_channels, H, W), style: (B, num_style_feat).
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 num_style_feat,
                 demodulate=True,
                 sample_mode=None,
                 resample_kernel=(1, 3, 3, 1),
                 eps=1e-8):
        super().__init__(in_channels, out_channels, kernel_size, num_style_feat, demodulate, sample_mode, eps)
        if sample_mode == 'upsample':
            self.smooth = UpFirDnSmooth(
                resample_kernel, upsample_factor=2, downsample_factor=1, kernel_size=kernel_size)
        elif sample_mode == 'downsample':
            self.smooth = UpFirDnSmooth(
                resample_kernel, upsample_factor=1, downsample_factor=2, kernel_size=kernel_size)

    def forward(self, x, style):
        if self.sample_mode is None:
            return super().forward(x, style)
        style = self.modulation(style)
        b, c, h, w = x.shape
        weight = modulate_weight(self.conv_weight(), style, self.demodulate, self.eps)
        k = self.kernel_size
        if self.sample_mode == 'upsample':
            # transposed conv weights are (in, out, k, k) per group
            weight = weight.transpose(1, 2).reshape(b * c, self.out_channels, k, k)
            out = F.conv_transpose2d(x.reshape(1, b * c, h, w), weight, padding=0, stride=2, groups=b)
            return self.smooth(out.view(b, self.out_channels, *out.shape[2:4]))
        x = self.smooth(x)
        out = F.conv2d(
            x.reshape(1, b * c, *x.shape[2:4]),
            weight.reshape(b * self.out_channels, c, k, k),
            padding=0,
            stride=2,
            groups=b)
        return out.view(b, self.out_channels, *out.shape[2:4])


class StyleConv(nn.Module):
    """Modulated conv + per-pixel noise (learned strength ``weight``) + fused bias/leaky ReLU."""

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 num_style_feat,
                 demodulate=True,
                 sample_mode=None,
                 resample_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.modulated_conv = ModulatedConv2d(
            in_channels,
            out_channels,
            kernel_size,
            num_style_feat,
            demodulate=demodulate,
            sample_mode=sample_mode,
            resample_kernel=resample_kernel)
        self.weight = nn.Parameter(torch.zeros(1))  # noise strength
        self.activate = FusedLeakyReLU(out_channels)

    def forward(self, x, style, noise=None):
        return self.activate(inject_noise(self.modulated_conv(x, style), self.weight, noise))


class ToRGB(ToRGBBase):
    """1x1 modulated conv to RGB (no demodulation) + bias, plus the FIR-upsampled skip from the previous scale."""

    def __init__(self, in_channels, num_style_feat, upsample=True, resample_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.upsample = UpFirDnUpsample(resample_kernel, factor=2) if upsample else None
        self.modulated_conv = ModulatedConv2d(
            in_channels, 3, kernel_size=1, num_style_feat=num_style_feat, demodulate=False, sample_mode=None)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def upsample_skip(self, skip):
        return skip if self.upsample is None else self.upsample(skip)


def make_style_mlp(num_style_feat, num_mlp, lr_mlp):
    """Mapping network z -> w: pixel norm + ``num_mlp`` equalized-lr linears with fused leaky ReLU."""
    return nn.Sequential(
        NormStyleCode(), *[
            EqualLinear(
                num_style_feat, num_style_feat, bias=True, bias_init_val=0, lr_mul=lr_mlp, activation='fused_lrelu')
            for _ in range(num_mlp)
        ])


@ARCH_REGISTRY.register()
class StyleGAN2Generator(StyleGAN2GeneratorBase):
    """StyleGAN2 generator (Karras et al. 2020), BasicSR layout.

    Args:
        out_size (int): output resolution, a power of two.
        num_style_feat (int): style code width. Default 512.
        num_mlp (int): layers of the mapping MLP. Default 8.
        channel_multiplier (int): width multiplier from 64x64 up. Default 2.
        resample_kernel (list[int]): FIR taps for resampling. Default (1, 3, 3, 1).
        lr_mlp (float): learning-rate multiplier of the mapping MLP. Default 0.01.
        narrow (float): width ratio of every layer. Default 1.
    """
    style_conv_cls = StyleConv
    to_rgb_cls = ToRGB

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 num_mlp=8,
                 channel_multiplier=2,
                 resample_kernel=(1, 3, 3, 1),
                 lr_mlp=0.01,
                 narrow=1):
        self.lr_mlp = lr_mlp
        self.layer_kwargs = {'resample_kernel': resample_kernel}
        super().__init__(out_size, num_style_feat, num_mlp, channel_multiplier, narrow)

    def _make_style_mlp(self, num_style_feat, num_mlp):
        return make_style_mlp(num_style_feat, num_mlp, self.lr_mlp)


class ConvLayer(nn.Sequential):
    """[FIR smoothing +] equalized conv [+ fused bias/leaky ReLU or scaled leaky ReLU].

    With ``downsample`` the conv has stride 2 and no padding, after FIR smoothing.
    """

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 downsample=False,
                 resample_kernel=(1, 3, 3, 1),
                 bias=True,
                 activate=True):
        layers = []
        if downsample:
            layers.append(
                UpFirDnSmooth(resample_kernel, upsample_factor=1, downsample_factor=2, kernel_size=kernel_size))
            stride, padding = 2, 0
        else:
            stride, padding = 1, kernel_size // 2
        layers.append(
            EqualConv2d(
                in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=bias and not activate))
        if activate:
            layers.append(FusedLeakyReLU(out_channels) if bias else ScaledLeakyReLU(0.2))
        super().__init__(*layers)


class ResBlock(nn.Module):
    """Discriminator residual block: two convs (the second downsampling) + downsampled 1x1 skip, / sqrt(2)."""

    def __init__(self, in_channels, out_channels, resample_kernel=(1, 3, 3, 1)):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, bias=True, activate=True)
        self.conv2 = ConvLayer(
            in_channels, out_channels, 3, downsample=True, resample_kernel=resample_kernel, bias=True, activate=True)
        self.skip = ConvLayer(
            in_channels, out_channels, 1, downsample=True, resample_kernel=resample_kernel, bias=False, activate=False)

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        skip = self.skip(x)
        return (out + skip) / math.sqrt(2)


@ARCH_REGISTRY.register()
class StyleGAN2Discriminator(nn.Module):
    """StyleGAN2 residual discriminator with minibatch standard deviation.

    Args:
        out_size (int): input resolution, a power of two.
        channel_multiplier (int): width multiplier from 64x64 up. Default 2.
        resample_kernel (list[int]): FIR taps for downsampling. Default (1, 3, 3, 1).
        stddev_group (int): minibatch-stddev group size (the batch must be divisible by min(B, group)).
        narrow (float): width ratio of every layer. Default 1.

    Input (B, 3, out_size, out_size), output (B, 1) scores.
    """

    def __init__(self, out_size, channel_multiplier=2, resample_kernel=(1, 3, 3, 1), stddev_group=4, narrow=1):
        super().__init__()
        self.out_size = out_size
        log_size = log2_size(out_size, type(self).__name__)
        channels = stylegan_channels(channel_multiplier, narrow)
        check_channels(channels, type(self).__name__, [2**i for i in range(2, log_size + 1)])

        conv_body = [ConvLayer(3, channels[f'{out_size}'], 1, bias=True, activate=True)]
        in_channels = channels[f'{out_size}']
        for i in range(log_size, 2, -1):
            out_channels = channels[f'{2**(i - 1)}']
            conv_body.append(ResBlock(in_channels, out_channels, resample_kernel))
            in_channels = out_channels
        self.conv_body = nn.Sequential(*conv_body)

        self.final_conv = ConvLayer(in_channels + 1, channels['4'], 3, bias=True, activate=True)
        self.final_linear = nn.Sequential(
            EqualLinear(
                channels['4'] * 4 * 4, channels['4'], bias=True, bias_init_val=0, lr_mul=1, activation='fused_lrelu'),
            EqualLinear(channels['4'], 1, bias=True, bias_init_val=0, lr_mul=1, activation=None),
        )
        self.stddev_group = stddev_group
        self.stddev_feat = 1

    def forward(self, x):
        check_input(x, type(self).__name__, 3, self.out_size)
        out = x
        for layer in self.conv_body:
            precision, out = precision_at(out, out.shape[-1], self.out_size)
            with precision:
                out = layer(out)
        precision, out = precision_at(out, out.shape[-1], self.out_size)
        with precision:
            return self._head(out)

    def _head(self, out):
        """Minibatch standard deviation, final conv and linears: (B, C, 4, 4) features -> (B, 1) scores."""
        b, c, h, w = out.shape
        group = min(b, self.stddev_group)
        if b % group:
            raise ValueError(f'{type(self).__name__}: the batch size ({b}) must be divisible by the minibatch-stddev '
                             f'group ({group}); use a batch size that is a multiple of {group}.')
        stddev = out.reshape(group, -1, self.stddev_feat, c // self.stddev_feat, h, w)
        stddev = torch.sqrt(stddev.var(0, unbiased=False) + 1e-8)
        stddev = stddev.mean([2, 3, 4], keepdim=True).squeeze(2)
        stddev = stddev.repeat(group, 1, h, w)
        out = torch.cat([out, stddev], 1)
        out = self.final_conv(out)
        out = out.reshape(b, -1)  # reshape: channels-last features are not viewable as (B, C * H * W)
        return self.final_linear(out)
