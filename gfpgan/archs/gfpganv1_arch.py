"""GFPGANv1, the training architecture of the paper (equalized lr, FIR-resampled StyleGAN2 decoder),
and the facial-component discriminator used for the eye and mouth losses."""
import math

from torch import nn

from gfpgan.registry import ARCH_REGISTRY
from .arch_util import interpolate
from .gfpgan_base import GFPGANBase
from .ops import FusedLeakyReLU
from .stylegan2_arch import (ConvLayer, EqualConv2d, EqualLinear, ResBlock, ScaledLeakyReLU, StyleGAN2Generator)
from .stylegan2_base import SFTGeneratorMixin

__all__ = [
    'StyleGAN2GeneratorSFT', 'ConvUpLayer', 'ResUpBlock', 'GFPGANv1', 'FacialComponentDiscriminator',
    'EqualLRLayersMixin'
]


@ARCH_REGISTRY.register()
class StyleGAN2GeneratorSFT(SFTGeneratorMixin, StyleGAN2Generator):
    """StyleGAN2 generator (FIR resampling, equalized lr) whose features are modulated by SFT conditions.

    Args: as StyleGAN2Generator, plus ``sft_half`` (modulate only the second half of the channels).
    """

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 num_mlp=8,
                 channel_multiplier=2,
                 resample_kernel=(1, 3, 3, 1),
                 lr_mlp=0.01,
                 narrow=1,
                 sft_half=False):
        super().__init__(
            out_size,
            num_style_feat=num_style_feat,
            num_mlp=num_mlp,
            channel_multiplier=channel_multiplier,
            resample_kernel=resample_kernel,
            lr_mlp=lr_mlp,
            narrow=narrow)
        self.sft_half = sft_half


class ConvUpLayer(EqualConv2d):
    """Interpolation x2 (bilinear by default) followed by an equalized conv [+ activation]."""

    def __init__(self,
                 in_channels,
                 out_channels,
                 kernel_size,
                 stride=1,
                 padding=0,
                 bias=True,
                 bias_init_val=0,
                 activate=True,
                 interpolation_mode='bilinear'):
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            bias=bias and not activate,
            bias_init_val=bias_init_val)
        self.interpolation_mode = interpolation_mode
        if activate:
            self.activation = FusedLeakyReLU(out_channels) if bias else ScaledLeakyReLU(0.2)
        else:
            self.activation = None

    def forward(self, x):
        out = super().forward(interpolate(x, 2, self.interpolation_mode))
        return out if self.activation is None else self.activation(out)


class ResUpBlock(nn.Module):
    """Upsampling residual block: conv, interpolate x2 + conv, interpolated 1x1 skip, / sqrt(2)."""

    def __init__(self, in_channels, out_channels, interpolation_mode='bilinear'):
        super().__init__()
        self.conv1 = ConvLayer(in_channels, in_channels, 3, bias=True, activate=True)
        self.conv2 = ConvUpLayer(
            in_channels,
            out_channels,
            3,
            stride=1,
            padding=1,
            bias=True,
            activate=True,
            interpolation_mode=interpolation_mode)
        self.skip = ConvUpLayer(
            in_channels, out_channels, 1, bias=False, activate=False, interpolation_mode=interpolation_mode)

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        skip = self.skip(x)
        return (out + skip) / math.sqrt(2)


class EqualLRLayersMixin:
    """Layer factories shared by GFPGANv1 and GFPGANBilinear (equalized-lr convs and linears)."""

    def _make_first_conv(self, in_channels, out_channels):
        return ConvLayer(in_channels, out_channels, 1, bias=True, activate=True)

    def _make_final_conv(self, in_channels, out_channels):
        return ConvLayer(in_channels, out_channels, 3, bias=True, activate=True)

    def _make_to_rgb(self, in_channels):
        return EqualConv2d(in_channels, 3, 1, stride=1, padding=0, bias=True, bias_init_val=0)

    def _make_final_linear(self, in_channels, out_channels):
        return EqualLinear(in_channels, out_channels, bias=True, bias_init_val=0, lr_mul=1, activation=None)

    def _make_condition(self, in_channels, out_channels, bias_init_val):
        return nn.Sequential(
            EqualConv2d(in_channels, in_channels, 3, stride=1, padding=1, bias=True, bias_init_val=0),
            ScaledLeakyReLU(0.2),
            EqualConv2d(in_channels, out_channels, 3, stride=1, padding=1, bias=True, bias_init_val=bias_init_val))


