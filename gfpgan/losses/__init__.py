"""Training losses: pixel (L1, MSE, Charbonnier), VGG perceptual + style, adversarial (+ R1, path length,
WGAN-GP) and ArcFace identity.

Importing the package registers each loss class in ``gfpgan.registry.LOSS_REGISTRY``; ``build_loss(opt)``
builds one from its YAML options, e.g. ``build_loss({'type': 'L1Loss', 'loss_weight': 0.1})``.
"""
from gfpgan.registry import LOSS_REGISTRY
from .basic_loss import CharbonnierLoss, L1Loss, MSELoss, PerceptualLoss, gram_matrix, weight_reduce_loss
from .gan_loss import GANLoss, MultiScaleGANLoss, g_path_regularize, gradient_penalty_loss, r1_penalty
from .identity_loss import IdentityLoss, gray_resize_for_identity

__all__ = [
    'L1Loss', 'MSELoss', 'CharbonnierLoss', 'PerceptualLoss', 'GANLoss', 'MultiScaleGANLoss', 'IdentityLoss',
    'build_loss', 'r1_penalty', 'g_path_regularize', 'gradient_penalty_loss', 'gram_matrix', 'weight_reduce_loss',
    'gray_resize_for_identity'
]


def build_loss(opt):
    """Build the registered loss ``opt['type']`` with the other keys of ``opt`` as keyword arguments."""
    return LOSS_REGISTRY.build(opt)
