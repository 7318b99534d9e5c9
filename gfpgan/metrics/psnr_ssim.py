"""PSNR on 8-bit images, with BasicSR's arguments (``val.metrics`` entries ``type: calculate_psnr``)."""
import numpy as np

from gfpgan.registry import METRIC_REGISTRY

# ITU-R BT.601 luma of BGR values in [0, 1], in [16, 235] (BasicSR's bgr2ycbcr with y_only)
_Y_FROM_BGR = np.array([24.966, 128.553, 65.481])


def to_y_channel(img):
    """(H, W, 3) BGR in [0, 255] -> (H, W, 1) float Y in [0, 255] (BT.601, not rounded)."""
    img = img.astype(np.float32) / 255.
    if img.ndim == 3 and img.shape[2] == 3:
        img = (np.dot(img, _Y_FROM_BGR) + 16.0)[..., None] / 255.
    return img * 255.


@METRIC_REGISTRY.register()
def calculate_psnr(img, img2, crop_border=0, input_order='HWC', test_y_channel=False, **kwargs):
    """PSNR in dB of two images in [0, 255] ((H, W, C) BGR, or (C, H, W) with ``input_order='CHW'``), ``crop_border``
    pixels left out at each edge; inf for identical images."""
    if img.shape != img2.shape:
        raise ValueError(f'calculate_psnr needs images of one shape, got {img.shape} and {img2.shape}.')
    if input_order not in ('HWC', 'CHW'):
        raise ValueError(f"input_order must be 'HWC' or 'CHW', got {input_order!r}.")
    if input_order == 'CHW':
        img, img2 = img.transpose(1, 2, 0), img2.transpose(1, 2, 0)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
        img2 = img2[crop_border:-crop_border, crop_border:-crop_border]
    if test_y_channel:
        img, img2 = to_y_channel(img), to_y_channel(img2)
    mse = np.mean((img.astype(np.float64) - img2.astype(np.float64))**2)
    return float('inf') if mse == 0 else float(10. * np.log10(255. * 255. / mse))
