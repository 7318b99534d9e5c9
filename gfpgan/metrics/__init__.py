"""Image-quality metrics, registered by name for the ``val.metrics`` options (``calculate_metric``), and the folder
evaluation behind scripts/evaluate.py. FID is a set metric (``gfpgan.metrics.fid``), not registered."""
from gfpgan.registry import METRIC_REGISTRY

from .identity_angle import calculate_identity_angle
from .landmark_distance import calculate_lmd
from .lpips_metric import calculate_lpips
from .niqe import calculate_niqe
from .psnr_ssim import calculate_psnr, calculate_ssim

__all__ = [
    'calculate_psnr', 'calculate_ssim', 'calculate_lpips', 'calculate_identity_angle', 'calculate_niqe',
    'calculate_lmd', 'calculate_metric'
]


def calculate_metric(data, opt):
    """``METRIC_REGISTRY[opt['type']](**data, **rest of opt)``, e.g. data = {'img': restored, 'img2': reference}."""
    kwargs = dict(opt)
    return METRIC_REGISTRY.get(kwargs.pop('type'))(**data, **kwargs)
