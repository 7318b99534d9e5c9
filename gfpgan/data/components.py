"""Eye and mouth boxes for the facial-component discriminators: the ``FFHQ_eye_mouth_landmarks_512.pth``
format (safe loading, saving), boxes from 68- or 5-point landmarks, and per-sample crop locations."""
import math
import os
import re

import cv2
import numpy as np
import torch

from gfpgan.utils.checkpoint import atomic_save
from gfpgan.utils.pretrained import PRETRAINED

__all__ = [
    'COMPONENTS', 'BOX_FRAME', 'RELEASE_URL', 'FFHQ_TEMPLATE_5', 'MEAN_SHAPE_68', 'load_component_boxes',
    'save_component_boxes', 'validate_component_boxes', 'dataset_key', 'boxes_from_landmarks68',
    'boxes_from_landmarks5', 'landmarks68_from_landmarks5', 'similarity_transform', 'ffhq_template_boxes',
    'boxes_from_ffhq_entry', 'component_locations', 'draw_component_boxes'
]

COMPONENTS = ('left_eye', 'right_eye', 'mouth')  # left/right as seen in the image
BOX_FRAME = 512  # boxes are stored in 512-pixel coordinates whatever the training image size
MIN_HALF_LEN = 16  # the official floor on a box's half side, in BOX_FRAME pixels
RELEASE_URL = PRETRAINED['FFHQ_eye_mouth_landmarks_512.pth'].url

# 68-point index ranges (iBUG / dlib convention, 0-based) of each component.
LANDMARK_RANGES = {'left_eye': range(36, 42), 'right_eye': range(42, 48), 'mouth': range(48, 68)}

# Five FFHQ-aligned points (eye centres, nose tip, mouth corners; image left first) of a 512x512 face,
# the template facexlib's FaceRestoreHelper aligns to.
FFHQ_TEMPLATE_5 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                            [201.26117, 371.41043], [313.08905, 371.15118]])

# Mean 68-point face shape (dlib's mean landmarks, normalised to about [0, 1]), rounded to 5 decimals from
# TEMPLATE in OpenFace's openface/align_dlib.py (github.com/cmusatyalab/openface, Apache-2.0).
MEAN_SHAPE_68 = np.array([[0.07924, 0.33922], [0.08292, 0.45696], [0.09679, 0.57565], [0.12214, 0.69192],
                          [0.16869, 0.80034], [0.23979, 0.89573], [0.32566, 0.97707], [0.42232, 1.04329],
                          [0.53178, 1.06080], [0.64130, 1.03982], [0.73811, 0.97227], [0.82444, 0.88962],
                          [0.89479, 0.79249], [0.93940, 0.68155], [0.96112, 0.56224], [0.97058, 0.44176],
                          [0.97119, 0.32212], [0.16385, 0.24915], [0.21780, 0.20426], [0.29130, 0.19237],
                          [0.36746, 0.20358], [0.43929, 0.23314], [0.58645, 0.22814], [0.66015, 0.19592],
                          [0.73747, 0.18236], [0.81324, 0.19283], [0.87076, 0.23529], [0.51535, 0.31864],
                          [0.51622, 0.39620], [0.51712, 0.47380], [0.51816, 0.55316], [0.43370, 0.60405],
                          [0.47550, 0.62076], [0.52071, 0.63427], [0.56587, 0.61880], [0.60705, 0.60158],
                          [0.25242, 0.33105], [0.29866, 0.30265], [0.35575, 0.30302], [0.40372, 0.33868],
                          [0.35251, 0.34999], [0.29679, 0.35048], [0.63133, 0.33414], [0.67907, 0.29645],
                          [0.73597, 0.29472], [0.78287, 0.32131], [0.74031, 0.34185], [0.68500, 0.34373],
                          [0.35317, 0.74619], [0.41459, 0.71905], [0.47768, 0.70684], [0.52273, 0.71709],
                          [0.56983, 0.70541], [0.63520, 0.71566], [0.69952, 0.73942], [0.63945, 0.80524],
                          [0.57641, 0.83544], [0.52540, 0.84171], [0.47642, 0.83751], [0.41380, 0.81005],
                          [0.38008, 0.74998], [0.47796, 0.74513], [0.52339, 0.74892], [0.57106, 0.74333],
                          [0.67241, 0.74418], [0.57254, 0.77661], [0.52401, 0.78337], [0.47756, 0.77848]])


def _five_points_of(shape68):
    """The 5 facexlib-order points of a (68, 2) shape: eye centres, nose tip (30), mouth corners (48, 54)."""
    return np.stack([
        shape68[LANDMARK_RANGES['left_eye']].mean(0), shape68[LANDMARK_RANGES['right_eye']].mean(0), shape68[30],
        shape68[48], shape68[54]
    ])


def _as_points(points, count, what):
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (count, 2) or not np.isfinite(points).all():
        raise ValueError(f'{what} must be {count} finite (x, y) points, got an array of shape {points.shape}.')
    return points


