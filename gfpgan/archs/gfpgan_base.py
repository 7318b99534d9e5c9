"""The GFPGAN restorer shared by its three variants (v1, clean, bilinear).

A U-Net encodes the degraded face to a style code and, on its way back up, produces per-scale
SFT conditions (scale, shift) that modulate a pretrained StyleGAN2 decoder. Subclasses provide
only the layer types (``_make_*``); construction order, which fixes the state_dict order, and
the forward pass live here.
"""
import torch
from torch import nn

from .arch_util import check_channels, check_input, log2_size, precision_at, stylegan_channels

__all__ = ['GFPGANBase']


class GFPGANBase(nn.Module):
    """U-Net + SFT-modulated StyleGAN2 decoder.

    Input (B, 3, out_size, out_size) in [-1, 1]; output (image (B, 3, out_size, out_size),
    out_rgbs: list of (B, 3, 8 * 2**i, 8 * 2**i) intermediate RGB images when ``return_rgb``).
    """

    def __init__(self, out_size, num_style_feat, channel_multiplier, decoder_load_path, fix_decoder, num_mlp,
                 input_is_latent, different_w, narrow, sft_half, decoder_kwargs):
        super().__init__()
        name = type(self).__name__
        self.out_size = out_size
        self.input_is_latent = input_is_latent
        self.different_w = different_w
        self.num_style_feat = num_style_feat
        self.log_size = log2_size(out_size, name)
        channels = stylegan_channels(channel_multiplier, narrow * 0.5)  # the U-Net has half the decoder's width
        decoder_channels = stylegan_channels(channel_multiplier, narrow)
        check_channels(channels, name, [2**i for i in range(2, self.log_size + 1)])
        for res in [2**i for i in range(3, self.log_size + 1)]:
            unet_c, dec_c = channels[str(res)], decoder_channels[str(res)]
            if sft_half and dec_c % 2:
                raise ValueError(f'{name}: narrow={narrow} gives the decoder an odd channel count ({dec_c}) at '
                                 f'resolution {res}, which sft_half cannot split in half; choose narrow so that '
                                 '512 * narrow is even (e.g. 1, 0.5, 0.25).')
            if 2 * unet_c != dec_c:
                raise ValueError(
                    f'{name}: narrow={narrow} with channel_multiplier={channel_multiplier} gives the '
                    f'U-Net {unet_c} channels at resolution {res} but the decoder {dec_c}; the SFT '
                    'conditions need the U-Net at exactly half the decoder width (e.g. narrow 1, 0.5, 0.25).')

        first_out_size = 2**self.log_size
        self.conv_body_first = self._make_first_conv(3, channels[f'{first_out_size}'])
        in_channels = channels[f'{first_out_size}']
        self.conv_body_down = nn.ModuleList()
        for i in range(self.log_size, 2, -1):
            out_channels = channels[f'{2**(i - 1)}']
            self.conv_body_down.append(self._make_down_block(in_channels, out_channels))
            in_channels = out_channels
        self.final_conv = self._make_final_conv(in_channels, channels['4'])

        in_channels = channels['4']
        self.conv_body_up = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            out_channels = channels[f'{2**i}']
            self.conv_body_up.append(self._make_up_block(in_channels, out_channels))
            in_channels = out_channels

        self.toRGB = nn.ModuleList([self._make_to_rgb(channels[f'{2**i}']) for i in range(3, self.log_size + 1)])

        num_latent = self.log_size * 2 - 2
        linear_out_channel = num_latent * num_style_feat if different_w else num_style_feat
        self.final_linear = self._make_final_linear(channels['4'] * 4 * 4, linear_out_channel)

        self.stylegan_decoder = self._make_decoder(
            out_size=out_size,
            num_style_feat=num_style_feat,
            num_mlp=num_mlp,
            channel_multiplier=channel_multiplier,
            narrow=narrow,
            sft_half=sft_half,
            **decoder_kwargs)
        if decoder_load_path:
            from gfpgan.utils.checkpoint import load_network
            load_network(self.stylegan_decoder, decoder_load_path, param_key='params_ema', strict=True)
        if fix_decoder:
            for param in self.stylegan_decoder.parameters():
                param.requires_grad = False

        self.condition_scale = nn.ModuleList()
        self.condition_shift = nn.ModuleList()
        for i in range(3, self.log_size + 1):
            out_channels = channels[f'{2**i}']
            sft_out_channels = out_channels if sft_half else out_channels * 2
            self.condition_scale.append(self._make_condition(out_channels, sft_out_channels, bias_init_val=1))
            self.condition_shift.append(self._make_condition(out_channels, sft_out_channels, bias_init_val=0))

    # layer factories --------------------------------------------------------------------------
    def _make_first_conv(self, in_channels, out_channels):
        raise NotImplementedError

    def _make_down_block(self, in_channels, out_channels):
        raise NotImplementedError

    def _make_final_conv(self, in_channels, out_channels):
        raise NotImplementedError

    def _make_up_block(self, in_channels, out_channels):
        raise NotImplementedError

    def _make_to_rgb(self, in_channels):
        raise NotImplementedError

    def _make_final_linear(self, in_channels, out_channels):
        raise NotImplementedError

    def _make_decoder(self, **kwargs):
        raise NotImplementedError

    def _make_condition(self, in_channels, out_channels, bias_init_val):
        raise NotImplementedError

    def _body_act(self, x):
        """Activation after ``conv_body_first`` and ``final_conv`` (identity where the layer has its own)."""
        return x

    # forward ----------------------------------------------------------------------------------
    def forward(self, x, return_latents=False, return_rgb=True, randomize_noise=True, **kwargs):
        """x: (B, 3, out_size, out_size) in [-1, 1]. Extra keyword arguments (e.g. ``weight``) are ignored,
        as in the original. Returns (image, out_rgbs)."""
        check_input(x, type(self).__name__, 3, self.out_size)
        if x.device.type == 'cpu':
            # oneDNN convolutions run faster on NHWC activations (same values up to float32 rounding)
            x = x.contiguous(memory_format=torch.channels_last)
        unet_skips = []
        precision, x = precision_at(x, x.shape[-1], self.out_size)
        with precision:
            feat = self._body_act(self.conv_body_first(x))
        for block in self.conv_body_down:
            precision, feat = precision_at(feat, feat.shape[-1], self.out_size)
            with precision:
                feat = block(feat)
            unet_skips.insert(0, feat)
        precision, feat = precision_at(feat, feat.shape[-1], self.out_size)
        with precision:
            feat = self._body_act(self.final_conv(feat))
            style_code = self.final_linear(feat.reshape(feat.size(0), -1))
        if self.different_w:
            style_code = style_code.view(style_code.size(0), -1, self.num_style_feat)

        conditions = []
        out_rgbs = []
        for i in range(self.log_size - 2):
            precision, feat = precision_at(feat, 2 * feat.shape[-1], self.out_size)
            with precision:
                feat = feat + unet_skips[i] if torch.is_grad_enabled() else feat.add_(unet_skips[i])
                feat = self.conv_body_up[i](feat)
                conditions.append(self.condition_scale[i](feat))
                conditions.append(self.condition_shift[i](feat))
                if return_rgb:
                    out_rgbs.append(self.toRGB[i](feat))

        image, _ = self.stylegan_decoder([style_code],
                                         conditions,
                                         return_latents=return_latents,
                                         input_is_latent=self.input_is_latent,
                                         randomize_noise=randomize_noise)
        return image.contiguous(), [rgb.contiguous() for rgb in out_rgbs]
