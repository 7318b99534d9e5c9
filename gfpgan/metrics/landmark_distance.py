"""Landmark distance (LMD): the mean Euclidean distance, in pixels, between corresponding facial landmarks of two
faces, lower is closer (``val.metrics`` type ``calculate_lmd``).

The landmark detector is pluggable: any callable (H, W, 3) BGR uint8 -> (K, 2) (x, y) points in pixels. The
default is facexlib's AWing FAN for aligned faces (98 WFLW points, ``alignment_WFLW_4HG.pth``), built here from
facexlib's architecture with weights resolved like every other pretrained file and read without executing code.

The distance stays in pixels of the images given (not normalised by image size or inter-ocular distance), so
compare methods at one resolution, e.g. the 512x512 aligned faces of the GFPGAN paper.
"""
import functools
import os

import cv2
import numpy as np
import torch

from gfpgan.registry import METRIC_REGISTRY
from gfpgan.utils.checkpoint import load_network
from gfpgan.utils.img_util import bgr_to_tensor
from gfpgan.utils.optional import import_optional
from gfpgan.utils.weights import resolve_weights

from .base import Metric
from .metric_util import check_bgr_uint8, resolve_device

__all__ = [
    'LandmarkDistance', 'FANLandmarkDetector', 'landmarks_from_heatmaps', 'FAN_WEIGHTS', 'calculate_lmd',
    'required_weights', 'REQUIRED_PACKAGE'
]

FAN_WEIGHTS = 'alignment_WFLW_4HG.pth'
_FAN_INPUT = 256  # FAN's CoordConv input is fixed at 256x256; it predicts 64x64 heatmaps


REQUIRED_PACKAGE = 'facexlib'


def required_weights(weights=None):
    """(file name or path, what it is) of the pretrained file FANLandmarkDetector(weights) loads."""
    return [(FAN_WEIGHTS if weights is None else weights, 'the FAN landmark detector of the LMD metric')]


