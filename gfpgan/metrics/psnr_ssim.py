"""PSNR and SSIM on 8-bit images: the ``psnr`` / ``ssim`` metric classes, and BasicSR's functions (``val.metrics``
entries ``type: calculate_psnr`` / ``calculate_ssim``) that they call."""
import cv2
import numpy as np

from gfpgan.registry import METRIC_REGISTRY

from .base import Metric

# ITU-R BT.601 luma of BGR values in [0, 1], in [16, 235] (BasicSR's bgr2ycbcr with y_only)
Y_FROM_BGR = np.array([24.966, 128.553, 65.481])


def to_y_channel(img):
    """(H, W, 3) BGR in [0, 255] -> (H, W, 1) float Y in [0, 255] (BT.601, not rounded)."""
    img = img.astype(np.float32) / 255.
    if img.ndim == 3 and img.shape[2] == 3:
        img = (np.dot(img, Y_FROM_BGR) + 16.0)[..., None] / 255.
    return img * 255.


def _prepare(img, img2, crop_border, input_order, test_y_channel, name):
    """Both images as float64 (H, W, C), cropped, optionally reduced to Y."""
    if img.shape != img2.shape:
        raise ValueError(f'{name} needs images of one shape, got {img.shape} and {img2.shape}.')
    if input_order not in ('HWC', 'CHW'):
        raise ValueError(f"input_order must be 'HWC' or 'CHW', got {input_order!r}.")
    if input_order == 'CHW':
        img, img2 = img.transpose(1, 2, 0), img2.transpose(1, 2, 0)
    if img.ndim == 2:
        img, img2 = img[..., None], img2[..., None]
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel:
        img, img2 = to_y_channel(img), to_y_channel(img2)
    return img.astype(np.float64), img2.astype(np.float64)


@METRIC_REGISTRY.register()
def calculate_psnr(img, img2, crop_border=0, input_order='HWC', test_y_channel=False, **kwargs):
    """PSNR in dB of two images in [0, 255] ((H, W, C) BGR, or (C, H, W) with ``input_order='CHW'``), ``crop_border``
    pixels left out at each edge; inf for identical images."""
    img, img2 = _prepare(img, img2, crop_border, input_order, test_y_channel, 'calculate_psnr')
    mse = np.mean((img - img2)**2)
    return float('inf') if mse == 0 else float(10. * np.log10(255. * 255. / mse))


def _ssim_channel(img, img2):
    """SSIM of two (H, W) float64 images in [0, 255]: 11x11 Gaussian window (sigma 1.5), valid region."""
    c1, c2 = (0.01 * 255)**2, (0.03 * 255)**2
    kernel = cv2.getGaussianKernel(11, 1.5)
    window = np.outer(kernel, kernel.T)

    def blur(x):
        return cv2.filter2D(x, -1, window)[5:-5, 5:-5]

    mu1, mu2 = blur(img), blur(img2)
    var1, var2, cov = blur(img**2) - mu1**2, blur(img2**2) - mu2**2, blur(img * img2) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + c1) * (2 * cov + c2)) / ((mu1**2 + mu2**2 + c1) * (var1 + var2 + c2))
    return ssim_map.mean()


@METRIC_REGISTRY.register()
def calculate_ssim(img, img2, crop_border=0, input_order='HWC', test_y_channel=False, **kwargs):
    """SSIM (Wang et al. 2004) of two images in [0, 255], averaged over channels; arguments as calculate_psnr."""
    img, img2 = _prepare(img, img2, crop_border, input_order, test_y_channel, 'calculate_ssim')
    return float(np.mean([_ssim_channel(img[..., c], img2[..., c]) for c in range(img.shape[2])]))


class PSNR(Metric):
    """``psnr``: calculate_psnr with its options fixed at construction."""
    name, label = 'psnr', 'PSNR (dB)'

    def __init__(self, crop_border=0, input_order='HWC', test_y_channel=False):
        self.options = {'crop_border': crop_border, 'input_order': input_order, 'test_y_channel': test_y_channel}

    def __call__(self, img, img2=None):
        return calculate_psnr(img, img2, **self.options)


class SSIM(PSNR):
    """``ssim``: calculate_ssim with its options fixed at construction."""
    name, label = 'ssim', 'SSIM'

    def __call__(self, img, img2=None):
        return calculate_ssim(img, img2, **self.options)
