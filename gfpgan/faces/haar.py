"""The weight-free face detector: OpenCV's Haar cascades evaluated in NumPy (OpenCV 5 dropped them) or, without them,
scikit-image's LBP cascade; eyes located by image gradients and five FFHQ-order landmarks placed from the eyes."""
import math
import os
import xml.etree.ElementTree as ElementTree
from collections import namedtuple

import cv2
import numpy as np

from gfpgan.errors import GFPGANError
from gfpgan.faces.templates import FFHQ_TEMPLATE_5
from gfpgan.utils.hashing import sha256sum

__all__ = [
    'HaarDetectorError', 'HaarCascade', 'group_rectangles', 'eye_centre_by_gradients', 'landmarks5_from_eyes',
    'CASCADE_FILES', 'default_cache_dir', 'cascade_folder', 'load_cascade', 'cached_cascade_paths',
    'installed_haar_cascades', 'available_haar_cascades', 'DetectedFace', 'find_faces', 'detect_faces_haar'
]


class HaarDetectorError(GFPGANError, RuntimeError):
    """No face detector can run here (no Haar cascades and no scikit-image), said in one sentence."""


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
# Eyes and landmarks


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


# ----------------------------------------------------------------------------------------------------------------------
# Where the cascade files are

# the cascades the detector reads: their path inside OpenCV's wheel and their SHA-256
CASCADE_FILES = {
    'face': ('cv2/data/haarcascade_frontalface_default.xml',
             '0f7d4527844eb514d4a4948e822da90fbb16a34a0bbbbc6adc6498747a5aafb0'),
    'eye': ('cv2/data/haarcascade_eye.xml', '71cc64fc305a355dc60067880f6fbbd43dd155bd63ee3844661a1bda34b2fd8c'),
}


def default_cache_dir():
    """Where downloaded packages are kept: ``$GFPGAN_CACHE/demo_packages`` (default ``~/.cache/gfpgan``)."""
    from gfpgan.utils.weights import cache_dir
    return os.path.join(cache_dir(), 'demo_packages')


def cascade_folder(cache_dir=None):
    """The folder of the cascade files taken out of OpenCV's wheel: ``haarcascades`` in ``cache_dir``."""
    return os.path.join(cache_dir or default_cache_dir(), 'haarcascades')


_loaded_cascades = {}


def load_cascade(path):
    """A HaarCascade from an XML file, parsed once per path and modification time."""
    key = (os.path.abspath(path), os.path.getmtime(path))
    if key not in _loaded_cascades:
        with open(path, 'rb') as f:
            _loaded_cascades[key] = HaarCascade(f.read(), os.path.basename(path))
    return _loaded_cascades[key]


def cached_cascade_paths(folder):
    """``({part: path} of CASCADE_FILES in folder, whether all are there with the pinned SHA-256)``."""
    paths = {part: os.path.join(folder, os.path.basename(member)) for part, (member, _) in CASCADE_FILES.items()}
    return paths, all(os.path.isfile(p) and sha256sum(p) == CASCADE_FILES[part][1] for part, p in paths.items())


def installed_haar_cascades():
    """``{'face', 'eye': HaarCascade, 'origin': str}`` from an installed OpenCV 4's data; None without it."""
    installed = getattr(getattr(cv2, 'data', None), 'haarcascades', '') or ''
    paths = {part: os.path.join(installed, os.path.basename(member)) for part, (member, _) in CASCADE_FILES.items()}
    if installed and all(os.path.isfile(p) for p in paths.values()):
        return {**{part: load_cascade(p) for part, p in paths.items()}, 'origin': f'installed OpenCV ({installed})'}
    return None


def available_haar_cascades(cache_dir=None):
    """The installed cascades (``installed_haar_cascades``), else those already taken out of OpenCV's wheel into
    ``cascade_folder(cache_dir)``; None when neither is there. Never downloads."""
    found = installed_haar_cascades()
    if found:
        return found
    folder = cascade_folder(cache_dir)
    paths, complete = cached_cascade_paths(folder)
    return {**{part: load_cascade(p) for part, p in paths.items()}, 'origin': folder} if complete else None


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
        raise HaarDetectorError('No face detector: neither the OpenCV Haar cascades nor scikit-image (pip install '
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

    ``cascades``: ``{'face': HaarCascade, 'eye': HaarCascade}``, 'auto' (``available_haar_cascades()``: installed
    or cached ones) or None; without them faces come from scikit-image's LBP cascade and eyes from regions of the face
    box. Photos are searched at most ``max_side`` pixels on a side; ``min_face`` is the smallest box side (pixels).
    """
    if isinstance(cascades, str):
        cascades = available_haar_cascades()
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
