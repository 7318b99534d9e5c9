"""Pixel losses (L1, MSE, Charbonnier) with BasicSR's weighted reductions, and the VGG perceptual + style loss."""
import torch
from torch import nn
from torch.nn import functional as F

from gfpgan.archs.vgg_arch import VGGFeatureExtractor
from gfpgan.registry import LOSS_REGISTRY

__all__ = ['L1Loss', 'MSELoss', 'CharbonnierLoss', 'PerceptualLoss', 'weight_reduce_loss', 'gram_matrix']

REDUCTIONS = ('none', 'mean', 'sum')


def _check_reduction(reduction, owner):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{owner}: reduction must be one of {', '.join(REDUCTIONS)}, got '{reduction}'.")


def weight_reduce_loss(loss, weight=None, reduction='mean'):
    """Multiply an element-wise loss (N, C, ...) by ``weight`` (N, 1 or C, ...) and reduce it.

    With a weight, 'mean' is the weighted sum over the weight's total mass, counted per channel: a one-channel
    weight is broadcast over the C channels, so its sum is multiplied by C (BasicSR's rule).
    """
    _check_reduction(reduction, 'weight_reduce_loss')
    if weight is not None:
        if weight.dim() != loss.dim() or weight.size(1) not in (1, loss.size(1)):
            raise ValueError(f'The loss weight must have the dimensions of the loss {tuple(loss.shape)} with 1 or '
                             f'{loss.size(1)} channels, got {tuple(weight.shape)}.')
        loss = loss * weight
    if reduction == 'none':
        return loss
    if weight is None or reduction == 'sum':
        return loss.mean() if reduction == 'mean' else loss.sum()
    mass = weight.sum() if weight.size(1) > 1 else weight.sum() * loss.size(1)
    return loss.sum() / mass


class _PixelLoss(nn.Module):
    """Shared frame of the pixel losses: ``loss_weight * reduce(elementwise(pred, target) * weight)``."""

    def __init__(self, loss_weight=1.0, reduction='mean'):
        super().__init__()
        _check_reduction(reduction, type(self).__name__)
        self.loss_weight = loss_weight
        self.reduction = reduction

    def elementwise(self, pred, target):
        raise NotImplementedError

    def forward(self, pred, target, weight=None):
        """pred, target: (N, C, H, W); weight: optional (N, 1 or C, H, W) element weights."""
        return self.loss_weight * weight_reduce_loss(self.elementwise(pred, target), weight, self.reduction)

    def extra_repr(self):
        return f'loss_weight={self.loss_weight}, reduction={self.reduction!r}'


@LOSS_REGISTRY.register()
class L1Loss(_PixelLoss):
    """Mean absolute error, ``|pred - target|``, scaled by ``loss_weight``."""

    def elementwise(self, pred, target):
        return F.l1_loss(pred, target, reduction='none')


@LOSS_REGISTRY.register()
class MSELoss(_PixelLoss):
    """Mean squared error, ``(pred - target)^2``, scaled by ``loss_weight``."""

    def elementwise(self, pred, target):
        return F.mse_loss(pred, target, reduction='none')


@LOSS_REGISTRY.register()
class CharbonnierLoss(_PixelLoss):
    """Charbonnier loss ``sqrt((pred - target)^2 + eps)``: an L1 that is smooth at zero (LapSRN)."""

    def __init__(self, loss_weight=1.0, reduction='mean', eps=1e-12):
        super().__init__(loss_weight, reduction)
        self.eps = eps

    def elementwise(self, pred, target):
        return torch.sqrt((pred - target)**2 + self.eps)

    def extra_repr(self):
        return f'{super().extra_repr()}, eps={self.eps}'


