"""Temporal stability of restored video: face-region flicker and the identity angle between consecutive faces.

**Face flicker** (8-bit grey levels per pixel per frame, lower is steadier). For each pair of consecutive frames
(t, t + 1) of one face track:

1. The face's own motion is estimated from the INPUT video, never from the frames measured. By default
   (``motion='flow'``): OpenCV's Farneback dense optical flow between the two grey input frames around the face,
   started from the least-squares similarity transform between the track's 5-point landmarks of frames t and t + 1:
   the flow corrects what the landmarks get wrong (a detector's jitter, a talking mouth, a turning head) and the
   similarity spares it searching for large motions. ``motion='landmarks'``: that similarity alone, after
   smoothing each landmark coordinate over time within the shot (Savitzky-Golay, order 2, centred window of
   ``smooth_window`` = 7 frames, so that jitter is not read as motion while a smooth path, quadratic within the
   window, passes through); cheaper, but it needs precise landmarks and slow motion.
2. Frame t + 1 is warped back onto frame t by that motion (bilinear). A restored frame s times the input's size is
   warped by the same motion scaled to its pixels (pixel centres map as x' = s (x + 0.5) - 0.5), so that input and
   output are compensated identically and their flicker is comparable.
3. The value of the pair is the mean of | grey_t - warped grey_(t + 1) | (grey = 0.299 R + 0.587 G + 0.114 B on the
   0-255 scale, computed in float) over the face region of frame t: the ellipse of the FFHQ 5-point template's
   face (centre (256, 300), semi-axes (135, 165) in the 512-pixel template), shrunk by ``erode`` (default 15 %) so
   that the face border, hair and background stay out, placed by the landmarks (smoothed with
   ``motion='landmarks'``); pixels that the warp
   takes from outside frame t + 1 are left out.
4. A pair is skipped when the face is missing in either frame, when a shot cut lies between them (``cuts``), or when
   a landmark jumps by more than ``max_jump`` (default 1) times the face's eye-to-mouth distance (a cut or a
   detector that switched faces: no motion compensation can make such a pair comparable).

Even a perfect, noise-free video does not score 0 once its face moves: resampling (the camera's, then the bilinear
warp's) leaves a floor of a few grey levels on a detailed face; it is the same for input and output.

``face_flicker`` returns every pair's value and their mean. Measured on the input video it is the flicker the
content itself has (talking, lighting, compression). The input is measured upscaled (bicubic) to the restored
frames' size (``size``): an upscaled image is smoother, so per-pixel differences at its own size would flatter any
upscaled output; this way a restorer that only upscales scores the input's flicker, and the ratio output / input is
the flicker the restorer added (1.0: none).

**Consecutive identity angle** (degrees): the mean ArcFace angle between the aligned faces of consecutive frames of
one track (``gfpgan.metrics.identity_angle``'s protocol and network), skipping pairs where either face is missing.

These are whole-video measures, not per-image ``Metric`` classes of the registry; ``gfpgan.metrics.video_cli``
computes them for a restored video and its input (``python scripts/evaluate.py video --help``).
"""
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from gfpgan.faces.alignment import align_face, similarity_transform
from gfpgan.faces.templates import FFHQ_TEMPLATE_5
from gfpgan.utils.img_util import bgr_to_tensor

from .identity_angle import embedding_angle

__all__ = [
    'FlickerResult', 'FACE_ELLIPSE', 'smooth_track', 'track_segments', 'pair_motions', 'face_region_mask',
    'grey_levels', 'scale_affine', 'FlickerMeter', 'face_flicker', 'aligned_faces', 'aligned_face', 'IdentityMeter',
    'consecutive_identity_angle'
]

FACE_ELLIPSE = ((256.0, 300.0), (135.0, 165.0))  # (centre, semi-axes) of the face in the 512-pixel FFHQ template
_EYE_MOUTH = float(np.linalg.norm(FFHQ_TEMPLATE_5[:2].mean(0) - FFHQ_TEMPLATE_5[3:].mean(0)))  # 131 template px


