"""Helpers shared by the network definitions: initialisation, channel tables, argument checks, and the
mixed-precision rules of the StyleGAN2 family (which layers follow autocast, the float16 activation clamp)."""
import contextlib
import math

import torch
from torch import nn
from torch.nn import init
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'default_init_weights', 'make_layer', 'pixel_unshuffle', 'stylegan_channels', 'log2_size', 'check_input',
    'check_channels', 'interpolate', 'REDUCED_PRECISION_LEVELS', 'FP16_CLAMP', 'autocast_dtype', 'precision_at',
    'clamp_fp16'
]

#: Under float16 autocast, the StyleGAN2-family networks run only their layers at the four highest resolutions (512 ..
#: 64 for a 512 network) in float16, the rest in float32: StyleGAN2-ADA's choice (num_fp16_res = 4). The
#: low-resolution layers carry the style path and the widest channel sums, where float16's range (65504) is at risk.
#: bfloat16 has float32's range, so under bfloat16 autocast every layer follows it: the 4 .. 32 layers are a quarter
#: of GFPGANv1's convolution work (channel_multiplier 1; each level from 32 up costs about the same), too much to
#: leave in float32 for nothing.
REDUCED_PRECISION_LEVELS = 4
#: Activations are clamped to +-FP16_CLAMP after each activation in float16 autocast (StyleGAN2-ADA's conv_clamp):
#: far above what trained GFPGAN layers produce, far below float16's 65504, so a spike cannot become an inf.
FP16_CLAMP = 256.


@torch.no_grad()
def default_init_weights(module_list, scale=1, bias_fill=0, **kwargs):
    """Kaiming-normal init of every Conv2d/Linear (weights times ``scale``, biases ``bias_fill``); BN to identity."""
    if not isinstance(module_list, (list, tuple)):
        module_list = [module_list]
    for module in module_list:
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                init.kaiming_normal_(m.weight, **kwargs)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)
            elif isinstance(m, _BatchNorm):
                init.constant_(m.weight, 1)
                if m.bias is not None:
                    m.bias.fill_(bias_fill)


def interpolate(x, scale_factor, mode='bilinear'):
    """F.interpolate by ``scale_factor`` with align_corners=False for the linear modes (None for 'nearest')."""
    align_corners = None if mode == 'nearest' else False
    return torch.nn.functional.interpolate(x, scale_factor=scale_factor, mode=mode, align_corners=align_corners)


def make_layer(block, num_blocks, **kwargs):
    """``nn.Sequential`` of ``num_blocks`` instances of ``block(**kwargs)``."""
    return nn.Sequential(*[block(**kwargs) for _ in range(num_blocks)])


def pixel_unshuffle(x, scale):
    """(B, C, H*s, W*s) -> (B, C*s*s, H, W), channel order (c, dy, dx) as in Real-ESRGAN."""
    b, c, hh, hw = x.shape
    if hh % scale or hw % scale:
        raise ValueError(f'pixel_unshuffle needs height and width divisible by {scale}, got {hh}x{hw}.')
    return torch.nn.functional.pixel_unshuffle(x, scale)


def stylegan_channels(channel_multiplier=2, narrow=1):
    """Channels per resolution of the StyleGAN2 family (keys are resolutions as strings, '4' .. '1024')."""
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}
    return {str(res): int(ch * (channel_multiplier if res >= 64 else 1) * narrow) for res, ch in base.items()}


def log2_size(out_size, owner, min_size=8, max_size=1024):
    """log2(out_size), or a ValueError naming ``owner`` when out_size is not a power of two in range."""
    if not isinstance(out_size, int) or isinstance(out_size, bool) or out_size < min_size or out_size > max_size \
            or out_size & (out_size - 1):
        raise ValueError(f'{owner}: out_size must be a power of two between {min_size} and {max_size}, '
                         f'got {out_size!r}.')
    return int(math.log2(out_size))


def check_channels(channels, owner, sizes):
    """ValueError naming ``owner`` when a narrow/channel_multiplier leaves a resolution with no channels."""
    for size in sizes:
        if channels[str(size)] < 1:
            raise ValueError(f'{owner}: narrow/channel_multiplier leave {channels[str(size)]} channels at '
                             f'resolution {size}; increase narrow or channel_multiplier.')


def check_input(x, owner, channels, size=None):
    """Raise a ValueError naming ``owner`` unless x is (B, channels, size, size) (any size if None)."""
    if not torch.is_tensor(x) or x.ndim != 4 or x.shape[1] != channels or x.shape[0] < 1 or (size is not None and tuple(
            x.shape[2:]) != (size, size)):
        want = f'(B, {channels}, {size}, {size})' if size is not None else f'(B, {channels}, H, W)'
        got = tuple(x.shape) if torch.is_tensor(x) else type(x).__name__
        raise ValueError(f'{owner} expects an input tensor of shape {want}, got {got}.')


def autocast_dtype(x):
    """The reduced dtype autocast is running ``x``'s device in now, or None when autocast is off there."""
    device_type = x.device.type
    if not torch.is_autocast_enabled(device_type):
        return None
    return torch.get_autocast_dtype(device_type)


def precision_at(x, resolution, out_size):
    """(context, x) for the layers working at ``resolution`` in a network of ``out_size``: under float16 autocast,
    autocast at the REDUCED_PRECISION_LEVELS highest resolutions and, below them, autocast off with ``x`` in float32;
    otherwise (no autocast, bfloat16) a null context and ``x`` unchanged, so float32 runs are untouched."""
    if resolution >= out_size >> (REDUCED_PRECISION_LEVELS - 1) or autocast_dtype(x) != torch.float16:
        return contextlib.nullcontext(), x
    return torch.autocast(x.device.type, enabled=False), x.float()


def clamp_fp16(x):
    """``x`` clamped to +-FP16_CLAMP when it is a float16 activation under autocast (mixed-precision training), else
    ``x`` itself. A model cast wholesale to half (``--half`` inference, as the original) is not clamped."""
    if x.dtype != torch.float16 or autocast_dtype(x) is None:
        return x
    return x.clamp(-FP16_CLAMP, FP16_CLAMP)