def gram_matrix(x):
    """Gram matrix of features (N, C, H, W) -> (N, C, C): ``f f^T / (C * H * W)`` with f the (N, C, H*W) view.

    Always float32, also under autocast: a sum of H * W products of VGG activations overflows float16 (512 x 512
    conv1 features: 262144 terms) and loses the style loss's small differences in bfloat16."""
    n, c, h, w = x.size()
    with torch.autocast(x.device.type, enabled=False):
        features = x.float().reshape(n, c, h * w)
        return features.bmm(features.transpose(1, 2)) / (c * h * w)


_CRITERIA = ('l1', 'l2', 'fro')


@LOSS_REGISTRY.register()
class PerceptualLoss(nn.Module):
    """VGG perceptual (feature distance) and style (Gram-matrix distance) losses, summed over weighted layers.

    Args:
        layer_weights (dict): {VGG layer name: weight}, e.g. {'conv5_4': 1.} (conv = before its ReLU).
        vgg_type (str): see ``VGGFeatureExtractor``. Default 'vgg19'.
        use_input_norm (bool): ImageNet mean/std normalisation of [0, 1] inputs. Default True.
        range_norm (bool): inputs are in [-1, 1] and mapped to [0, 1] first. Default False.
        perceptual_weight (float): weight of the perceptual term; <= 0 skips it (returned as None). Default 1.
        style_weight (float): weight of the style term; <= 0 skips it (returned as None). Default 0.
        criterion (str): 'l1' (mean absolute error), 'l2' (mean squared error) or 'fro' (Frobenius norm of the
            whole batch's difference). Default 'l1'.
        pretrained (bool | str): VGG weights, passed to ``VGGFeatureExtractor`` (False: random, for tests).

    forward(x, gt): (N, 3, H, W) each -> (percep_loss, style_loss), scalars or None. No gradient reaches ``gt``.
    """

    def __init__(self,
                 layer_weights,
                 vgg_type='vgg19',
                 use_input_norm=True,
                 range_norm=False,
                 perceptual_weight=1.0,
                 style_weight=0.,
                 criterion='l1',
                 pretrained=True):
        super().__init__()
        if criterion not in _CRITERIA:
            raise ValueError(f"PerceptualLoss: criterion must be one of {', '.join(_CRITERIA)}, got '{criterion}'.")
        self.layer_weights = dict(layer_weights)
        self.perceptual_weight = perceptual_weight
        self.style_weight = style_weight
        self.criterion_type = criterion
        self.vgg = VGGFeatureExtractor(
            layer_name_list=list(self.layer_weights),
            vgg_type=vgg_type,
            use_input_norm=use_input_norm,
            range_norm=range_norm,
            pretrained=pretrained)

    def criterion(self, x, y):
        """Distance between two feature (or Gram) tensors, as configured."""
        if self.criterion_type == 'fro':
            return torch.linalg.vector_norm(x - y)
        if self.criterion_type == 'l2':
            return F.mse_loss(x, y)
        return F.l1_loss(x, y)

    def _weighted_sum(self, x_features, gt_features, transform):
        total = 0
        for name, feat in x_features.items():  # VGG layer order, as the official sum
            # float32 distances: under autocast the features arrive in reduced precision
            total += self.criterion(transform(feat.float()), transform(gt_features[name].float())) * \
                self.layer_weights[name]
        return total

    def forward(self, x, gt):
        x_features = self.vgg(x)
        with torch.no_grad():
            gt_features = self.vgg(gt.detach())

        percep_loss = style_loss = None
        if self.perceptual_weight > 0:
            percep_loss = self._weighted_sum(x_features, gt_features, lambda f: f) * self.perceptual_weight
        if self.style_weight > 0:
            style_loss = self._weighted_sum(x_features, gt_features, gram_matrix) * self.style_weight
        return percep_loss, style_loss

    @staticmethod
    def _gram_mat(x):
        """BasicSR's name for ``gram_matrix``."""
        return gram_matrix(x)

    def extra_repr(self):
        return (f'layer_weights={self.layer_weights}, perceptual_weight={self.perceptual_weight}, '
                f'style_weight={self.style_weight}, criterion={self.criterion_type!r}')