@ARCH_REGISTRY.register()
class GFPGANv1(EqualLRLayersMixin, GFPGANBase):
    """GFPGAN v1 (Wang et al., CVPR 2021): U-Net + SFT on a FIR-resampled StyleGAN2 decoder.

    Args:
        out_size (int): face size, a power of two (512 for the releases).
        num_style_feat (int): style code width. Default 512.
        channel_multiplier (int): decoder width multiplier. Default 1.
        resample_kernel (list[int]): FIR taps. Default (1, 3, 3, 1).
        decoder_load_path (str): StyleGAN2 prior checkpoint whose ``params_ema`` is loaded into the decoder.
        fix_decoder (bool): freeze the decoder. Default True.
        num_mlp (int): decoder mapping-MLP layers. Default 8.
        lr_mlp (float): mapping-MLP learning-rate multiplier. Default 0.01.
        input_is_latent (bool): feed the style code as w (skip the mapping MLP). Default False.
        different_w (bool): one style code per decoder layer (w+). Default False.
        narrow (float): width ratio. Default 1.
        sft_half (bool): modulate only half of the decoder channels. Default False.
    """

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 channel_multiplier=1,
                 resample_kernel=(1, 3, 3, 1),
                 decoder_load_path=None,
                 fix_decoder=True,
                 num_mlp=8,
                 lr_mlp=0.01,
                 input_is_latent=False,
                 different_w=False,
                 narrow=1,
                 sft_half=False):
        self.resample_kernel = resample_kernel
        super().__init__(out_size, num_style_feat, channel_multiplier, decoder_load_path, fix_decoder, num_mlp,
                         input_is_latent, different_w, narrow, sft_half,
                         dict(resample_kernel=resample_kernel, lr_mlp=lr_mlp))

    def _make_down_block(self, in_channels, out_channels):
        return ResBlock(in_channels, out_channels, self.resample_kernel)

    def _make_up_block(self, in_channels, out_channels):
        return ResUpBlock(in_channels, out_channels)

    def _make_decoder(self, **kwargs):
        return StyleGAN2GeneratorSFT(**kwargs)


@ARCH_REGISTRY.register()
class FacialComponentDiscriminator(nn.Module):
    """VGG-style patch discriminator for eye / mouth crops (fixed width).

    forward(x (B, 3, H, W), return_feats=False) -> (scores (B, 1, H/4, W/4), [feat after conv3, after conv5] or None)
    """

    def __init__(self):
        super().__init__()
        self.conv1 = ConvLayer(3, 64, 3, downsample=False, resample_kernel=(1, 3, 3, 1), bias=True, activate=True)
        self.conv2 = ConvLayer(64, 128, 3, downsample=True, resample_kernel=(1, 3, 3, 1), bias=True, activate=True)
        self.conv3 = ConvLayer(128, 128, 3, downsample=False, resample_kernel=(1, 3, 3, 1), bias=True, activate=True)
        self.conv4 = ConvLayer(128, 256, 3, downsample=True, resample_kernel=(1, 3, 3, 1), bias=True, activate=True)
        self.conv5 = ConvLayer(256, 256, 3, downsample=False, resample_kernel=(1, 3, 3, 1), bias=True, activate=True)
        self.final_conv = ConvLayer(256, 1, 3, bias=True, activate=False)

    def forward(self, x, return_feats=False, **kwargs):
        if x.ndim != 4 or x.shape[1] != 3 or min(x.shape[2:]) < 4:
            raise ValueError(f'FacialComponentDiscriminator expects an input of shape (B, 3, H, W) with H, W >= 4, '
                             f'got {tuple(x.shape)}.')
        feat = self.conv3(self.conv2(self.conv1(x)))
        rlt_feats = [feat] if return_feats else None
        feat = self.conv5(self.conv4(feat))
        if return_feats:
            rlt_feats.append(feat)
        return self.final_conv(feat), rlt_feats