def boxes_from_landmarks68(points):
    """Boxes ``{part: (x, y, half_len)}`` from (68, 2) landmarks in BOX_FRAME pixels: centre = mean of the part's
    points, half_len = max(half the longer side of their bounding box, 16), as the official parse_landmark.py."""
    points = _as_points(points, 68, '68-point landmarks')
    boxes = {}
    for part in COMPONENTS:
        pts = points[LANDMARK_RANGES[part]]
        centre = np.mean(pts, 0)
        half_len = np.max((np.max(np.max(pts, 0) - np.min(pts, 0)) / 2, MIN_HALF_LEN))
        boxes[part] = (float(centre[0]), float(centre[1]), float(half_len))
    return boxes


def similarity_transform(src, dst):
    """Least-squares similarity (scale, rotation, translation; Umeyama 1991) mapping (N, 2) ``src`` onto ``dst``,
    as a (2, 3) matrix."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, sigma, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection: flip the weakest axis instead
        sign[1] = -1
    rotation = u @ np.diag(sign) @ vt
    scale = (sigma * sign).sum() / src_c.var(0).sum()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def landmarks68_from_landmarks5(points):
    """A plausible (68, 2) shape for (5, 2) facexlib-order landmarks: the mean face shape moved onto them by the
    least-squares similarity transform."""
    points = _as_points(points, 5, '5-point landmarks')
    matrix = similarity_transform(_five_points_of(MEAN_SHAPE_68), points)
    return MEAN_SHAPE_68 @ matrix[:, :2].T + matrix[:, 2]


def boxes_from_landmarks5(points):
    """Boxes from (5, 2) landmarks in BOX_FRAME pixels (left eye, right eye, nose tip, left and right mouth corners,
    image left/right, as RetinaFace gives them), through the fitted mean 68-point shape."""
    return boxes_from_landmarks68(landmarks68_from_landmarks5(points))


def ffhq_template_boxes():
    """Boxes of the FFHQ-aligned 512x512 face template (for aligned datasets with no landmarks)."""
    return boxes_from_landmarks5(FFHQ_TEMPLATE_5)


def dataset_key(index):
    """The file's key for dataset index ``index``: 8 digits, e.g. '00000042'."""
    return f'{int(index):08d}'


def boxes_from_ffhq_entry(entry):
    """Boxes of one ffhq-dataset-v2.json entry, from ``entry['image']['face_landmarks']`` (68 points in the pixels
    of the 1024x1024 image, or of ``pixel_size``) scaled to BOX_FRAME: the release file's numbers."""
    try:
        points = entry['image']['face_landmarks']
        size = entry['image'].get('pixel_size', [1024, 1024])[0]
    except (KeyError, TypeError, IndexError, AttributeError):
        raise ValueError("no 'image': {'face_landmarks': [[x, y], ...]} in the entry.") from None
    return boxes_from_landmarks68(_as_points(points, 68, 'face_landmarks') * (BOX_FRAME / size))


def _entry_problem(entry):
    """None if ``entry`` holds the three parts with 3 finite numbers each (positive half_len), else what is wrong."""
    if not isinstance(entry, dict):
        return f'is a {type(entry).__name__}, not a dict of parts'
    for part in COMPONENTS:
        if part not in entry:
            return f"has no '{part}'"
        value = entry[part]
        try:
            numbers = [float(v) for v in np.asarray(value, dtype=np.float64).reshape(-1)]
        except (TypeError, ValueError):
            return f"'{part}' is not numeric ({type(value).__name__})"
        if len(numbers) != 3 or not all(math.isfinite(v) for v in numbers):
            return f"'{part}' must be 3 finite numbers (x, y, half_len), got {numbers}"
        if numbers[2] <= 0:
            return f"'{part}' has a half_len of {numbers[2]}, not positive"
    return None


def validate_component_boxes(boxes, source='boxes'):
    """Check ``{key: {part: [x, y, half_len]}}`` and return it with plain Python float tuples (a new dict).
    Raises one ValueError naming ``source`` and the first bad key."""
    if not isinstance(boxes, dict):
        raise ValueError(f"{source} must hold a dict keyed by dataset index ('00000000'), got {type(boxes).__name__}.")
    out = {}
    for key, entry in boxes.items():
        problem = 'has a key that is not a str' if not isinstance(key, str) else _entry_problem(entry)
        if problem:
            raise ValueError(f'{source}: entry {key!r} {problem}; each entry must be '
                             "{'left_eye': [x, y, half_len], 'right_eye': [...], 'mouth': [...]}.")
        out[key] = {
            part: tuple(float(v) for v in np.asarray(entry[part], dtype=np.float64).reshape(-1))
            for part in COMPONENTS
        }
    return out


def _numpy_safe_globals():
    """The numpy globals a torch.save of float64 scalars / arrays references, and nothing more. Files written with
    numpy 1 (such as the release file) name ``numpy.core.multiarray``, numpy 2 ``numpy._core.multiarray``."""
    core = getattr(np, '_core', None) or np.core
    scalar, reconstruct = core.multiarray.scalar, core.multiarray._reconstruct
    allowed = [np.dtype, type(np.dtype(np.float64)), np.ndarray, scalar, reconstruct]
    if torch.__version__ >= '2.6':  # (object, name) aliases: the other numpy generation's module name
        for module in ('numpy.core.multiarray', 'numpy._core.multiarray'):
            if module != scalar.__module__:
                allowed += [(scalar, f'{module}.scalar'), (reconstruct, f'{module}._reconstruct')]
    return allowed


