"""Image-quality metrics: one registry (``METRIC_REGISTRY``) of ``Metric`` classes by short name (psnr, ssim, lpips,
deg, lmd, niqe, and the set-level fid) used by training validation (``val.metrics``, ``build_metric``) and by the
evaluation command (``gfpgan.metrics.evaluation``, ``gfpgan.metrics.cli``) alike, with BasicSR's function names
(``calculate_psnr``, ...) registered beside them for options files written for the original."""
from .base import Metric, build_metric, calculate_metric, default_better, metric_class, metric_classes
from .fid import FID
from .identity_angle import IdentityAngle, calculate_identity_angle
from .landmark_distance import LandmarkDistance, calculate_lmd
from .lpips_metric import LPIPSMetric, calculate_lpips
from .niqe import NIQE, calculate_niqe
from .psnr_ssim import PSNR, SSIM, calculate_psnr, calculate_ssim

__all__ = [
    'calculate_psnr', 'calculate_ssim', 'calculate_lpips', 'calculate_identity_angle', 'calculate_niqe',
    'calculate_lmd', 'calculate_metric', 'Metric', 'build_metric', 'default_better', 'metric_class', 'metric_classes',
    'PSNR', 'SSIM', 'LPIPSMetric', 'IdentityAngle', 'LandmarkDistance', 'NIQE', 'FID'
]
