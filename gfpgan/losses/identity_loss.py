"""Identity loss of GFPGAN: L1 distance between ArcFace embeddings of the restored and the ground-truth face."""
import torch
from torch import nn
from torch.nn import functional as F

from gfpgan.registry import LOSS_REGISTRY

__all__ = ['IdentityLoss', 'gray_resize_for_identity']


def gray_resize_for_identity(x, size=128):
    """RGB faces (N, 3, H, W) in [-1, 1] -> gray (N, 1, size, size), the ArcFace input.

    Gray = 0.2989 R + 0.5870 G + 0.1140 B, then a bilinear resize (align_corners=False, no antialiasing);
    the value range is kept as it is, exactly as GFPGANModel does.
    """
    if x.ndim != 4 or x.shape[1] != 3:
        raise ValueError(f'gray_resize_for_identity expects RGB images (N, 3, H, W), got {tuple(x.shape)}.')
    gray = (0.2989 * x[:, 0, :, :] + 0.5870 * x[:, 1, :, :] + 0.1140 * x[:, 2, :, :]).unsqueeze(1)
    return F.interpolate(gray, (size, size), mode='bilinear', align_corners=False)


@LOSS_REGISTRY.register()
class IdentityLoss(nn.Module):
    """``loss_weight * mean|id(gray(restored)) - id(gray(gt))|`` with ``id`` a frozen face-embedding network.

    The network is passed to forward, not owned, so its weights stay with the model that loads them. GFPGAN's
    ``identity_weight`` goes into ``loss_weight`` (the official model computes it as
    ``L1Loss(**L1_opt)(...) * identity_weight``, so an ``L1_opt`` loss_weight other than 1 multiplies in too).

    forward(identity_net, restored, gt): restored, gt (N, 3, H, W) in [-1, 1] -> scalar; the ground-truth
    embedding is computed without a graph, so gradients flow only into ``restored``. Keep the network in eval
    mode (as the model does): its BatchNorm and dropout layers would otherwise change the embeddings.
    """

    def __init__(self, loss_weight=1.0, size=128):
        super().__init__()
        self.loss_weight = loss_weight
        self.size = size

    def forward(self, identity_net, restored, gt):
        with torch.no_grad():
            identity_gt = identity_net(gray_resize_for_identity(gt.detach(), self.size))
        identity_out = identity_net(gray_resize_for_identity(restored, self.size))
        return self.loss_weight * F.l1_loss(identity_out, identity_gt, reduction='none').mean()

    def extra_repr(self):
        return f'loss_weight={self.loss_weight}, size={self.size}'