def load_component_boxes(path):
    """Read a component-box file (the release ``FFHQ_eye_mouth_landmarks_512.pth`` or one written by
    ``save_component_boxes``) without running code: ``{'00000000': {part: (x, y, half_len)}}`` in BOX_FRAME pixels."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Facial component boxes file '{path}' (option `component_path`) does not exist: for FFHQ download "
            f'{RELEASE_URL} into experiments/pretrained_models/, for another dataset make one with '
            'scripts/extract_components.py.')
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    try:
        if safe_globals is None:  # torch < 2.5: only files of plain floats load
            data = torch.load(path, map_location='cpu', weights_only=True)
        else:
            with safe_globals(_numpy_safe_globals()):
                data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # a refused global, or a damaged / foreign file (which fails in many ways)
        text = str(err)
        found = re.search(r'GLOBAL ([\w.]+)', text)
        if found:
            raise ValueError(f"Refusing to read component boxes from '{path}': its pickle references "
                             f'`{found.group(1)}`, which could run code; a box file holds only dicts, lists and '
                             'numbers.') from err
        detail = text.split('WeightsUnpickler error:')[-1].strip() or type(err).__name__
        raise ValueError(f"Cannot read component boxes from '{path}' (truncated, not a PyTorch file, or holding "
                         f'objects other than dicts, lists and numbers): {detail.splitlines()[0]}') from err
    return validate_component_boxes(data, source=f"component boxes file '{path}'")


def save_component_boxes(boxes, path, numpy_scalars=True):
    """Write ``{key: {part: [x, y, half_len]}}`` atomically in the release layout: np.float64 values like the release
    file by default (the original GFPGAN dataset code computes with them; ``load_component_boxes`` reads them
    safely), or plain Python floats, which any ``torch.load(weights_only=True)`` reads without an allow-list."""
    boxes = validate_component_boxes(boxes)
    cast = np.float64 if numpy_scalars else float
    atomic_save({
        key: {
            part: [cast(v) for v in entry[part]]
            for part in COMPONENTS
        }
        for key, entry in boxes.items()
    }, path)


def component_locations(boxes, image_size, hflip=False, eye_enlarge_ratio=1.0):
    """Crop boxes ``(loc_left_eye, loc_right_eye, loc_mouth)``, each a (4,) float32 tensor [x1, y1, x2, y2] in the
    pixels of an ``image_size`` square image, for one entry ``{part: (x, y, half_len)}`` in BOX_FRAME pixels.

    On ``hflip`` the eyes swap and x -> image_size - x (the original's convention); eye half sides are multiplied
    by ``eye_enlarge_ratio``. ``boxes`` is never modified. At 512 the numbers equal the original dataset's.
    """
    if isinstance(image_size, bool) or not isinstance(image_size, (int, np.integer)) or image_size <= 0:
        raise ValueError(f'image_size must be a positive int, got {image_size!r}.')
    if not eye_enlarge_ratio > 0:
        raise ValueError(f'eye_enlarge_ratio must be positive, got {eye_enlarge_ratio!r}.')
    scale = image_size / BOX_FRAME
    parts = {}
    for part in COMPONENTS:
        x, y, half_len = (float(v) for v in np.asarray(boxes[part], dtype=np.float64).reshape(-1))
        parts[part] = [np.float64(x * scale), np.float64(y * scale), np.float64(half_len * scale)]
    if hflip:
        parts = {'left_eye': parts['right_eye'], 'right_eye': parts['left_eye'], 'mouth': parts['mouth']}
        parts = {part: [image_size - x, y, h] for part, (x, y, h) in parts.items()}
    locations = []
    for part in COMPONENTS:
        x, y, half_len = parts[part]
        if part != 'mouth':
            half_len = half_len * eye_enlarge_ratio
        centre = np.array([x, y])
        locations.append(torch.from_numpy(np.hstack((centre - half_len + 1, centre + half_len))).float())
    return tuple(locations)


BOX_COLOURS = {'left_eye': (0, 255, 0), 'right_eye': (255, 128, 0), 'mouth': (0, 0, 255)}  # BGR


def draw_component_boxes(img, boxes, image_size=None):
    """A copy of the (H, W, 3) uint8 BGR image ``img`` with the entry's three boxes drawn (left eye green,
    right eye blue, mouth red); ``image_size`` defaults to the image width."""
    image_size = int(img.shape[1] if image_size is None else image_size)
    out = np.ascontiguousarray(img).copy()
    thickness = max(1, image_size // 256)
    for part, loc in zip(COMPONENTS, component_locations(boxes, image_size)):
        x1, y1, x2, y2 = (int(round(float(v))) for v in loc)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOURS[part], thickness)
    return out
