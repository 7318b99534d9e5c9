"""What every StyleGAN2 generator variant here shares: style normalisation, the learned constant,
modulated convolution, noise injection, the to-RGB skip path, the construction of the synthesis
network, latent preparation (mapping, truncation, style mixing) and the synthesis loop, optionally
modulated by spatial feature transforms (SFT) as in GFPGAN.

Variants (BasicSR's original, the "clean" one, the bilinear one) differ only in their layer types.
"""
import random

import torch
from torch import nn
from torch.nn import functional as F

from .arch_util import check_channels, interpolate, log2_size, precision_at, stylegan_channels

__all__ = [
    'NormStyleCode', 'ConstantInput', 'ModulatedConv2dBase', 'ToRGBBase', 'StyleGAN2GeneratorBase', 'SFTGeneratorMixin',
    'apply_sft', 'inject_noise', 'modulate_weight', 'modulated_conv2d'
]


class NormStyleCode(nn.Module):
    """Pixel norm of style codes: x / sqrt(mean(x^2) + 1e-8) over dim 1, as the original: for a w+ code
    (B, num_latent, num_style_feat) that is across the latents (the original's GFPGANv1Clean does this with
    ``input_is_latent=False, different_w=True``, and outputs must stay the same)."""

    def forward(self, x):
        return x * torch.rsqrt(torch.mean(x**2, dim=1, keepdim=True) + 1e-8)


class ConstantInput(nn.Module):
    """Learned (1, C, size, size) input of the synthesis network, repeated over the batch."""

    def __init__(self, num_channel, size):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, num_channel, size, size))

    def forward(self, batch):
        return self.weight.repeat(batch, 1, 1, 1)


def modulate_weight(weight, style, demodulate, eps=1e-8):
    """Per-sample conv weights: weight (1, C_out, C_in, k, k) * style (B, C_in), optionally demodulated
    (each output filter scaled to unit L2 norm) -> (B, C_out, C_in, k, k).

    Computed in ``weight``'s dtype: under autocast the style comes out of a reduced-precision linear layer and is
    brought back to the float32 weight's dtype, so the modulation and the demodulating sum of C_in * k * k squares
    run in float32 (StyleGAN2-ADA normalises weights and styles first because it computes them in float16, where
    that sum overflows); only the convolution itself runs in reduced precision."""
    b, c = style.shape
    weight = weight * style.to(weight.dtype).view(b, 1, c, 1, 1)
    if demodulate:
        demod = torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + eps)
        weight = weight * demod.view(b, weight.shape[1], 1, 1, 1)
    return weight


def modulated_conv2d(x, weight, style, demodulate, eps, padding):
    """Per-sample modulated conv as one grouped conv.

    x: (B, C_in, H, W); weight: (1, C_out, C_in, k, k); style: (B, C_in) -> (B, C_out, H', W').
    """
    b, c, h, w = x.shape
    weight = modulate_weight(weight, style, demodulate, eps)
    c_out, k = weight.shape[1], weight.shape[-1]
    out = F.conv2d(x.reshape(1, b * c, h, w), weight.reshape(b * c_out, c, k, k), padding=padding, groups=b)
    return out.reshape(b, c_out, *out.shape[2:4])


def inject_noise(out, strength, noise=None):
    """out + strength * noise; noise (B, 1, H, W) ~ N(0, 1) is drawn as the official code draws it
    (``out.new_empty(b, 1, h, w).normal_()``) when None. In place when autograd is off."""
    if noise is None:
        b, _, h, w = out.shape
        noise = out.new_empty(b, 1, h, w).normal_()
    if torch.is_grad_enabled():
        return out + (strength * noise).to(out.dtype)  # a reduced-precision activation stays so
    return out.add_(strength * noise)


class ModulatedConv2dBase(nn.Module):
    """Style-modulated (optionally demodulated) conv with x2 / x0.5 interpolation before it.

    Subclasses create ``modulation`` (style -> per-channel scales) and ``weight`` (1, C_out, C_in, k, k),
    and override ``conv_weight`` when the weight carries a run-time scale.
    x: (B, in_channels, H, W), style: (B, num_style_feat) -> (B, out_channels, H', W').
    """
    interpolation_mode = 'bilinear'

    def __init__(self, in_channels, out_channels, kernel_size, demodulate=True, sample_mode=None, eps=1e-8):
        super().__init__()
        if sample_mode not in ('upsample', 'downsample', None):
            raise ValueError(f"{type(self).__name__} sample_mode must be 'upsample', 'downsample' or None, "
                             f'got {sample_mode!r}.')
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = kernel_size
        self.demodulate = demodulate
        self.sample_mode = sample_mode
        self.eps = eps
        self.padding = kernel_size // 2

    def conv_weight(self):
        return self.weight

    def forward(self, x, style):
        style = self.modulation(style)
        if self.sample_mode is not None:
            x = interpolate(x, 2 if self.sample_mode == 'upsample' else 0.5, self.interpolation_mode)
        return modulated_conv2d(x, self.conv_weight(), style, self.demodulate, self.eps, self.padding)

    def extra_repr(self):
        return (f'in_channels={self.in_channels}, out_channels={self.out_channels}, kernel_size={self.kernel_size}, '
                f'demodulate={self.demodulate}, sample_mode={self.sample_mode}')


