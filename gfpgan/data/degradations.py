"""Synthetic degradations for blind face restoration, as pure functions of (image, parameters, rng).

Images are (H, W, 3) float32 numpy arrays in [0, 1], **RGB** channel order; functions return new arrays and
never change their input. Randomness comes only from the ``rng`` argument (a ``numpy.random.Generator``), so a
degradation is reproduced by reusing the generator's seed. Parameter meanings follow the GFPGAN / BasicSR
training options: sigmas of blur kernels in pixels, noise sigma in 0-255 units, downsampling scale as a divisor
of the image size, JPEG quality as OpenCV's integer quality.

Random degradations come in two steps as well as in one: ``sample_*`` draws the parameters (plain numbers and
lists, storable as JSON) and a pure applier uses them, so a degradation can be recorded and re-applied exactly;
``random_*`` draws the same values from ``rng`` in the same order.

Long because it is the whole degradation model in one place (kernels, resizing, noise, JPEG, colour and gray
jitter, each as a sampler, an applier and their composition): the training dataset, the test-set builder and the
benchmark all draw from it, and its tests compare each step with its published definition.
"""
import copy
import math

import cv2
import numpy as np

KERNEL_TYPES = ('iso', 'aniso', 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso')

# Kernel rows / columns whose total weight is below this are cut before filtering: the result moves by at most
# this much for images in [0, 1], far below a float32 step of the 8-bit values the images end as.
KERNEL_TRIM_TOLERANCE = 1e-8


def _check_range(name, value_range):
    lo, hi = value_range
    if lo > hi:
        raise ValueError(f'{name} must be [low, high] with low <= high, got {list(value_range)}.')
    return float(lo), float(hi)


def _check_kernel_size(kernel_size):
    if kernel_size < 1 or kernel_size % 2 != 1:
        raise ValueError(f'The blur kernel size must be a positive odd number, got {kernel_size}.')


def rng_state(rng):
    """A copy of the state of numpy Generator ``rng`` (``bit_generator.state``): a dict of plain ints for PCG64,
    numpy's default, so it can be stored as JSON."""
    return copy.deepcopy(rng.bit_generator.state)


def rng_from_state(state):
    """A new numpy Generator that continues from ``state`` (from :func:`rng_state`); ``rng_state``'s generator
    is not affected."""
    name = state.get('bit_generator') if isinstance(state, dict) else None
    kind = getattr(np.random, name, None) if isinstance(name, str) else None
    if not (isinstance(kind, type) and issubclass(kind, np.random.BitGenerator)):
        raise ValueError(f'Not the state of a numpy random generator: {state!r}.')
    bit_generator = kind()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


# ----------------------------------------------------------------------------------------------------------------
# Blur kernels
# ----------------------------------------------------------------------------------------------------------------
def mesh_grid(kernel_size):
    """(K, K, 2) grid of (x, y) pixel offsets from the kernel centre, K odd."""
    _check_kernel_size(kernel_size)
    ax = np.arange(kernel_size, dtype=np.float64) - kernel_size // 2
    xx, yy = np.meshgrid(ax, ax)
    return np.stack((xx, yy), axis=-1)


def sigma_matrix2(sig_x, sig_y, theta):
    """2x2 covariance of a Gaussian with standard deviations (sig_x, sig_y) along axes rotated by theta radians."""
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    return rot @ np.diag([sig_x**2, sig_y**2]) @ rot.T


def _mahalanobis2(kernel_size, sig_x, sig_y, theta, isotropic):
    """Squared Mahalanobis distance of every kernel tap from the centre, (K, K)."""
    grid = mesh_grid(kernel_size)
    cov = np.diag([sig_x**2, sig_x**2]) if isotropic else sigma_matrix2(sig_x, sig_y, theta)
    return np.sum((grid @ np.linalg.inv(cov)) * grid, axis=-1)


def bivariate_gaussian(kernel_size, sig_x, sig_y=None, theta=0., isotropic=True):
    """Normalised (K, K) Gaussian kernel; isotropic uses sig_x only, anisotropic is rotated by theta radians."""
    kernel = np.exp(-0.5 * _mahalanobis2(kernel_size, sig_x, sig_y, theta, isotropic))
    return kernel / kernel.sum()


def bivariate_generalized_gaussian(kernel_size, sig_x, sig_y=None, theta=0., beta=1., isotropic=True):
    """Normalised generalised Gaussian exp(-0.5 * d^(2 beta)) (d the Mahalanobis distance); beta = 1 is Gaussian."""
    kernel = np.exp(-0.5 * np.power(_mahalanobis2(kernel_size, sig_x, sig_y, theta, isotropic), beta))
    return kernel / kernel.sum()


def bivariate_plateau(kernel_size, sig_x, sig_y=None, theta=0., beta=1., isotropic=True):
    """Normalised plateau-shaped kernel 1 / (1 + d^(2 beta)), flat near the centre for large beta."""
    kernel = np.reciprocal(np.power(_mahalanobis2(kernel_size, sig_x, sig_y, theta, isotropic), beta) + 1)
    return kernel / kernel.sum()


def _random_shape(rng, sigma_x_range, sigma_y_range, rotation_range, isotropic):
    sig_x = rng.uniform(*_check_range('sigma_x_range', sigma_x_range))
    if isotropic:
        return sig_x, sig_x, 0.
    sig_y = rng.uniform(*_check_range('sigma_y_range', sigma_y_range))
    theta = rng.uniform(*_check_range('rotation_range', rotation_range))
    return sig_x, sig_y, theta


def _random_beta(rng, beta_range):
    """Shape parameter below or above 1 with equal chance, as in Real-ESRGAN's kernel sampling."""
    lo, hi = _check_range('beta_range', beta_range)
    return rng.uniform(lo, 1) if rng.uniform() < 0.5 else rng.uniform(1, hi)


def _kernel_noise(kernel, noise_range, rng):
    if noise_range is not None:
        kernel = kernel * rng.uniform(*_check_range('noise_range', noise_range), size=kernel.shape)
    return kernel / kernel.sum()


def random_bivariate_gaussian(kernel_size,
                              sigma_x_range,
                              sigma_y_range,
                              rotation_range,
                              noise_range=None,
                              isotropic=True,
                              *,
                              rng):
    """Gaussian kernel with sigmas / rotation drawn uniformly from the ranges; optional multiplicative tap noise."""
    _check_kernel_size(kernel_size)
    sig_x, sig_y, theta = _random_shape(rng, sigma_x_range, sigma_y_range, rotation_range, isotropic)
    return _kernel_noise(bivariate_gaussian(kernel_size, sig_x, sig_y, theta, isotropic), noise_range, rng)


def random_bivariate_generalized_gaussian(kernel_size,
                                          sigma_x_range,
                                          sigma_y_range,
                                          rotation_range,
                                          beta_range,
                                          noise_range=None,
                                          isotropic=True,
                                          *,
                                          rng):
    """Generalised Gaussian kernel with random sigmas, rotation and shape beta (below or above 1, equally likely)."""
    _check_kernel_size(kernel_size)
    sig_x, sig_y, theta = _random_shape(rng, sigma_x_range, sigma_y_range, rotation_range, isotropic)
    beta = _random_beta(rng, beta_range)
    kernel = bivariate_generalized_gaussian(kernel_size, sig_x, sig_y, theta, beta, isotropic)
    return _kernel_noise(kernel, noise_range, rng)


def random_bivariate_plateau(kernel_size,
                             sigma_x_range,
                             sigma_y_range,
                             rotation_range,
                             beta_range,
                             noise_range=None,
                             isotropic=True,
                             *,
                             rng):
    """Plateau kernel with random sigmas, rotation and shape beta (below or above 1, equally likely)."""
    _check_kernel_size(kernel_size)
    sig_x, sig_y, theta = _random_shape(rng, sigma_x_range, sigma_y_range, rotation_range, isotropic)
    beta = _random_beta(rng, beta_range)
    return _kernel_noise(bivariate_plateau(kernel_size, sig_x, sig_y, theta, beta, isotropic), noise_range, rng)


def _kernel_family(kernel_type):
    """('gaussian' | 'generalized' | 'plateau', isotropic) of a KERNEL_TYPES name."""
    family = 'gaussian' if kernel_type in ('iso', 'aniso') else kernel_type.split('_')[0]
    return family, not kernel_type.endswith('aniso')


def sample_mixed_kernel(kernel_list,
                        kernel_prob,
                        sigma_x_range=(0.6, 5),
                        sigma_y_range=(0.6, 5),
                        rotation_range=(-math.pi, math.pi),
                        betag_range=(0.5, 8),
                        betap_range=(0.5, 8),
                        *,
                        rng):
    """The parameters :func:`random_mixed_kernels` draws, as a dict for :func:`mixed_kernel`.

    ``{'kernel_type', 'sigma_x', 'sigma_y', 'rotation'}`` (isotropic types: sigma_y = sigma_x, rotation 0), plus
    ``'beta'`` for generalized and plateau kernels; sigmas in pixels, rotation in radians.
    """
    unknown = [k for k in kernel_list if k not in KERNEL_TYPES]
    if unknown or not kernel_list:
        raise ValueError(f'kernel_list must name kernel types among {", ".join(KERNEL_TYPES)}; got {kernel_list}.')
    prob = np.asarray(kernel_prob, dtype=np.float64)
    if prob.shape != (len(kernel_list), ) or (prob < 0).any() or prob.sum() <= 0:
        raise ValueError(f'kernel_prob must give one non-negative weight per kernel_list entry, got {kernel_prob}.')
    kind = kernel_list[rng.choice(len(kernel_list), p=prob / prob.sum())]
    family, isotropic = _kernel_family(kind)
    sig_x, sig_y, theta = _random_shape(rng, sigma_x_range, sigma_y_range, rotation_range, isotropic)
    params = {'kernel_type': kind, 'sigma_x': sig_x, 'sigma_y': sig_y, 'rotation': theta}
    if family != 'gaussian':
        params['beta'] = _random_beta(rng, betag_range if family == 'generalized' else betap_range)
    return params


def _shaped_kernel(kernel_size, kernel_type, sigma_x, sigma_y, rotation, beta=None):
    if kernel_type not in KERNEL_TYPES:
        raise ValueError(f'Unknown kernel type {kernel_type!r}; known types: {", ".join(KERNEL_TYPES)}.')
    _check_kernel_size(kernel_size)
    family, isotropic = _kernel_family(kernel_type)
    if family == 'gaussian':
        return bivariate_gaussian(kernel_size, sigma_x, sigma_y, rotation, isotropic)
    if beta is None:
        raise ValueError(f'A {kernel_type} kernel needs its shape parameter beta.')
    shape = bivariate_generalized_gaussian if family == 'generalized' else bivariate_plateau
    return shape(kernel_size, sigma_x, sigma_y, rotation, beta, isotropic)


def mixed_kernel(kernel_size, kernel_type, sigma_x, sigma_y, rotation, beta=None):
    """The (K, K) float64 kernel of parameters from :func:`sample_mixed_kernel`: the kernel
    :func:`random_mixed_kernels` returns for them without tap noise, to the bit."""
    return _kernel_noise(_shaped_kernel(kernel_size, kernel_type, sigma_x, sigma_y, rotation, beta), None, None)


def random_mixed_kernels(kernel_list,
                         kernel_prob,
                         kernel_size=21,
                         sigma_x_range=(0.6, 5),
                         sigma_y_range=(0.6, 5),
                         rotation_range=(-math.pi, math.pi),
                         betag_range=(0.5, 8),
                         betap_range=(0.5, 8),
                         noise_range=None,
                         *,
                         rng):
    """A (K, K) float64 kernel of a type drawn from ``kernel_list`` with weights ``kernel_prob``.

    Types: 'iso', 'aniso' (Gaussian), 'generalized_iso', 'generalized_aniso', 'plateau_iso', 'plateau_aniso'.
    As in the original, plateau kernels ignore ``noise_range``.
    """
    _check_kernel_size(kernel_size)
    params = sample_mixed_kernel(
        kernel_list, kernel_prob, sigma_x_range, sigma_y_range, rotation_range, betag_range, betap_range, rng=rng)
    if params['kernel_type'].startswith('plateau'):
        noise_range = None
    return _kernel_noise(_shaped_kernel(kernel_size, **params), noise_range, rng)


# ----------------------------------------------------------------------------------------------------------------
# Filtering
# ----------------------------------------------------------------------------------------------------------------
def trim_kernel(kernel, tolerance=KERNEL_TRIM_TOLERANCE):
    """Cut outer rows / columns (the same number on opposite sides, so the centre stays put) while their total
    absolute weight stays within ``tolerance``."""
    weight = np.abs(kernel)
    r = kernel.shape[0] // 2
    cut = 0
    while cut < r:
        ring = weight.sum() - weight[cut + 1:kernel.shape[0] - cut - 1, cut + 1:kernel.shape[1] - cut - 1].sum()
        if ring > tolerance:
            break
        cut += 1
    return kernel[cut:kernel.shape[0] - cut, cut:kernel.shape[1] - cut]


def _separable_factors(kernel, tolerance=KERNEL_TRIM_TOLERANCE):
    """(column, row) 1-D factors when the kernel is their outer product within ``tolerance`` (total absolute
    difference), else None. A rank-1 kernel a b^T equals outer(row sums, column sums) / total."""
    total = kernel.sum()
    col, row = kernel.sum(axis=1) / total, kernel.sum(axis=0)
    if abs(total) < tolerance or np.abs(kernel - np.outer(col, row)).sum() > tolerance:
        return None
    return col, row


def _filter2d_dft(img, kernel):
    """Correlation with reflect-101 borders computed through OpenCV's real DFT, one channel at a time."""
    h, w = img.shape[:2]
    r = kernel.shape[0] // 2
    m, n = cv2.getOptimalDFTSize(h + 2 * r), cv2.getOptimalDFTSize(w + 2 * r)
    # Rows / columns past h + 2r are never reached by the kept outputs, so the extra padding may be anything.
    padded = cv2.copyMakeBorder(img, r, m - h - r, r, n - w - r, cv2.BORDER_REFLECT_101)
    taps = np.zeros((m, n), np.float32)
    taps[:2 * r + 1, :2 * r + 1] = kernel[::-1, ::-1]  # correlation = convolution with the flipped kernel
    spectrum = cv2.dft(taps)
    channels = [
        cv2.idft(cv2.mulSpectrums(cv2.dft(c), spectrum, 0), flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)
        for c in cv2.split(padded)
    ]
    return cv2.merge(channels)[2 * r:2 * r + h, 2 * r:2 * r + w]


def filter2d(img, kernel):
    """``cv2.filter2D(img, -1, kernel)`` (correlation, reflect-101 borders) for float32 (H, W, C) images, fast.

    Negligible kernel borders are trimmed; separable kernels (every isotropic Gaussian) run as two 1-D passes,
    small ones directly, large ones through the DFT. Results match cv2.filter2D to about 1e-6.
    """
    kernel = trim_kernel(np.asarray(kernel, dtype=np.float64))
    img = np.asarray(img, dtype=np.float32)
    size = kernel.shape[0]
    factors = _separable_factors(kernel) if size > 1 else None
    if factors is not None and size <= 31:
        return cv2.sepFilter2D(img, -1, factors[1], factors[0], borderType=cv2.BORDER_REFLECT_101)
    if size <= 7 or min(img.shape[:2]) <= size:
        return cv2.filter2D(img, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    if img.ndim == 2:
        return _filter2d_dft(img[:, :, None], kernel)
    return _filter2d_dft(img, kernel)


# ----------------------------------------------------------------------------------------------------------------
# Resampling
# ----------------------------------------------------------------------------------------------------------------
def downsampled_size(height, width, scale):
    """(h, w) after dividing by ``scale`` and flooring, as the original (at least 1 pixel)."""
    return max(1, int(height // scale)), max(1, int(width // scale))


def resize_bilinear(img, size):
    """Bilinear resize to ``size`` = (height, width) (OpenCV INTER_LINEAR: no antialiasing when shrinking)."""
    h, w = size
    return cv2.resize(img, (int(w), int(h)), interpolation=cv2.INTER_LINEAR)


# ----------------------------------------------------------------------------------------------------------------
# Noise and compression
# ----------------------------------------------------------------------------------------------------------------
def _noise_field(shape, gray_noise, rng):
    """Standard normal float32 noise for an image of ``shape`` (H, W, C), one channel when ``gray_noise``."""
    return rng.standard_normal(tuple(shape[:2]) + (1, ) if gray_noise else tuple(shape), dtype=np.float32)


def add_gaussian_noise(img, sigma, *, rng, gray_noise=False, clip=True, rounds=False):
    """Add N(0, (sigma / 255)^2) noise, one value for all channels when ``gray_noise``; clip / round to 8 bits."""
    out = img + _noise_field(img.shape, gray_noise, rng) * np.float32(sigma / 255.)
    if rounds:
        out = np.round(out * 255.) / 255.
    if clip:
        out = np.clip(out, 0, 1)
    return out.astype(np.float32, copy=False)


def _random_noise_settings(sigma_range, gray_prob, rng):
    sigma = rng.uniform(*_check_range('noise_range', sigma_range))
    return sigma, bool(gray_prob > 0 and rng.uniform() < gray_prob)


def random_add_gaussian_noise(img, sigma_range=(0, 10), gray_prob=0, clip=True, rounds=False, *, rng):
    """Gaussian noise with sigma drawn uniformly from ``sigma_range`` (0-255 units), gray with ``gray_prob``."""
    sigma, gray = _random_noise_settings(sigma_range, gray_prob, rng)
    return add_gaussian_noise(img, sigma, rng=rng, gray_noise=gray, clip=clip, rounds=rounds)


def sample_gaussian_noise(shape, sigma_range=(0, 10), gray_prob=0, *, rng):
    """The parameters :func:`random_add_gaussian_noise` draws for an image of ``shape`` (H, W, C), for
    :func:`apply_gaussian_noise`: ``{'sigma' (0-255 units), 'gray_noise', 'rng_state'}``.

    The noise field is too large to record, so ``rng_state`` is the generator's state it is drawn from. ``rng``
    moves past the field exactly as random_add_gaussian_noise moves it (the field is drawn and dropped here).
    """
    sigma, gray = _random_noise_settings(sigma_range, gray_prob, rng)
    state = rng_state(rng)
    _noise_field(shape, gray, rng)
    return {'sigma': sigma, 'gray_noise': gray, 'rng_state': state}


def apply_gaussian_noise(img, params, clip=True, rounds=False):
    """Gaussian noise of parameters from :func:`sample_gaussian_noise`: the same field, to the bit."""
    return add_gaussian_noise(
        img,
        params['sigma'],
        rng=rng_from_state(params['rng_state']),
        gray_noise=params['gray_noise'],
        clip=clip,
        rounds=rounds)


def to_uint8(img):
    """[0, 1] float -> uint8 with round-half-to-even, values outside [0, 1] clipped."""
    return np.rint(np.clip(img, 0, 1) * np.float32(255.)).astype(np.uint8)


def jpeg_compress(img, quality):
    """Encode as JPEG at OpenCV integer ``quality`` (0-100) and decode: (H, W, 3) RGB float32 in [0, 1]."""
    quality = int(quality)
    if not 0 <= quality <= 100:
        raise ValueError(f'JPEG quality must be within [0, 100], got {quality}.')
    bgr = cv2.cvtColor(to_uint8(img), cv2.COLOR_RGB2BGR)  # OpenCV's encoder expects BGR (matters for chroma)
    ok, data = cv2.imencode('.jpg', bgr, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:
        raise RuntimeError('OpenCV could not encode the image as JPEG.')
    rgb = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return rgb.astype(np.float32) / np.float32(255.)


def random_jpeg_quality(quality_range, *, rng):
    """int(uniform(low, high)) as the original (cv2 truncated its float quality): [60, 100] gives 60-99."""
    return int(rng.uniform(*_check_range('jpeg_range', quality_range)))


def random_jpeg_compress(img, quality_range=(90, 100), *, rng):
    """JPEG round trip at a quality drawn by :func:`random_jpeg_quality`."""
    return jpeg_compress(img, random_jpeg_quality(quality_range, rng=rng))


# ----------------------------------------------------------------------------------------------------------------
# Colour
# ----------------------------------------------------------------------------------------------------------------
def rgb_shift(img, shift):
    """Add a per-channel offset ``shift`` (3,) in [0, 1] units and clip to [0, 1]."""
    return np.clip(img + np.asarray(shift, dtype=np.float32), 0, 1)


def sample_rgb_shift(max_shift, *, rng):
    """(3,) float32 per-channel offsets drawn uniformly from [-max_shift, max_shift] ([0, 1] units)."""
    return rng.uniform(-max_shift, max_shift, 3).astype(np.float32)


def random_rgb_shift(img, max_shift, *, rng):
    """:func:`rgb_shift` by offsets from :func:`sample_rgb_shift`."""
    return rgb_shift(img, sample_rgb_shift(max_shift, rng=rng))


def rgb_to_grayscale(img):
    """Luma (0.299 R + 0.587 G + 0.114 B, OpenCV's weights) repeated on 3 channels."""
    gray = cv2.cvtColor(np.asarray(img, dtype=np.float32), cv2.COLOR_RGB2GRAY)
    return cv2.merge((gray, gray, gray))


# torchvision's luma weights, used by its saturation and contrast adjustments
_TV_LUMA = np.array([0.2989, 0.587, 0.114], dtype=np.float32)


def _blend(img, other, factor):
    return np.clip(np.float32(factor) * img + np.float32(1 - factor) * other, 0, 1)


def adjust_brightness(img, factor):
    """Scale intensities by ``factor`` (torchvision's adjust_brightness on [0, 1] RGB)."""
    return np.clip(img * np.float32(factor), 0, 1)


def adjust_contrast(img, factor):
    """Blend with the mean luma (torchvision's adjust_contrast)."""
    mean = np.float32((img @ _TV_LUMA).mean())
    return _blend(img, mean, factor)


def adjust_saturation(img, factor):
    """Blend with the per-pixel luma (torchvision's adjust_saturation): 0 gives gray, 1 the input."""
    return _blend(img, (img @ _TV_LUMA)[:, :, None], factor)


def adjust_hue(img, factor):
    """Rotate hue by ``factor`` turns, factor in [-0.5, 0.5] (torchvision's adjust_hue, through HSV)."""
    if not -0.5 <= factor <= 0.5:
        raise ValueError(f'The hue factor must be within [-0.5, 0.5], got {factor}.')
    hsv = cv2.cvtColor(np.asarray(img, dtype=np.float32), cv2.COLOR_RGB2HSV)  # hue in degrees [0, 360)
    hsv[:, :, 0] = np.mod(hsv[:, :, 0] + np.float32(factor * 360.), np.float32(360.))
    return np.clip(cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB), 0, 1)


COLOR_ADJUSTMENTS = {
    'brightness': adjust_brightness,
    'contrast': adjust_contrast,
    'saturation': adjust_saturation,
    'hue': adjust_hue
}


def sample_color_jitter(brightness=None, contrast=None, saturation=None, hue=None, *, rng):
    """The adjustments :func:`random_color_jitter` draws: ``[[name, factor], ...]`` in the order they apply (a
    random order), factors uniform in the given (low, high) ranges; a ``None`` range leaves its adjustment out."""
    ranges = (brightness, contrast, saturation, hue)
    names = list(COLOR_ADJUSTMENTS)
    return [[names[i], rng.uniform(*_check_range('color jitter range', ranges[i]))] for i in rng.permutation(4)
            if ranges[i] is not None]


def color_jitter(img, adjustments):
    """Apply ``[[name, factor], ...]`` (names of COLOR_ADJUSTMENTS) in order, as from :func:`sample_color_jitter`."""
    for name, factor in adjustments:
        if name not in COLOR_ADJUSTMENTS:
            raise ValueError(f'Unknown colour adjustment {name!r}; known: {", ".join(COLOR_ADJUSTMENTS)}.')
        img = COLOR_ADJUSTMENTS[name](img, factor)
    return img


def random_color_jitter(img, brightness=None, contrast=None, saturation=None, hue=None, *, rng):
    """Brightness, contrast, saturation and hue adjustments in random order, factors drawn uniformly from the
    given (low, high) ranges; a ``None`` range skips that adjustment."""
    return color_jitter(img, sample_color_jitter(brightness, contrast, saturation, hue, rng=rng))


def quantize(img):
    """Round to the nearest 8-bit level and clip, staying float32 in [0, 1]."""
    return np.clip(np.round(img * np.float32(255.)), 0, 255) / np.float32(255.)
