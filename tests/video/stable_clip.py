"""Stand-ins for the video stability tests: short in-memory clips of a textured face moving over a background
(with a cut, a face entering and leaving), a detector that reports each frame's known (noisy) landmarks, and a tiny
random GFPGAN restorer."""
import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan import GFPGANer
from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.faces.templates import FFHQ_TEMPLATE_5

FACE_SIZE = 64


@pytest.fixture(autouse=True)
def single_torch_thread():
    """One torch thread in a test that imports this fixture: the tiny networks gain nothing from more, and on a
    shared machine two spinning threads per process made these tests 10x slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


# the astronaut photo's face: its landmarks are the FFHQ template placed on this square of the photo
_FACE_BOX = (150, 20, 350)  # x, y, side


def _source():
    photo = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
    x, y, side = _FACE_BOX
    return photo, FFHQ_TEMPLATE_5 * (side / 512) + [x, y]


class KnownLandmarks:
    """A detector that knows each frame's landmarks (looked up by the frame's bytes; none for an unknown frame) and
    counts its calls."""

    def __init__(self):
        self.table = {}
        self.calls = 0

    def set(self, img, landmarks):
        """The faces of frame ``img``: a list of (5, 2) landmarks (an identical frame seen before is replaced)."""
        self.table[img.tobytes()] = [np.asarray(points, np.float64) for points in landmarks]

    def detect(self, img):
        self.calls += 1
        out = []
        for points in self.table.get(img.tobytes(), []):
            side = np.ptp(points, axis=0).max()
            box = np.concatenate([points.min(0) - side / 2, points.max(0) + side / 2])
            out.append(dict(box=box, score=1.0, landmarks=points))
        return out


def face_clip(paths, size=(320, 240), noise=0.0, backgrounds=None, seed=0, detector=None):
    """Frames of faces moving along ``paths``: a list (one per face) of per-frame (cx, cy, scale) or None (the face
    absent that frame). The face is the astronaut's, scale 1 = 200 px wide. ``backgrounds``: a BGR colour per
    frame (a change makes a cut). Returns (frames, true landmarks [frame][face] (5, 2) or None, detector)."""
    photo, source_points = _source()
    rng = np.random.default_rng(seed)
    detector = detector or KnownLandmarks()
    n = max(len(p) for p in paths)
    frames, truth = [], []
    for t in range(n):
        colour = backgrounds[t] if backgrounds is not None else (90, 100, 110)
        img = np.empty((size[1], size[0], 3), np.uint8)
        img[:] = colour
        gradient = np.linspace(0, 40, size[0], dtype=np.float32)[None, :, None]
        img = np.clip(img + gradient, 0, 255).astype(np.uint8)
        here, noisy = [], []
        for path in paths:
            place = path[t] if t < len(path) else None
            if place is None:
                here.append(None)
                continue
            cx, cy, scale = place
            s = scale
            x, y, side = _FACE_BOX
            matrix = np.array([[s, 0, cx - s * (x + side / 2)], [0, s, cy - s * (y + side / 2)]])
            patch = cv2.warpAffine(photo, matrix, size)
            alpha = cv2.warpAffine(np.ones(photo.shape[:2], np.float32), matrix, size)[:, :, None]
            img = (alpha * patch + (1 - alpha) * img).round().astype(np.uint8)
            points = source_points @ matrix[:, :2].T + matrix[:, 2]
            here.append(points)
            noisy.append(points + rng.normal(0, noise, points.shape))
        detector.set(img, noisy)
        frames.append(img)
        truth.append(here)
    return frames, truth, detector


def tiny_restorer(detector, use_parse=False, parser=None, batch_size=1, upscale=1):
    """A GFPGANer around a tiny random GFPGANv1Clean (64 px faces), on the CPU, with ``detector``."""
    torch.manual_seed(0)
    net = GFPGANv1Clean(
        out_size=FACE_SIZE, num_style_feat=32, channel_multiplier=1, num_mlp=2, narrow=0.25, sft_half=True).eval()
    with torch.no_grad():  # the noise strengths start at 0; a trained decoder's are not, and noise is what flickers
        for name, param in net.stylegan_decoder.named_parameters():
            if name.endswith('weight') and param.numel() == 1:
                param.fill_(0.2)
    return GFPGANer(net=net, upscale=upscale, face_size=FACE_SIZE, use_parse=use_parse, parser=parser, device='cpu',
                    det_model=None, detector=detector, batch_size=batch_size)