class ToRGBBase(nn.Module):
    """1x1 modulated conv to RGB + ``bias``, plus the skip image of the previous scale, upsampled.

    Subclasses create ``modulated_conv`` and ``bias`` and define ``upsample_skip``.
    """

    def upsample_skip(self, skip):
        raise NotImplementedError

    def forward(self, x, style, skip=None):
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            skip = self.upsample_skip(skip)
            out = out + skip if torch.is_grad_enabled() else out.add_(skip)
        return out


def apply_sft(out, scale, shift, sft_half):
    """Spatial feature transform ``out * scale + shift``, on all channels or only the second half."""
    c = out.shape[1]
    if not sft_half:
        if torch.is_grad_enabled():
            return out * scale + shift
        return out.mul_(scale).add_(shift)
    if torch.is_grad_enabled():
        out_same, out_sft = torch.split(out, c // 2, dim=1)
        return torch.cat([out_same, out_sft * scale + shift], dim=1)
    out[:, c // 2:].mul_(scale).add_(shift)
    return out


class StyleGAN2GeneratorBase(nn.Module):
    """Construction and forward shared by the StyleGAN2 generators.

    Subclasses name their layer classes (``style_conv_cls``, ``to_rgb_cls``), set ``layer_kwargs`` (the
    resampling options those classes take), define ``_make_style_mlp`` and call ``super().__init__``.
    Modules (hence the state_dict) and random initialisation come in the official order.
    """
    layer_kwargs = {}

    def __init__(self, out_size, num_style_feat, num_mlp, channel_multiplier, narrow):
        super().__init__()
        name = type(self).__name__
        self.num_style_feat = num_style_feat
        self.log_size = log2_size(out_size, name)
        self.channels = channels = stylegan_channels(channel_multiplier, narrow)
        check_channels(channels, name, [2**i for i in range(2, self.log_size + 1)])

        self.style_mlp = self._make_style_mlp(num_style_feat, num_mlp)
        self.constant_input = ConstantInput(channels['4'], size=4)
        self.style_conv1 = self._make_style_conv(channels['4'], channels['4'], num_style_feat, sample_mode=None)
        self.to_rgb1 = self._make_to_rgb(channels['4'], num_style_feat, upsample=False)
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.num_latent = self.log_size * 2 - 2
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for layer_idx in range(self.num_layers):
            resolution = 2**((layer_idx + 5) // 2)
            self.noises.register_buffer(f'noise{layer_idx}', torch.randn(1, 1, resolution, resolution))
        in_channels = channels['4']
        for i in range(3, self.log_size + 1):
            out_channels = channels[f'{2**i}']
            self.style_convs.append(
                self._make_style_conv(in_channels, out_channels, num_style_feat, sample_mode='upsample'))
            self.style_convs.append(self._make_style_conv(out_channels, out_channels, num_style_feat, sample_mode=None))
            self.to_rgbs.append(self._make_to_rgb(out_channels, num_style_feat, upsample=True))
            in_channels = out_channels

    def _make_style_mlp(self, num_style_feat, num_mlp):
        raise NotImplementedError

    def _make_style_conv(self, in_channels, out_channels, num_style_feat, sample_mode):
        return self.style_conv_cls(
            in_channels,
            out_channels,
            kernel_size=3,
            num_style_feat=num_style_feat,
            demodulate=True,
            sample_mode=sample_mode,
            **self.layer_kwargs)

    def _make_to_rgb(self, in_channels, num_style_feat, upsample):
        return self.to_rgb_cls(in_channels, num_style_feat, upsample=upsample, **self.layer_kwargs)

    def make_noise(self):
        """Fresh random noise maps, one per style conv: [(1, 1, 4, 4), (1, 1, 8, 8), (1, 1, 8, 8), ...]."""
        device = self.constant_input.weight.device
        noises = [torch.randn(1, 1, 4, 4, device=device)]
        for i in range(3, self.log_size + 1):
            for _ in range(2):
                noises.append(torch.randn(1, 1, 2**i, 2**i, device=device))
        return noises

    def get_latent(self, x):
        """Map z (B, num_style_feat) to w with the style MLP."""
        return self.style_mlp(x)

    def mean_latent(self, num_latent):
        """Mean w of ``num_latent`` random z, (1, num_style_feat): the truncation centre."""
        latent_in = torch.randn(num_latent, self.num_style_feat, device=self.constant_input.weight.device)
        return self.style_mlp(latent_in).mean(0, keepdim=True)

    def forward(self,
                styles,
                input_is_latent=False,
                noise=None,
                randomize_noise=True,
                truncation=1,
                truncation_latent=None,
                inject_index=None,
                return_latents=False):
        """styles: list of one or two (B, num_style_feat) codes (z, or w if input_is_latent), or one
        (B, num_latent, num_style_feat) w+. Returns (image (B, 3, out_size, out_size), latent or None)."""
        return self._generate(styles, None, input_is_latent, noise, randomize_noise, truncation, truncation_latent,
                              inject_index, return_latents)

    def _latent_codes(self, styles, input_is_latent, truncation, truncation_latent, inject_index):
        name = type(self).__name__
        if not isinstance(styles, (list, tuple)) or len(styles) not in (1, 2):
            raise ValueError(f'{name} expects styles as a list of one or two tensors, got {type(styles).__name__}'
                             f'{f" of length {len(styles)}" if isinstance(styles, (list, tuple)) else ""}.')
        for style in styles:
            if not torch.is_tensor(style) or style.ndim not in (2, 3) or style.shape[-1] != self.num_style_feat or (
                    style.ndim == 3 and style.shape[1] != self.num_latent):
                raise ValueError(f'{name} expects style codes of shape (B, {self.num_style_feat}) or '
                                 f'(B, {self.num_latent}, {self.num_style_feat}), got '
                                 f'{tuple(style.shape) if torch.is_tensor(style) else type(style).__name__}.')
        if not input_is_latent:
            styles = [self.style_mlp(s) for s in styles]
        if truncation < 1:
            styles = [truncation_latent + truncation * (style - truncation_latent) for style in styles]
        if len(styles) == 1:
            if styles[0].ndim < 3:
                return styles[0].unsqueeze(1).repeat(1, self.num_latent, 1)
            return styles[0]
        if inject_index is None:
            inject_index = random.randint(1, self.num_latent - 1)
        latent1 = styles[0].unsqueeze(1).repeat(1, inject_index, 1)
        latent2 = styles[1].unsqueeze(1).repeat(1, self.num_latent - inject_index, 1)
        return torch.cat([latent1, latent2], 1)

    def _generate(self, styles, conditions, input_is_latent, noise, randomize_noise, truncation, truncation_latent,
                  inject_index, return_latents):
        latent = self._latent_codes(styles, input_is_latent, truncation, truncation_latent, inject_index)
        if noise is None:
            if randomize_noise:
                noise = [None] * self.num_layers
            else:
                noise = [getattr(self.noises, f'noise{i}') for i in range(self.num_layers)]

        out_size = 2**self.log_size
        out = self.constant_input(latent.shape[0])
        precision, out = precision_at(out, 4, out_size)
        with precision:
            out = self.style_conv1(out, latent[:, 0], noise=noise[0])
            skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for conv1, conv2, noise1, noise2, to_rgb in zip(self.style_convs[::2], self.style_convs[1::2], noise[1::2],
                                                        noise[2::2], self.to_rgbs):
            precision, out = precision_at(out, 2 * out.shape[-1], out_size)
            with precision:
                out = conv1(out, latent[:, i], noise=noise1)
                # conditions = [scale_8, shift_8, scale_16, shift_16, ...]; there may be fewer levels than layers
                if conditions is not None and i < len(conditions):
                    out = apply_sft(out, conditions[i - 1], conditions[i], self.sft_half)
                out = conv2(out, latent[:, i + 1], noise=noise2)
                skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip, (latent if return_latents else None)


class SFTGeneratorMixin:
    """Adds the SFT forward ``(styles, conditions, ...)`` used as GFPGAN's decoder."""

    def forward(self,
                styles,
                conditions,
                input_is_latent=False,
                noise=None,
                randomize_noise=True,
                truncation=1,
                truncation_latent=None,
                inject_index=None,
                return_latents=False):
        """conditions: [scale_8, shift_8, scale_16, shift_16, ...] (B, C or C/2 if sft_half, res, res)."""
        return self._generate(styles, conditions, input_is_latent, noise, randomize_noise, truncation,
                              truncation_latent, inject_index, return_latents)