@dataclass
class FlickerResult:
    """Per-pair values (``values[t]``: the pair (t, t + 1); None where skipped), their mean (NaN when no pair was
    compared) and how many pairs were compared / skipped."""
    values: list = field(default_factory=list)

    @property
    def compared(self):
        return sum(v is not None for v in self.values)

    @property
    def skipped(self):
        return len(self.values) - self.compared

    @property
    def mean(self):
        found = [v for v in self.values if v is not None]
        return float(np.mean(found)) if found else math.nan


def _as_points(landmarks):
    return None if landmarks is None else np.asarray(landmarks, np.float64).reshape(5, 2)


def _eye_mouth(points):
    return float(np.linalg.norm(points[:2].mean(0) - points[3:].mean(0)))


def track_segments(landmarks, cuts=(), max_jump=1.0):
    """[(start, stop)] frame ranges (stop exclusive) where a face track runs unbroken: the face is present in every
    frame, no shot starts inside (``cuts``: indices of the first frame of each new shot), and no landmark moves more
    than ``max_jump`` times the eye-to-mouth distance from one frame to the next."""
    points = [_as_points(p) for p in landmarks]
    cuts = set(int(c) for c in cuts)
    segments, start = [], None
    for t, p in enumerate(points):
        if p is None:
            if start is not None:
                segments.append((start, t))
            start = None
            continue
        if start is not None:
            prev = points[t - 1]
            jump = np.linalg.norm(p - prev, axis=1).max() / max(_eye_mouth(prev), 1e-6)
            if t in cuts or jump > max_jump:
                segments.append((start, t))
                start = None
        if start is None:
            start = t
    if start is not None:
        segments.append((start, len(points)))
    return segments


def smooth_track(landmarks, segments, window=7):
    """The landmarks with each coordinate smoothed over time inside each segment (Savitzky-Golay, order 2, centred
    ``window`` frames, shorter at a short segment; segments of under 4 frames are kept as they are). None stays."""
    from scipy.signal import savgol_filter
    out = [_as_points(p) for p in landmarks]
    for start, stop in segments:
        length = stop - start
        win = min(int(window), length if length % 2 else length - 1)
        if win < 3 or length < 4:
            continue
        block = np.stack(out[start:stop])  # (n, 5, 2)
        smoothed = savgol_filter(block, win, min(2, win - 1), axis=0, mode='interp')
        out[start:stop] = list(smoothed)
    return out


def pair_motions(landmarks, cuts=(), window=7, max_jump=1.0):
    """``(smoothed, motions)``: the track's smoothed landmarks (``smooth_track``) and, for each consecutive pair
    (t, t + 1), the (2, 3) similarity taking frame-t pixels to frame-(t + 1) pixels, None where the pair is not
    comparable (``track_segments``)."""
    segments = track_segments(landmarks, cuts, max_jump)
    smoothed = smooth_track(landmarks, segments, window)
    motions = [None] * max(len(smoothed) - 1, 0)
    for start, stop in segments:
        for t in range(start, stop - 1):
            motions[t] = similarity_transform(smoothed[t], smoothed[t + 1])
    return smoothed, motions


def scale_affine(matrix, scale):
    """The (2, 3) pixel map ``matrix`` of an image, for the same image resized by ``scale`` (pixel centres:
    x' = s (x + 0.5) - 0.5)."""
    to_big = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5], [0, 0, 1.0]])
    to_small = np.linalg.inv(to_big)
    return (to_big @ np.vstack([matrix, [0, 0, 1]]) @ to_small)[:2]


def _scale_points(points, scale):
    return None if points is None else scale * (points + 0.5) - 0.5


