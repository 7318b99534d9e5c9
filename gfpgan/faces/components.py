"""Eye and mouth components: their names, the box rule from 68- or 5-point landmarks (official parse_landmark.py),
and crop locations of boxes in an image of any size (what the facial-component discriminators look at)."""
import numpy as np
import torch

from .alignment import similarity_transform
from .templates import FFHQ_TEMPLATE_5, LANDMARK_RANGES, MEAN_SHAPE_68, five_points_of

__all__ = [
    'COMPONENTS', 'BOX_FRAME', 'MIN_HALF_LEN', 'as_points', 'boxes_from_landmarks68', 'boxes_from_landmarks5',
    'boxes_from_ffhq_entry',
    'landmarks68_from_landmarks5', 'ffhq_template_boxes', 'component_locations', 'draw_component_boxes'
]

COMPONENTS = ('left_eye', 'right_eye', 'mouth')  # left/right as seen in the image
BOX_FRAME = 512  # boxes are stored in 512-pixel coordinates whatever the training image size
MIN_HALF_LEN = 16  # the official floor on a box's half side, in BOX_FRAME pixels
BOX_COLOURS = {'left_eye': (0, 255, 0), 'right_eye': (255, 128, 0), 'mouth': (0, 0, 255)}  # BGR


def as_points(points, count, what):
    """``points`` as a (count, 2) float64 array; one ValueError naming ``what`` when it is not that, or not finite."""
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (count, 2) or not np.isfinite(points).all():
        raise ValueError(f'{what} must be {count} finite (x, y) points, got an array of shape {points.shape}.')
    return points


def boxes_from_landmarks68(points):
    """Boxes ``{part: (x, y, half_len)}`` from (68, 2) landmarks in BOX_FRAME pixels: centre = mean of the part's
    points, half_len = max(half the longer side of their bounding box, 16), as the official parse_landmark.py."""
    points = as_points(points, 68, '68-point landmarks')
    boxes = {}
    for part in COMPONENTS:
        pts = points[LANDMARK_RANGES[part]]
        centre = np.mean(pts, 0)
        half_len = np.max((np.max(np.max(pts, 0) - np.min(pts, 0)) / 2, MIN_HALF_LEN))
        boxes[part] = (float(centre[0]), float(centre[1]), float(half_len))
    return boxes


def landmarks68_from_landmarks5(points):
    """A plausible (68, 2) shape for (5, 2) facexlib-order landmarks: the mean face shape moved onto them by the
    least-squares similarity transform."""
    points = as_points(points, 5, '5-point landmarks')
    matrix = similarity_transform(five_points_of(MEAN_SHAPE_68), points)
    return MEAN_SHAPE_68 @ matrix[:, :2].T + matrix[:, 2]


def boxes_from_landmarks5(points):
    """Boxes from (5, 2) landmarks in BOX_FRAME pixels (left eye, right eye, nose tip, left and right mouth corners,
    image left/right, as RetinaFace gives them), through the fitted mean 68-point shape."""
    return boxes_from_landmarks68(landmarks68_from_landmarks5(points))


def boxes_from_ffhq_entry(entry):
    """Boxes of one ffhq-dataset-v2.json entry, from ``entry['image']['face_landmarks']`` (68 points in the pixels
    of the 1024x1024 image, or of ``pixel_size``) scaled to BOX_FRAME: the release file's numbers."""
    try:
        points = entry['image']['face_landmarks']
        size = entry['image'].get('pixel_size', [1024, 1024])[0]
    except (KeyError, TypeError, IndexError, AttributeError):
        raise ValueError("no 'image': {'face_landmarks': [[x, y], ...]} in the entry.") from None
    return boxes_from_landmarks68(as_points(points, 68, 'face_landmarks') * (BOX_FRAME / size))


def ffhq_template_boxes():
    """Boxes of the FFHQ-aligned 512x512 face template (for aligned datasets with no landmarks)."""
    return boxes_from_landmarks5(FFHQ_TEMPLATE_5)


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


def draw_component_boxes(img, boxes, image_size=None):
    """A copy of the (H, W, 3) uint8 BGR image ``img`` with the entry's three boxes drawn (left eye green,
    right eye blue, mouth red); ``image_size`` defaults to the image width."""
    import cv2
    image_size = int(img.shape[1] if image_size is None else image_size)
    out = np.ascontiguousarray(img).copy()
    thickness = max(1, image_size // 256)
    for part, loc in zip(COMPONENTS, component_locations(boxes, image_size)):
        x1, y1, x2, y2 = (int(round(float(v))) for v in loc)
        cv2.rectangle(out, (x1, y1), (x2, y2), BOX_COLOURS[part], thickness)
    return out
