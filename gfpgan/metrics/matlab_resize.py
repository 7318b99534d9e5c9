"""MATLAB's ``imresize`` (bicubic, optional antialiasing) in NumPy, as the NIQE reference code relies on it.

MATLAB resizes one dimension at a time with a separable cubic kernel (a = -0.5); when shrinking with
antialiasing the kernel is stretched by ``1 / scale`` so that it also low-passes. Borders are handled by
mirroring indices (symmetric padding). BasicSR's ``matlab_functions.imresize`` implements the same
definition; this module reproduces its results (for float32 input, the arithmetic is float32 as there).
"""
import math

import numpy as np

__all__ = ['imresize', 'cubic', 'resize_weights_indices']


def cubic(x):
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's ``cubic``), evaluated elementwise."""
    absx = np.abs(x)
    absx2, absx3 = absx**2, absx**3
    near = (1.5 * absx3 - 2.5 * absx2 + 1) * (absx <= 1)
    far = (-0.5 * absx3 + 2.5 * absx2 - 4 * absx + 2) * ((absx > 1) & (absx <= 2))
    return near + far


def resize_weights_indices(in_length, out_length, scale, antialiasing=True, kernel_width=4.0):
    """Weights (out_length, taps) float64 and 0-based input indices (out_length, taps) of a 1-D resize.

    Output pixel k (1-based) is centred at input coordinate ``k / scale + 0.5 * (1 - 1 / scale)``, so pixel
    edges line up. Each row of weights sums to one; columns that are zero in every row are dropped, and
    indices outside [0, in_length) are mirrored back into it (MATLAB's symmetric border).
    """
    if scale < 1 and antialiasing:
        kernel_width = kernel_width / scale
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - kernel_width / 2)
    taps = math.ceil(kernel_width) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, as in MATLAB
    distance = u[:, None] - indices
    if scale < 1 and antialiasing:
        weights = scale * cubic(distance * scale)
    else:
        weights = cubic(distance)
    weights = weights / weights.sum(axis=1, keepdims=True)
    keep = np.any(weights != 0, axis=0)
    weights, indices = weights[:, keep], indices[:, keep]
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    return weights, indices


def _resize_axis(img, axis, out_length, scale, antialiasing):
    """Resize ``img`` along ``axis``; the weighted sum runs tap by tap, in the dtype of ``img``."""
    weights, indices = resize_weights_indices(img.shape[axis], out_length, scale, antialiasing)
    weights = weights.astype(img.dtype)
    moved = np.moveaxis(img, axis, 0)
    out = np.zeros((out_length, ) + moved.shape[1:], dtype=img.dtype)
    shape = (out_length, ) + (1, ) * (moved.ndim - 1)
    for tap in range(weights.shape[1]):
        out += weights[:, tap].reshape(shape) * moved[indices[:, tap]]
    return np.moveaxis(out, 0, axis)


def imresize(img, scale, antialiasing=True):
    """MATLAB ``imresize(img, scale, 'bicubic')`` of a float (H, W) or (H, W, C) array, not rounded or clipped.

    The output is (ceil(H * scale), ceil(W * scale)[, C]); height is resized first, then width, as MATLAB
    does for equal scales. float32 input is computed in float32 (like BasicSR), anything else in float64.
    """
    img = np.asarray(img)
    if img.ndim not in (2, 3):
        raise ValueError(f'imresize needs an (H, W) or (H, W, C) array, got shape {img.shape}.')
    if not scale > 0:
        raise ValueError(f'imresize needs a positive scale, got {scale}.')
    if img.shape[0] < 1 or img.shape[1] < 1:
        raise ValueError(f'imresize needs a non-empty image, got shape {img.shape}.')
    img = img.astype(np.float32 if img.dtype == np.float32 else np.float64, copy=False)
    out_h, out_w = math.ceil(img.shape[0] * scale), math.ceil(img.shape[1] * scale)
    out = _resize_axis(img, 0, out_h, scale, antialiasing)
    return _resize_axis(out, 1, out_w, scale, antialiasing)
