"""NIQE, the no-reference "Natural Image Quality Evaluator" (Mittal et al., "Making a 'completely blind'
image quality analyzer", IEEE SPL 2013), with BasicSR's ``calculate_niqe`` semantics (``val.metrics`` entry
``type: calculate_niqe``); lower is better.

An image is cut into 96x96 blocks; each block gives 18 statistics of its mean-subtracted contrast-normalised
(MSCN) coefficients at full and at half resolution (36 in all); the multivariate Gaussian of those block
features is compared with one fitted on pristine images. The pristine model (``niqe_pris_params.npz``, the
one BasicSR ships) is a data file resolved like pretrained weights; ``fit_niqe_params`` builds one from
your own images.

To reproduce BasicSR's numbers, ``calculate_niqe`` follows its arithmetic: the Y (or gray) image is
float32 and rounded to integers, and the features are computed in float32 from there.
"""
import warnings
from collections.abc import Mapping
from functools import lru_cache

import cv2
import numpy as np
from scipy.ndimage import convolve
from scipy.special import gamma

from gfpgan.registry import METRIC_REGISTRY
from gfpgan.utils.fileio import atomic_write
from gfpgan.utils.weights import resolve_weights
from .base import Metric
from .matlab_resize import imresize
from .psnr_ssim import Y_FROM_BGR

__all__ = [
    'calculate_niqe', 'niqe', 'load_niqe_params', 'save_niqe_params', 'fit_niqe_params', 'niqe_block_features',
    'matlab_gaussian_window', 'NIQE_PARAMS_FILE', 'required_weights', 'NIQE'
]

NIQE_PARAMS_FILE = 'niqe_pris_params.npz'
NIQE_FEATURES = 36  # 18 per scale, two scales
_PARAM_KEYS = ('mu_pris_param', 'cov_pris_param', 'gaussian_window')

# The AGGD shape is found by table look-up: the ratio E[|x|]^2 / E[x^2] of a generalised Gaussian with
# shape a is gamma(2/a)^2 / (gamma(1/a) gamma(3/a)); shapes 0.2..10 in steps of 0.001 (as the MATLAB code).
_SHAPES = np.arange(0.2, 10.001, 0.001)
_RECIPROCAL_SHAPES = np.reciprocal(_SHAPES)
_SHAPE_RATIOS = np.square(gamma(_RECIPROCAL_SHAPES * 2)) / (gamma(_RECIPROCAL_SHAPES) * gamma(_RECIPROCAL_SHAPES * 3))

# neighbour offsets of the paired products: horizontal, vertical, main and anti-diagonal
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def required_weights(path=None):
    """(file name or path, what it is) of the pristine model load_niqe_params(path) reads."""
    return [(NIQE_PARAMS_FILE if path is None else path, 'the NIQE pristine model')]


def matlab_gaussian_window(size=7, sigma=7 / 6):
    """MATLAB's ``fspecial('gaussian', size, sigma)``: a (size, size) float64 Gaussian summing to one; the
    MSCN window of NIQE is the 7x7 one with sigma 7/6."""
    x = np.arange(size) - (size - 1) / 2
    window = np.exp(-(x[:, None]**2 + x[None, :]**2) / (2 * sigma**2))
    return window / window.sum()


def _aggd_fit(x):
    """Moment-matching fit of an asymmetric generalised Gaussian to the values of ``x``: (shape, left scale,
    right scale), Eq. 7 of the paper. An empty side gives NaN scales (and the first shape of the table)."""
    x = x.flatten()
    left_std = np.sqrt(np.mean(x[x < 0]**2))
    right_std = np.sqrt(np.mean(x[x > 0]**2))
    gammahat = left_std / right_std
    rhat = (np.mean(np.abs(x)))**2 / np.mean(x**2)
    rhatnorm = (rhat * (gammahat**3 + 1) * (gammahat + 1)) / ((gammahat**2 + 1)**2)
    shape = _SHAPES[np.argmin((_SHAPE_RATIOS - rhatnorm)**2)]
    spread = np.sqrt(gamma(1 / shape) / gamma(3 / shape))
    return shape, left_std * spread, right_std * spread


