"""Image-quality metrics, registered by name for the ``val.metrics`` options (``calculate_metric``)."""
from gfpgan.registry import METRIC_REGISTRY

from .psnr_ssim import calculate_psnr, calculate_ssim

__all__ = ['calculate_psnr', 'calculate_ssim', 'calculate_metric']


def calculate_metric(data, opt):
    """``METRIC_REGISTRY[opt['type']](**data, **rest of opt)``, e.g. data = {'img': restored, 'img2': reference}."""
    kwargs = dict(opt)
    return METRIC_REGISTRY.get(kwargs.pop('type'))(**data, **kwargs)
