"""Bias + leaky ReLU + gain: StyleGAN2's "fused" activation, in plain PyTorch.

``fused_leaky_relu(x, b) = leaky_relu(x + b, 0.2) * sqrt(2)``, the bias broadcast over dim 1.
``impl='ref'`` is the literal formula (the test oracle); ``impl='fast'`` computes the same values
in place when no gradient is needed (inference), and falls back to the reference otherwise.
Autograd handles the backward and the double backward that R1 regularisation needs.

Mixed precision: the bias is cast to ``x``'s dtype, so a bfloat16 / float16 activation stays in that dtype instead
of being promoted to float32 by the float32 bias; under float16 autocast the result is clamped (``clamp_fp16``).
"""
import math

import torch
from torch import nn
from torch.nn import functional as F

from ..arch_util import clamp_fp16

__all__ = ['FusedLeakyReLU', 'fused_leaky_relu', 'fused_leaky_relu_ref']


def _bias_view(bias, x):
    return bias.to(x.dtype).view(1, bias.shape[0], *([1] * (x.ndim - 2)))


def fused_leaky_relu_ref(x, bias=None, negative_slope=0.2, scale=math.sqrt(2)):
    """x: (B, C, ...); bias: (C,) or None."""
    if bias is not None:
        x = x + _bias_view(bias, x)
    return F.leaky_relu(x, negative_slope) * scale


def fused_leaky_relu(x, bias=None, negative_slope=0.2, scale=math.sqrt(2), impl='fast'):
    """Add ``bias`` over dim 1, apply leaky ReLU, multiply by ``scale``; same values for both impls."""
    if impl == 'ref' or torch.is_grad_enabled() and (x.requires_grad or (bias is not None and bias.requires_grad)):
        return clamp_fp16(fused_leaky_relu_ref(x, bias, negative_slope, scale))
    if impl != 'fast':
        raise ValueError(f"fused_leaky_relu impl must be 'fast' or 'ref', got {impl!r}.")
    out = x + _bias_view(bias, x) if bias is not None else x.clone()
    return clamp_fp16(F.leaky_relu_(out, negative_slope).mul_(scale))


class FusedLeakyReLU(nn.Module):
    """Learned per-channel bias followed by scaled leaky ReLU (state_dict key: ``bias``)."""

    def __init__(self, channels, negative_slope=0.2, scale=math.sqrt(2)):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(channels))
        self.negative_slope = negative_slope
        self.scale = scale

    def forward(self, x):
        return fused_leaky_relu(x, self.bias, self.negative_slope, self.scale)
