"""GFPGANv1Clean: the release architecture of GFPGAN v1.2, v1.3 and v1.4 (no custom ops:
plain convolutions, bilinear resampling, the clean StyleGAN2 decoder)."""
import torch
from torch import nn
from torch.nn import functional as F

from gfpgan.registry import ARCH_REGISTRY
from .arch_util import clamp_fp16, interpolate
from .gfpgan_base import GFPGANBase
from .stylegan2_base import SFTGeneratorMixin
from .stylegan2_clean_arch import StyleGAN2GeneratorClean

__all__ = ['StyleGAN2GeneratorCSFT', 'ResBlock', 'GFPGANv1Clean']


@ARCH_REGISTRY.register()
class StyleGAN2GeneratorCSFT(SFTGeneratorMixin, StyleGAN2GeneratorClean):
    """Clean StyleGAN2 generator whose features are modulated by SFT conditions.

    Args: as StyleGAN2GeneratorClean, plus ``sft_half`` (modulate only the second half of the channels).
    """

    def __init__(self, out_size, num_style_feat=512, num_mlp=8, channel_multiplier=2, narrow=1, sft_half=False):
        super().__init__(
            out_size,
            num_style_feat=num_style_feat,
            num_mlp=num_mlp,
            channel_multiplier=channel_multiplier,
            narrow=narrow)
        self.sft_half = sft_half


class ResBlock(nn.Module):
    """Residual block with bilinear resampling: lrelu(conv1) -> resample -> lrelu(conv2), + resample -> 1x1 skip.

    Args:
        mode (str): 'down' (x0.5) or 'up' (x2).
    """

    def __init__(self, in_channels, out_channels, mode='down'):
        super().__init__()
        if mode not in ('down', 'up'):
            raise ValueError(f"ResBlock mode must be 'down' or 'up', got {mode!r}.")
        self.conv1 = nn.Conv2d(in_channels, in_channels, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.scale_factor = 0.5 if mode == 'down' else 2

    def forward(self, x):
        out = F.leaky_relu_(self.conv1(x), negative_slope=0.2)
        out = interpolate(out, self.scale_factor)
        out = F.leaky_relu_(self.conv2(out), negative_slope=0.2)
        if self.scale_factor > 1:
            # upsampling: the 1x1 skip conv commutes with bilinear interpolation (both linear, no bias),
            # so run it at the low resolution on in_channels and interpolate its out_channels result
            skip = interpolate(self.skip(x), self.scale_factor)
        else:
            skip = self.skip(interpolate(x, self.scale_factor))
        return clamp_fp16(out + skip if torch.is_grad_enabled() else out.add_(skip))


@ARCH_REGISTRY.register()
class GFPGANv1Clean(GFPGANBase):
    """GFPGAN with the clean architecture (GFPGAN v1.2 / v1.3 / v1.4 releases).

    Args:
        out_size (int): face size, a power of two (512 for the releases).
        num_style_feat (int): style code width. Default 512.
        channel_multiplier (int): decoder width multiplier (2 for the releases). Default 1.
        decoder_load_path (str): clean StyleGAN2 checkpoint whose ``params_ema`` is loaded into the decoder.
        fix_decoder (bool): freeze the decoder. Default True.
        num_mlp (int): decoder mapping-MLP layers. Default 8.
        input_is_latent (bool): feed the style code as w (skip the mapping MLP). Default False.
        different_w (bool): one style code per decoder layer (w+). Default False.
        narrow (float): width ratio. Default 1.
        sft_half (bool): modulate only half of the decoder channels. Default False.
    """

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 channel_multiplier=1,
                 decoder_load_path=None,
                 fix_decoder=True,
                 num_mlp=8,
                 input_is_latent=False,
                 different_w=False,
                 narrow=1,
                 sft_half=False):
        super().__init__(out_size, num_style_feat, channel_multiplier, decoder_load_path, fix_decoder, num_mlp,
                         input_is_latent, different_w, narrow, sft_half, {})

    def _make_first_conv(self, in_channels, out_channels):
        return nn.Conv2d(in_channels, out_channels, 1)

    def _make_down_block(self, in_channels, out_channels):
        return ResBlock(in_channels, out_channels, mode='down')

    def _make_final_conv(self, in_channels, out_channels):
        return nn.Conv2d(in_channels, out_channels, 3, 1, 1)

    def _make_up_block(self, in_channels, out_channels):
        return ResBlock(in_channels, out_channels, mode='up')

    def _make_to_rgb(self, in_channels):
        return nn.Conv2d(in_channels, 3, 1)

    def _make_final_linear(self, in_channels, out_channels):
        return nn.Linear(in_channels, out_channels)

    def _make_decoder(self, **kwargs):
        return StyleGAN2GeneratorCSFT(**kwargs)

    def _make_condition(self, in_channels, out_channels, bias_init_val):
        return nn.Sequential(
            nn.Conv2d(in_channels, in_channels, 3, 1, 1), nn.LeakyReLU(0.2, True),
            nn.Conv2d(in_channels, out_channels, 3, 1, 1))

    def _body_act(self, x):
        return F.leaky_relu_(x, negative_slope=0.2)
