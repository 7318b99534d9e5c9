"""upfirdn2d: upsample by zero insertion, pad, apply a 2-D FIR filter, downsample by striding.

Two implementations of the same operation (StyleGAN2's resampling primitive):

* ``impl='ref'``: the literal definition (zero insertion, padding, a single-channel convolution
  with the flipped kernel, striding), kept as the test oracle;
* ``impl='fast'`` (default): depthwise ``conv_transpose2d`` for the upsampling (no multiplications
  by inserted zeros) and a strided depthwise ``conv2d`` for the filtering/downsampling.

Both are plain PyTorch: they run on CPU and CUDA and support double backward (needed by R1).
"""
import torch
from torch.nn import functional as F

__all__ = ['upfirdn2d', 'upfirdn2d_ref']


def _parse_pad(pad):
    """(p0, p1) for both axes, or (x0, x1, y0, y1) -> (x0, x1, y0, y1)."""
    if len(pad) == 2:
        return pad[0], pad[1], pad[0], pad[1]
    if len(pad) == 4:
        return tuple(pad)
    raise ValueError(f'upfirdn2d pad must have 2 or 4 entries, got {pad!r}.')


def upfirdn2d_ref(x, kernel, up=1, down=1, pad=(0, 0)):
    """Reference upfirdn2d. x: (B, C, H, W); kernel: (kh, kw); pad: (p0, p1) or (x0, x1, y0, y1).

    Output size per axis: (in * up + p0 + p1 - k) // down + 1. Negative pads crop.
    """
    px0, px1, py0, py1 = _parse_pad(pad)
    b, c, h, w = x.shape
    kh, kw = kernel.shape
    out = x.reshape(b * c, 1, h, 1, w, 1)
    # zero insertion: each sample followed by (up - 1) zeros
    out = F.pad(out, [0, up - 1, 0, 0, 0, up - 1])
    out = out.reshape(b * c, 1, h * up, w * up)
    # zero padding, then cropping for negative pads
    out = F.pad(out, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    out = out[:, :, max(-py0, 0):out.shape[2] - max(-py1, 0), max(-px0, 0):out.shape[3] - max(-px1, 0)]
    # FIR filter: true convolution = correlation with the flipped kernel
    weight = torch.flip(kernel, [0, 1]).reshape(1, 1, kh, kw).to(out)
    out = F.conv2d(out, weight)
    out = out[:, :, ::down, ::down]
    return out.reshape(b, c, out.shape[2], out.shape[3])


def _upfirdn2d_fast(x, kernel, up, down, pad):
    px0, px1, py0, py1 = _parse_pad(pad)
    c = x.shape[1]
    kh, kw = kernel.shape
    kernel = kernel.to(x)
    if up > 1:
        # Full transposed convolution (zero insertion + FIR without the multiplications by zero).
        # Index m of the full output is index m - (k - 1) + p0 of the upfirdn output.
        x = F.conv_transpose2d(x, kernel.expand(c, 1, kh, kw).contiguous(), stride=up, groups=c)
        x = F.pad(x, [px0 - kw + 1, px1 + up - kw, py0 - kh + 1, py1 + up - kh])
        if down > 1:
            x = x[:, :, ::down, ::down]
        return x
    if any((px0, px1, py0, py1)):
        x = F.pad(x, [px0, px1, py0, py1])
    weight = torch.flip(kernel, [0, 1]).expand(c, 1, kh, kw).contiguous()
    return F.conv2d(x, weight, stride=down, groups=c)


def upfirdn2d(x, kernel, up=1, down=1, pad=(0, 0), impl='fast'):
    """Upsample (zero insertion), pad, FIR-filter and downsample ``x`` (B, C, H, W) with ``kernel`` (kh, kw).

    Args:
        up, down (int): integer resampling factors, the same on both axes.
        pad: (p0, p1) applied to both axes, or (x0, x1, y0, y1); negative values crop.
        impl (str): 'fast' (default) or 'ref' (the literal definition).
    """
    if x.ndim != 4:
        raise ValueError(f'upfirdn2d expects a (B, C, H, W) tensor, got shape {tuple(x.shape)}.')
    if kernel.ndim != 2:
        raise ValueError(f'upfirdn2d expects a 2-D kernel, got shape {tuple(kernel.shape)}.')
    if up < 1 or down < 1:
        raise ValueError(f'upfirdn2d factors must be >= 1, got up={up}, down={down}.')
    if impl == 'ref':
        return upfirdn2d_ref(x, kernel, up, down, pad)
    if impl == 'fast':
        return _upfirdn2d_fast(x, kernel, up, down, pad)
    raise ValueError(f"upfirdn2d impl must be 'fast' or 'ref', got {impl!r}.")