def _block_statistics(block):
    """The 18 features of one MSCN block: GGD shape and scale of the coefficients, then for each of the four
    neighbour products the AGGD shape, mean (Eq. 8), left and right scales."""
    shape, left, right = _aggd_fit(block)
    feat = [shape, (left + right) / 2]
    for shift in _SHIFTS:
        shape, left, right = _aggd_fit(block * np.roll(block, shift, axis=(0, 1)))
        mean = (right - left) * (gamma(2 / shape) / gamma(1 / shape))
        feat.extend([shape, mean, left, right])
    return feat


def _mscn(img, window):
    """Mean-subtracted contrast-normalised coefficients (Eq. 1, C = 1) and the local deviation sigma, with
    a replicated border (MATLAB's ``imfilter(..., 'replicate')``); in the dtype of ``img``."""
    mu = convolve(img, window, mode='nearest')
    sigma = np.sqrt(np.abs(convolve(np.square(img), window, mode='nearest') - np.square(mu)))
    return (img - mu) / (sigma + 1), sigma


def _check_block_size(block_size_h, block_size_w):
    for name, value in (('block_size_h', block_size_h), ('block_size_w', block_size_w)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
            raise ValueError(f'NIQE needs {name} to be an integer >= 2, got {value!r}.')


def niqe_block_features(img, gaussian_window, block_size_h=96, block_size_w=96):
    """Features (num_blocks, 36) float64 and sharpness (num_blocks,) of the blocks of a 2-D image in [0, 255].

    The image is cropped to whole blocks; blocks are taken column by column (as MATLAB's ``blkproc``). The
    first 18 features come from the image, the last 18 from it shrunk by 1/2 (MATLAB bicubic with
    antialiasing); sharpness is the mean local deviation sigma of each full-resolution block, which
    ``fit_niqe_params`` uses to pick pristine blocks. A block without both signs of a coefficient gives NaNs.
    """
    img = np.asarray(img)
    if img.ndim != 2:
        raise ValueError(f'NIQE needs a 2-D (H, W) gray or Y image, got shape {img.shape}.')
    _check_block_size(block_size_h, block_size_w)
    h, w = img.shape
    num_h, num_w = h // block_size_h, w // block_size_w
    if num_h == 0 or num_w == 0:
        raise ValueError(f'NIQE needs an image of at least one {block_size_h}x{block_size_w} block '
                         f'(after crop_border), got {h}x{w}.')
    if img.dtype not in (np.float32, np.float64):
        img = img.astype(np.float64)
    img = img[:num_h * block_size_h, :num_w * block_size_w]
    window = np.asarray(gaussian_window, dtype=np.float64)

    per_scale = []
    sharpness = None
    with np.errstate(divide='ignore', invalid='ignore'), warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)  # the mean of an empty side of a flat block
        for scale in (1, 2):
            mscn, sigma = _mscn(img, window)
            feats, sharp = [], []
            for bw in range(num_w):
                for bh in range(num_h):
                    rows = slice(bh * block_size_h // scale, (bh + 1) * block_size_h // scale)
                    cols = slice(bw * block_size_w // scale, (bw + 1) * block_size_w // scale)
                    feats.append(_block_statistics(mscn[rows, cols]))
                    if scale == 1:
                        sharp.append(np.mean(sigma[rows, cols], dtype=np.float64))
            per_scale.append(np.array(feats, dtype=np.float64))
            if scale == 1:
                sharpness = np.array(sharp)
                img = imresize(img / 255., scale=0.5, antialiasing=True) * 255.
    return np.concatenate(per_scale, axis=1), sharpness


def _gaussian_of_features(features):
    """Mean (1, 36) over the finite values of each feature, and covariance (36, 36) of the blocks whose
    features are all finite (MATLAB's nanmean / nancov; one block gives a zero covariance, as MATLAB's cov)."""
    complete = features[~np.isnan(features).any(axis=1)]
    if len(complete) == 0:
        raise ValueError('NIQE is undefined for this image: no block has enough texture for its statistics '
                         '(a flat image?).')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', RuntimeWarning)
        mean = np.nanmean(features, axis=0)[None, :]
    cov = np.cov(complete, rowvar=False) if len(complete) > 1 else np.zeros((features.shape[1], ) * 2)
    return mean, cov


def niqe(img, mu_pris_param, cov_pris_param, gaussian_window, block_size_h=96, block_size_w=96):
    """NIQE of a 2-D gray or Y image in [0, 255] (float; float32 is computed in float32, as BasicSR).

    The distance of Eq. 10: sqrt((mu_p - mu_d) pinv((cov_p + cov_d) / 2) (mu_p - mu_d)^T) between the
    pristine Gaussian (``mu_pris_param`` (1, 36), ``cov_pris_param`` (36, 36)) and the one of this image's
    blocks; ``gaussian_window`` is the MSCN window, 7x7 in the published model. Blocks do not overlap.
    """
    features, _ = niqe_block_features(img, gaussian_window, block_size_h, block_size_w)
    mu_dist, cov_dist = _gaussian_of_features(features)
    diff = np.asarray(mu_pris_param, dtype=np.float64).reshape(1, -1) - mu_dist
    invcov = np.linalg.pinv((np.asarray(cov_pris_param, dtype=np.float64) + cov_dist) / 2)
    return float(np.sqrt(np.squeeze(diff @ invcov @ diff.T)))


def _to_niqe_image(img, crop_border, input_order, convert_to):
    """An image as calculate_niqe takes it -> (H, W) float32 gray or Y in [0, 255], cropped and rounded."""
    if input_order not in ('HW', 'HWC', 'CHW'):
        raise ValueError(f"input_order must be 'HW', 'HWC' or 'CHW', got {input_order!r}.")
    if convert_to not in ('y', 'gray'):
        raise ValueError(f"convert_to must be 'y' or 'gray', got {convert_to!r}.")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ValueError(f'crop_border must be a non-negative integer, got {crop_border!r}.')
    img = np.asarray(img).astype(np.float32)
    if input_order == 'HW':
        if img.ndim != 2:
            raise ValueError(f"input_order='HW' needs a 2-D image, got shape {img.shape}.")
    else:
        if img.ndim == 2:
            img = img[..., None]
        elif img.ndim == 3 and input_order == 'CHW':
            img = img.transpose(1, 2, 0)
        if img.ndim != 3 or img.shape[2] not in (1, 3):
            raise ValueError(f'NIQE needs a gray or BGR image, (H, W), (H, W, 1) or (H, W, 3) with '
                             f"input_order='HWC' ((C, H, W) with 'CHW'), got shape {img.shape}.")
        if img.shape[2] == 3 and convert_to == 'y':
            y = (np.dot(img / 255., Y_FROM_BGR) + 16.0) / 255.
            img = y.astype(np.float32) * 255.
        elif img.shape[2] == 3:
            img = cv2.cvtColor(img / 255., cv2.COLOR_BGR2GRAY) * 255.
        else:
            img = img[..., 0]
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    return img.round()  # integer levels, as the MATLAB reference reads 8-bit images


def _validated_params(params, source):
    """A params mapping checked and converted to float64 arrays: mu (1, 36), cov (36, 36), window 2-D."""
    missing = [key for key in _PARAM_KEYS if key not in params]
    if missing:
        raise ValueError(f'NIQE parameters from {source} lack {", ".join(missing)} '
                         f'(need {", ".join(_PARAM_KEYS)}).')
    mu = np.asarray(params['mu_pris_param'], dtype=np.float64)
    cov = np.asarray(params['cov_pris_param'], dtype=np.float64)
    window = np.asarray(params['gaussian_window'], dtype=np.float64)
    if mu.size != NIQE_FEATURES or cov.shape != (NIQE_FEATURES, NIQE_FEATURES) or window.ndim != 2:
        raise ValueError(f'NIQE parameters from {source} have the wrong shapes: mu_pris_param {mu.shape} '
                         f'(need 36 values), cov_pris_param {cov.shape} (need (36, 36)), '
                         f'gaussian_window {window.shape} (need 2-D).')
    return {'mu_pris_param': mu.reshape(1, NIQE_FEATURES), 'cov_pris_param': cov, 'gaussian_window': window}


def load_niqe_params(path=None):
    """The pristine model {mu_pris_param (1, 36), cov_pris_param (36, 36), gaussian_window (7, 7)} from an
    ``.npz`` file (no pickles). Without a path: BasicSR's ``niqe_pris_params.npz``, found by
    ``resolve_weights`` (experiments/pretrained_models/, the cache, then its URL)."""
    file = resolve_weights(NIQE_PARAMS_FILE if path is None else path)
    with np.load(file, allow_pickle=False) as data:
        return _validated_params({key: data[key] for key in data.files}, file)


@lru_cache(maxsize=1)
def _default_params():
    params = load_niqe_params()
    for array in params.values():
        array.setflags(write=False)
    return params


def _params_from(params):
    if params is None:
        return _default_params()
    if isinstance(params, Mapping):
        return _validated_params(params, 'the given dict')
    return load_niqe_params(params)


def save_niqe_params(path, params):
    """Write a pristine model (as returned by ``fit_niqe_params``) to an ``.npz`` that ``load_niqe_params``
    and BasicSR read; atomically, so an interrupted write leaves any previous file intact."""
    params = _validated_params(params, 'the given dict')
    with atomic_write(path) as f:
        np.savez(f, **params)
    return path


def fit_niqe_params(images,
                    sharpness_threshold=0.75,
                    crop_border=0,
                    input_order='HWC',
                    convert_to='y',
                    gaussian_window=None,
                    block_size_h=96,
                    block_size_w=96):
    """Fit a pristine model {mu_pris_param, cov_pris_param, gaussian_window} to images of good quality.

    Following the paper, each image contributes only its sharp blocks: those whose mean local deviation is
    above ``sharpness_threshold`` times the largest of that image (0.75 in the paper). Images are prepared
    as ``calculate_niqe`` does (same ``crop_border``, ``input_order``, ``convert_to``), so a model fitted on
    Y is for NIQE on Y; the published model was fitted on gray images. The covariance needs more than 36
    blocks to be full rank (NIQE uses a pseudo-inverse, so fewer still work).
    """
    if not 0 <= sharpness_threshold < 1:
        raise ValueError(f'sharpness_threshold must be in [0, 1), got {sharpness_threshold!r}.')
    window = matlab_gaussian_window() if gaussian_window is None else np.asarray(gaussian_window, np.float64)
    if window.ndim != 2:
        raise ValueError(f'gaussian_window must be a 2-D array, got shape {window.shape}.')
    selected = []
    for img in images:
        y = _to_niqe_image(img, crop_border, input_order, convert_to)
        features, sharpness = niqe_block_features(y, window, block_size_h, block_size_w)
        selected.append(features[sharpness > sharpness_threshold * sharpness.max()])
    if not selected:
        raise ValueError('fit_niqe_params needs at least one image.')
    features = np.concatenate(selected)
    features = features[~np.isnan(features).any(axis=1)]
    if len(features) < 2:
        raise ValueError(f'fit_niqe_params found {len(features)} usable sharp block(s); a covariance needs at '
                         'least 2 (give more or larger images, or a lower sharpness_threshold).')
    return {
        'mu_pris_param': features.mean(axis=0)[None, :],
        'cov_pris_param': np.cov(features, rowvar=False),
        'gaussian_window': window
    }


@METRIC_REGISTRY.register()
def calculate_niqe(img, crop_border=0, input_order='HWC', convert_to='y', params=None, **kwargs):
    """NIQE of one image in [0, 255] (lower is better), as BasicSR's ``calculate_niqe``.

    ``img``: (H, W, 3) BGR (``'HWC'``), (3, H, W) (``'CHW'``) or (H, W) (``'HW'``, used as is). It is reduced
    to BT.601 Y (``convert_to='y'``) or OpenCV gray (``'gray'``), ``crop_border`` pixels are dropped at each
    edge and the values rounded. ``params``: a dict or an ``.npz`` path of a pristine model; None uses
    BasicSR's published one (resolved once, then cached).
    """
    y = _to_niqe_image(img, crop_border, input_order, convert_to)
    model = _params_from(params)
    return niqe(y, model['mu_pris_param'], model['cov_pris_param'], model['gaussian_window'])


class NIQE(Metric):
    """``niqe``: calculate_niqe of the restored image alone, with the pristine model loaded once."""
    name, label, higher_is_better, needs_reference = 'niqe', 'NIQE', False, False

    @classmethod
    def required_weights(cls, params=None, **options):
        return required_weights(None if isinstance(params, Mapping) else params)

    def __init__(self, crop_border=0, input_order='HWC', convert_to='y', params=None):
        self.options = {'crop_border': crop_border, 'input_order': input_order, 'convert_to': convert_to}
        self.params = params if isinstance(params, Mapping) else load_niqe_params(params)

    def __call__(self, img, img2=None):
        return calculate_niqe(img, params=self.params, **self.options)