def face_region_mask(shape, landmarks5, erode=0.15):
    """``(mask, (x0, y0, x1, y1))``: a uint8 {0, 1} mask of the image ``shape`` (H, W) covering the face ellipse
    (``FACE_ELLIPSE`` of the FFHQ template, semi-axes times 1 - ``erode``) placed by ``landmarks5``, and its bounding
    box inside the image (mask is cropped to it); an empty box when the face is outside the image."""
    h, w = shape[:2]
    to_image = cv2.invertAffineTransform(similarity_transform(_as_points(landmarks5), FFHQ_TEMPLATE_5))
    (cx, cy), (ax, ay) = FACE_ELLIPSE
    angles = np.linspace(0, 2 * np.pi, 72, endpoint=False)
    shrink = 1.0 - float(erode)
    outline = np.stack([cx + shrink * ax * np.cos(angles), cy + shrink * ay * np.sin(angles)], axis=1)
    outline = outline @ to_image[:, :2].T + to_image[:, 2]
    x0, y0 = np.floor(outline.min(0)).astype(int)
    x1, y1 = np.ceil(outline.max(0)).astype(int) + 1
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((0, 0), np.uint8), (0, 0, 0, 0)
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [np.round((outline - (x0, y0)) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    return mask, (x0, y0, x1, y1)


def grey_levels(img):
    """(H, W) float32 grey of a BGR uint8 (or float) image on the 0-255 scale (BT.601 weights)."""
    img = np.asarray(img)
    if img.ndim == 2:
        return img.astype(np.float32)
    return cv2.cvtColor(img[..., :3].astype(np.float32), cv2.COLOR_BGR2GRAY)


def _farneback(grey, grey_next, initial=None):
    """Dense flow (h, w, 2) from frame t to t + 1: pixel p of frame t is at p + flow[p] in frame t + 1; refined from
    ``initial`` (h, w, 2) when given."""
    a, b = (np.clip(g, 0, 255).astype(np.uint8) for g in (grey, grey_next))
    flags = 0 if initial is None else cv2.OPTFLOW_USE_INITIAL_FLOW
    flow = None if initial is None else np.ascontiguousarray(initial, np.float32)
    return cv2.calcOpticalFlowFarneback(a, b, flow, 0.5, 4, 15, 3, 5, 1.1, flags)


def _flow_sources(ref, ref_next, box, scale, motion=None, margin=16):
    """(src_x, src_y): where each pixel of ``box`` (x0, y0, x1, y1) of a frame ``scale`` times the input's size lies
    in the next frame, by Farneback flow computed on the input frames' grey levels around the box, starting from
    the (2, 3) input-pixel ``motion`` when given (large motions then need no search)."""
    x0, y0, x1, y1 = box
    h, w = ref.shape[:2]
    ix0, iy0 = max(int((x0 + 0.5) / scale - 0.5) - margin, 0), max(int((y0 + 0.5) / scale - 0.5) - margin, 0)
    ix1, iy1 = min(int((x1 + 0.5) / scale) + margin + 1, w), min(int((y1 + 0.5) / scale) + margin + 1, h)
    initial = None
    if motion is not None:
        ys, xs = np.mgrid[iy0:iy1, ix0:ix1].astype(np.float64)
        initial = np.stack([motion[0, 0] * xs + motion[0, 1] * ys + motion[0, 2] - xs,
                            motion[1, 0] * xs + motion[1, 1] * ys + motion[1, 2] - ys], axis=-1)
    flow = _farneback(grey_levels(ref[iy0:iy1, ix0:ix1]), grey_levels(ref_next[iy0:iy1, ix0:ix1]), initial)
    ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    in_x, in_y = (xs + 0.5) / scale - 0.5 - ix0, (ys + 0.5) / scale - 0.5 - iy0  # input pixels of the crop
    flow = cv2.remap(flow, in_x, in_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return xs + scale * flow[..., 0], ys + scale * flow[..., 1]


def _pair_value(grey, grey_next, box, mask, motion=None, sources=None):
    """Mean |grey - warped grey_next| in ``box`` under ``mask``, frame t + 1 sampled where ``motion`` ((2, 3) frame
    t -> t + 1 pixels) or ``sources`` ((src_x, src_y) per box pixel) says; None when no pixel of the region maps
    inside frame t + 1."""
    x0, y0, x1, y1 = box
    h, w = grey_next.shape
    if sources is None:
        ys, xs = np.mgrid[y0:y1, x0:x1].astype(np.float32)
        src_x = motion[0, 0] * xs + motion[0, 1] * ys + motion[0, 2]
        src_y = motion[1, 0] * xs + motion[1, 1] * ys + motion[1, 2]
    else:
        src_x, src_y = sources
    warped = cv2.remap(grey_next, src_x.astype(np.float32), src_y.astype(np.float32), cv2.INTER_LINEAR)
    inside = (src_x >= 0) & (src_x <= w - 1) & (src_y >= 0) & (src_y <= h - 1) & (mask > 0)
    if not inside.any():
        return None
    return float(np.abs(grey[y0:y1, x0:x1][inside] - warped[inside]).mean())


class FlickerMeter:
    """Face-region flicker of one face track, fed one frame at a time (bounded memory for any video length).

    Args:
        landmarks (list of (5, 2) | None): the track's 5 points per frame in INPUT pixels (None: no face there).
        cuts (iterable of int): the first frame of each new shot.
        motion (str): 'flow' (Farneback optical flow of the input frames) or 'landmarks' (smoothed similarity).
        scale (float | None): the measured frames are this many times the input's size (None: from the first
            frame's width against the first reference frame's, else 1).
        smooth_window, erode, max_jump: the landmark smoothing window (frames), the face region's shrink, the jump
            that breaks a track (``track_segments``).
        blur (float): Gaussian sigma in input pixels applied to both grey frames first (0: none).
        size ((w, h) | None): measure the frames resized to this size (bicubic) first: the input at its restoration's
            size, so that the two compare (an upscale alone then adds no flicker: ratio 1); None: as they come.

    ``add(frame, reference=None)`` takes the next measured (H, W, 3) BGR uint8 frame and the input frame it
    restores (needed with ``motion='flow'`` when they differ); ``result`` is the FlickerResult so far.
    """

    def __init__(self, landmarks, cuts=(), motion='flow', scale=None, smooth_window=7, erode=0.15, max_jump=1.0,
                 blur=0.0, size=None):
        if motion not in ('landmarks', 'flow'):
            raise ValueError(f"The flicker motion must be 'landmarks' or 'flow', got {motion!r}.")
        self.motion, self.scale, self.erode, self.blur = motion, scale, erode, blur
        self.size = None if size is None else (int(size[0]), int(size[1]))
        # flow: the raw landmarks' similarity only starts the flow, which corrects it (smoothing would misplace the
        # ends of a short, fast segment); landmarks: the smoothed similarity is the motion
        window = smooth_window if motion == 'landmarks' else 1
        self.points, self.motions = pair_motions(landmarks, cuts, window, max_jump)
        self.result = FlickerResult([None] * len(self.motions))
        self.index = -1
        self._prev = self._prev_ref = None

    def add(self, frame, reference=None):
        self.index += 1
        t = self.index
        if t > len(self.motions):
            raise ValueError(f'More frames than landmarks ({len(self.motions) + 1}) were given to the flicker metric.')
        ref = frame if reference is None else reference
        if self.scale is None:
            self.scale = (self.size[0] if self.size else frame.shape[1]) / ref.shape[1]
        needed = (t < len(self.motions) and self.motions[t] is not None) or (t > 0 and self.motions[t - 1] is not None)
        if not needed:  # no pair of this frame is compared: nothing to keep
            self._prev = self._prev_ref = None
            return
        grey = grey_levels(frame)
        if self.size is not None and frame.shape[1::-1] != self.size:  # grey first: a third of the resizing
            grey = cv2.resize(grey, self.size, interpolation=cv2.INTER_CUBIC)
        if self.blur > 0:
            grey = cv2.GaussianBlur(grey, (0, 0), self.blur * self.scale)
        if t > 0 and self.motions[t - 1] is not None and self._prev is not None:
            self.result.values[t - 1] = self._pair(grey, ref, t - 1)
        self._prev, self._prev_ref = grey, ref

    def _pair(self, grey, ref, t):
        mask, box = face_region_mask(grey.shape, _scale_points(self.points[t], self.scale), self.erode)
        if box[2] <= box[0]:
            return None
        if self.motion == 'flow':
            sources = _flow_sources(self._prev_ref, ref, box, self.scale, self.motions[t])
            return _pair_value(self._prev, grey, box, mask, sources=sources)
        return _pair_value(self._prev, grey, box, mask, scale_affine(self.motions[t], self.scale))


def face_flicker(frames, landmarks, reference_frames=None, cuts=(), motion='flow', scale=None, smooth_window=7,
                 erode=0.15, max_jump=1.0, blur=0.0, size=None):
    """Face-region flicker of ``frames`` (see the module docstring), in grey levels per pixel per frame.

    Args:
        frames (iterable of (H, W, 3) BGR uint8): the video measured (input or restored), read one frame at a time.
        landmarks (list of (5, 2) | None): one face track's 5 points per frame in INPUT pixels (None: no face).
        reference_frames (iterable | None): the input video, when ``frames`` is its restoration: the flow is
            computed on it, and (``scale`` None) the sizes give the scale of ``frames``. Default: ``frames``.
        The other arguments: as ``FlickerMeter``.

    Returns:
        FlickerResult: ``values`` per pair (None where skipped) and ``mean``.
    """
    meter = FlickerMeter(landmarks, cuts, motion, scale, smooth_window, erode, max_jump, blur, size)
    refs = iter(reference_frames) if reference_frames is not None else None
    for t, frame in enumerate(frames):
        ref = next(refs, None) if refs is not None else None
        if refs is not None and ref is None:
            raise ValueError(f'The reference video has fewer frames ({t}) than the measured one.')
        meter.add(frame, ref)
    return meter.result


def aligned_faces(frames, landmarks, size=128, scale=1.0):
    """Yield each frame's face aligned to the FFHQ template at ``size`` pixels (``gfpgan.faces.alignment.align_face``)
    from the track's input-pixel ``landmarks`` scaled by ``scale`` (None where the frame has no face)."""
    for frame, points in zip(frames, landmarks):
        yield aligned_face(frame, points, size, scale)


def aligned_face(frame, points, size=128, scale=1.0):
    """``frame``'s face aligned at ``size`` pixels from input-pixel ``points`` scaled by ``scale``; None without."""
    return None if points is None else align_face(frame, _scale_points(_as_points(points), scale), size)[0]


class IdentityMeter:
    """Identity angle between the ArcFace embeddings of consecutive faces of one track, fed one face at a time
    (faces embedded ``batch_size`` at a time; only the last embedding is kept between batches).

    ``identity_model``: a ``gfpgan.metrics.identity_angle.IdentityAngle``: its ``embeddings`` (the network and the
    metric's gray 128x128 preprocessing) of the faces as RGB in [-1, 1].
    ``add(face)``: the next aligned (H, W, 3) BGR uint8 face, or None when the frame has none; ``result`` (after
    ``flush()``, which ``result`` calls): FlickerResult of angles in degrees per pair (t, t + 1).
    """

    def __init__(self, identity_model, batch_size=16):
        self.model, self.batch_size = identity_model, int(batch_size)
        self._values, self._pending, self._last = [], [], None
        self._count = 0

    def add(self, face):
        self._pending.append(face)
        if sum(f is not None for f in self._pending) >= self.batch_size:
            self.flush()

    def flush(self):
        faces = [f for f in self._pending if f is not None]
        if faces:
            size = faces[0].shape[1::-1]
            stack = np.stack([f if f.shape[1::-1] == size else cv2.resize(f, size, interpolation=cv2.INTER_AREA)
                              for f in faces])
            found = iter(self.model.embeddings(bgr_to_tensor(stack, (-1, 1))).cpu().numpy())
        for face in self._pending:
            emb = None if face is None else next(found)
            if self._count:
                self._values.append(None if emb is None or self._last is None else embedding_angle(self._last, emb))
            self._last = emb
            self._count += 1
        self._pending = []

    @property
    def result(self):
        self.flush()
        return FlickerResult(list(self._values))


def consecutive_identity_angle(faces, identity_model, batch_size=16):
    """Identity angle in degrees between the ArcFace embeddings of consecutive faces of one track.

    Args:
        faces (iterable of (H, W, 3) BGR uint8 | None): aligned faces in frame order (None: no face in that frame).
        identity_model (gfpgan.metrics.identity_angle.IdentityAngle): the network and its preprocessing.
        batch_size (int): faces embedded per forward pass.

    Returns:
        FlickerResult: the angle of each pair (t, t + 1), None where either face is missing, and their ``mean``.
    """
    meter = IdentityMeter(identity_model, batch_size)
    for face in faces:
        meter.add(face)
    return meter.result
