"""Identity angle ("Deg." in the GFPGAN paper): the angle in degrees between the ArcFace embeddings of two faces,
lower is closer (``val.metrics`` type ``calculate_identity_angle``).

Protocol, the same input the training identity loss gives the network, so that the metric measures what the loss
optimises:

1. (H, W, 3) BGR uint8 -> RGB float in [0, 1] -> (x - 0.5) / 0.5, i.e. [-1, 1] (the training images' mean/std
   0.5 normalisation);
2. gray = 0.2989 R + 0.5870 G + 0.1140 B, kept in [-1, 1], then a bilinear resize to 128x128 (align_corners=False,
   no antialiasing): ``gfpgan.losses.identity_loss.gray_resize_for_identity``;
3. ``ResNetArcFace(block='IRBlock', layers=[2, 2, 2, 2], use_se=False)`` in eval mode with ``arcface_resnet18.pth``
   -> 512-d embedding;
4. angle = degrees(arccos(clip(cos(e1, e2), -1, 1))), in [0, 180].

Faces are expected aligned and cropped (as FFHQ / the restorer's output); a non-square image is squeezed to a
square, as in training.
"""
import functools
import os

import numpy as np
import torch

from gfpgan.archs.arcface_arch import ResNetArcFace
from gfpgan.losses.identity_loss import gray_resize_for_identity
from gfpgan.registry import METRIC_REGISTRY
from gfpgan.utils.checkpoint import load_network
from gfpgan.utils.img_util import bgr_to_tensor
from gfpgan.utils.weights import resolve_weights

from .base import Metric
from .metric_util import check_bgr_uint8, resolve_device

__all__ = ['IdentityAngle', 'ARCFACE_WEIGHTS', 'embedding_angle', 'calculate_identity_angle', 'required_weights']

ARCFACE_WEIGHTS = 'arcface_resnet18.pth'


def required_weights(weights=None):
    """(file name or path, what it is) of the pretrained file IdentityAngle(weights) loads."""
    return [(ARCFACE_WEIGHTS if weights is None else weights, 'the ArcFace network of the Deg. metric')]


def embedding_angle(emb, emb2):
    """Angle in degrees, in [0, 180], between two 1-D embeddings (computed in float64)."""
    emb, emb2 = np.asarray(emb, np.float64).ravel(), np.asarray(emb2, np.float64).ravel()
    if emb.shape != emb2.shape:
        raise ValueError(f'embedding_angle needs embeddings of one size, got {emb.size} and {emb2.size}.')
    norms = np.linalg.norm(emb) * np.linalg.norm(emb2)
    if not np.isfinite(norms) or norms == 0:
        raise ValueError('embedding_angle is undefined for a zero or non-finite embedding.')
    cosine = np.clip(np.dot(emb, emb2) / norms, -1.0, 1.0)
    return float(np.degrees(np.arccos(cosine)))


class IdentityAngle(Metric):
    """ArcFace identity angle between faces (see the module docstring for the exact protocol).

    Args:
        weights (str | None): ArcFace weights, a path or a file name looked up like other pretrained files;
            None: ``arcface_resnet18.pth`` (``experiments/pretrained_models/``, caches, then its release URL).
        device (str | torch.device | None): None picks CUDA when available, else the CPU.
        pretrained (bool): False keeps the network's random initialisation (for tests, no file read).

    ``embedding(img) -> (512,)`` float32 array; ``metric(img, img2) -> float`` degrees in [0, 180].
    """

    name, label, higher_is_better = 'deg', 'Deg. (identity angle)', False

    @classmethod
    def required_weights(cls, weights=None, **options):
        return required_weights(weights)

    def __init__(self, weights=None, device=None, pretrained=True):
        self.device = resolve_device(device)
        path = None
        if pretrained:  # resolved first: offline, the error comes before any network is built
            path = resolve_weights(ARCFACE_WEIGHTS if weights is None else weights)
        self.net = ResNetArcFace(block='IRBlock', layers=[2, 2, 2, 2], use_se=False)
        if path is not None:
            load_network(self.net, path)
        self.net = self.net.to(self.device).eval()
        for param in self.net.parameters():
            param.requires_grad = False

    @torch.no_grad()
    def embeddings(self, faces):
        """(N, 3, H, W) RGB float tensors in [-1, 1] -> (N, 512) embeddings on the metric's device."""
        return self.net(gray_resize_for_identity(faces.to(self.device, torch.float32)))

    @staticmethod
    def _to_tensor(imgs):
        """(N, H, W, 3) BGR uint8 -> (N, 3, H, W) RGB float in [-1, 1]."""
        return bgr_to_tensor(imgs, (-1, 1))

    def embedding(self, img):
        """The (512,) float32 ArcFace embedding of one (H, W, 3) BGR uint8 face."""
        check_bgr_uint8(img, 'IdentityAngle')
        return self.embeddings(self._to_tensor(img[None]))[0].cpu().numpy()

    def __call__(self, img, img2):
        """Identity angle in degrees between two (H, W, 3) BGR uint8 faces (sizes may differ)."""
        check_bgr_uint8(img, 'IdentityAngle')
        check_bgr_uint8(img2, 'IdentityAngle')
        if img.shape != img2.shape:
            return embedding_angle(self.embedding(img), self.embedding(img2))
        emb, emb2 = self.embeddings(self._to_tensor(np.stack([img, img2]))).cpu().numpy()  # one batch
        return embedding_angle(emb, emb2)

    def __repr__(self):
        return f'{type(self).__name__}(device={str(self.device)!r})'


@functools.lru_cache(maxsize=None)
def _shared_metric(weights, device):
    return IdentityAngle(weights=weights, device=device)


@METRIC_REGISTRY.register()
def calculate_identity_angle(img, img2, weights=None, device=None, **kwargs):
    """Identity angle in degrees between two (H, W, 3) BGR uint8 faces (lower is closer). The ArcFace network is
    loaded once per (weights, device) and reused across calls."""
    weights = os.fspath(weights) if weights is not None else None
    return _shared_metric(weights, str(resolve_device(device)))(img, img2)