def landmarks_from_heatmaps(heatmaps):
    """(K, h, w) heatmaps -> (K, 2) float64 (x, y) in heatmap pixels (pixel i spans [i, i + 1)).

    facexlib's decoding: the arg-max cell's centre, moved a quarter cell towards the higher of its two neighbours
    along each axis; a peak on the border is not moved along that axis (facexlib reads wrong cells there).
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float64)
    if heatmaps.ndim != 3 or min(heatmaps.shape) < 1:
        raise ValueError(f'landmarks_from_heatmaps expects (K, h, w) heatmaps, got shape {heatmaps.shape}.')
    k, h, w = heatmaps.shape
    ys, xs = np.divmod(heatmaps.reshape(k, -1).argmax(axis=1), w)
    rows = np.arange(k)
    dx = heatmaps[rows, ys, np.minimum(xs + 1, w - 1)] - heatmaps[rows, ys, np.maximum(xs - 1, 0)]
    dy = heatmaps[rows, np.minimum(ys + 1, h - 1), xs] - heatmaps[rows, np.maximum(ys - 1, 0), xs]
    dx[(xs == 0) | (xs == w - 1)] = 0
    dy[(ys == 0) | (ys == h - 1)] = 0
    return np.stack([xs + 0.5 + 0.25 * np.sign(dx), ys + 0.5 + 0.25 * np.sign(dy)], axis=1)


class FANLandmarkDetector:
    """98 WFLW landmarks of an aligned face with facexlib's AWing FAN (4 hourglass modules).

    Args:
        weights (str | None): a path or file name looked up like other pretrained files; None:
            ``alignment_WFLW_4HG.pth`` (``experiments/pretrained_models/``, caches, then facexlib's release URL).
        device (str | torch.device | None): None picks CUDA when available, else the CPU.
        pretrained (bool): False keeps the random initialisation (for tests, no file read).

    ``detector(img)``: (H, W, 3) BGR uint8 -> (98, 2) float64 (x, y) in pixels of ``img``. As facexlib does, the
    whole image is resized to 256x256 (bilinear), fed as RGB in [0, 1], and the heatmap points are scaled back.
    """

    def __init__(self, weights=None, device=None, pretrained=True):
        self.device = resolve_device(device)
        path = None
        if pretrained:  # resolved first: offline, the error comes before facexlib is imported
            path = resolve_weights(FAN_WEIGHTS if weights is None else weights)
        FAN = import_optional('facexlib.alignment.awing_arch', 'The landmark distance (LMD) metric').FAN
        self.model = FAN(num_modules=4, num_landmarks=98, device=str(self.device))
        if path is not None:
            load_network(self.model, path)  # the release file is {'state_dict': ...}
        self.model = self.model.to(self.device).eval()
        for param in self.model.parameters():
            param.requires_grad = False

    @torch.no_grad()
    def __call__(self, img):
        check_bgr_uint8(img, 'FANLandmarkDetector')
        h, w = img.shape[:2]
        face = cv2.resize(img, (_FAN_INPUT, _FAN_INPUT), interpolation=cv2.INTER_LINEAR)
        outputs, _ = self.model(bgr_to_tensor(face).to(self.device))
        heatmaps = outputs[-1][0, :-1].float().cpu().numpy()  # the last channel is the boundary map
        points = landmarks_from_heatmaps(heatmaps)
        return points * np.array([w / heatmaps.shape[2], h / heatmaps.shape[1]])

    def __repr__(self):
        return f'{type(self).__name__}(device={str(self.device)!r})'


class LandmarkDistance(Metric):
    """Mean Euclidean distance in pixels between the landmarks of two faces.

    Args:
        detector (callable | None): (H, W, 3) BGR uint8 -> (K, 2) (x, y) points in pixels; None:
            ``FANLandmarkDetector(device=device)`` with the released weights.
        device (str | torch.device | None): device of the default detector (ignored with a custom one).
        weights (str | None): weights of the default detector (None: the released ``alignment_WFLW_4HG.pth``).

    ``metric(img, img2) -> float`` for (H, W, 3) BGR uint8 images of one shape; both detections must have the
    same number of points, which correspond one to one.
    """

    name, label, higher_is_better = 'lmd', 'LMD (px)', False
    required_package = (REQUIRED_PACKAGE, 'The landmark distance (LMD) metric')

    @classmethod
    def required_weights(cls, weights=None, detector=None, **options):
        return required_weights(weights) if detector is None else []

    def __init__(self, detector=None, device=None, weights=None):
        if detector is None:
            detector = FANLandmarkDetector(weights=weights, device=device)
        elif not callable(detector):
            raise ValueError(f'LandmarkDistance detector must be a callable image -> (K, 2) points, got a '
                             f'{type(detector).__name__}.')
        self.detector = detector

    def landmarks(self, img):
        """The detector's (K, 2) float64 points of one (H, W, 3) BGR uint8 image, checked."""
        check_bgr_uint8(img, 'LandmarkDistance')
        points = self.detector(img)
        if torch.is_tensor(points):
            points = points.detach().cpu().numpy()
        points = np.asarray(points, dtype=np.float64)
        if points.ndim != 2 or points.shape[1] != 2 or len(points) == 0 or not np.isfinite(points).all():
            raise ValueError(f'LandmarkDistance needs a detector that returns finite (K, 2) points with K >= 1, '
                             f'got an array of shape {points.shape}.')
        return points

    def __call__(self, img, img2):
        """Mean distance in pixels between corresponding landmarks of two images of one shape."""
        check_bgr_uint8(img, 'LandmarkDistance')
        check_bgr_uint8(img2, 'LandmarkDistance')
        if img.shape != img2.shape:
            raise ValueError(f'LandmarkDistance needs images of one shape (the distance is in pixels), got '
                             f'{img.shape} and {img2.shape}.')
        points, points2 = self.landmarks(img), self.landmarks(img2)
        if points.shape != points2.shape:
            raise ValueError(f'LandmarkDistance needs the same number of landmarks in both images, got '
                             f'{len(points)} and {len(points2)}.')
        return float(np.linalg.norm(points - points2, axis=1).mean())

    def __repr__(self):
        return f'{type(self).__name__}(detector={self.detector!r})'


@functools.lru_cache(maxsize=None)
def _shared_metric(weights, device):
    return LandmarkDistance(FANLandmarkDetector(weights=weights, device=device))


@METRIC_REGISTRY.register()
def calculate_lmd(img, img2, weights=None, device=None, **kwargs):
    """Landmark distance in pixels between two (H, W, 3) BGR uint8 faces of one shape, with the default AWing FAN
    detector (loaded once per (weights, device) and reused across calls)."""
    weights = os.fspath(weights) if weights is not None else None
    return _shared_metric(weights, str(resolve_device(device)))(img, img2)
