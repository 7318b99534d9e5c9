"""Helpers shared by the network definitions: initialisation, channel tables, argument checks."""
import math

import torch
from torch import nn
from torch.nn import init
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'default_init_weights', 'make_layer', 'pixel_unshuffle', 'stylegan_channels', 'log2_size', 'check_input',
    'check_channels', 'interpolate'
]


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
