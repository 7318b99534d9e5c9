"""Eye / mouth boxes of a face set for the box file the facial-component discriminators read (``component_path``):
from FFHQ's metadata, a landmarks file, a detector or the FFHQ template, plus the check that the faces are aligned
like FFHQ (the template's boxes are only right for those). The command line is ``component_extraction_cli``."""
import json
import math
import os
import sys
import warnings

import cv2
import numpy as np

from gfpgan.errors import GFPGANError
from gfpgan.faces import components
from gfpgan.faces.selection import largest_unclipped_index
from gfpgan.utils.weights import WeightsNotFoundError, resolve_weights

from .components import dataset_key
from .storage import scan_images

__all__ = [
    'DETECTOR_FILE', 'DETECTOR_MODEL', 'DETECTOR_THRESHOLD', 'ALIGNMENT_TOLERANCE', 'ALIGNMENT_SAMPLE',
    'ALIGNMENT_VIEW', 'NOT_ALIGNED_HINT', 'ComponentExtractionError', 'list_image_files', 'read_image',
    'boxes_from_points', 'load_detector', 'detect_landmarks5', 'detector_available', 'read_json_object',
    'boxes_from_ffhq_json', 'boxes_from_folder', 'template_deviation', 'boxes_found_by_haar', 'sample_names',
    'check_alignment', 'draw_images'
]

DETECTOR_MODEL = 'retinaface_resnet50'  # the name in gfpgan.faces.DETECTOR_REGISTRY
DETECTOR_FILE = 'detection_Resnet50_Final.pth'
DETECTOR_THRESHOLD = 0.97  # the confidence facexlib's FaceRestoreHelper keeps faces at
# A face is aligned like FFHQ when its eye and mouth centres lie within this fraction of the image side of the
# template's (51 pixels at 512: 40 % of the eye distance); more than half the faces checked must be.
ALIGNMENT_TOLERANCE = 0.1
ALIGNMENT_SAMPLE = 16  # images searched for a face (OpenCV's Haar cascades) when the boxes come from the template
ALIGNMENT_VIEW = 256  # pixels on a side at which those images are searched
NOT_ALIGNED_HINT = ("not aligned like FFHQ; align them first (see datasets/README.md, 'Your own faces'), or "
                    'pass --skip-alignment-check if they are')


class ComponentExtractionError(GFPGANError):
    """A problem with the inputs of a box extraction that the user can fix, reported as one sentence."""


def list_image_files(folder):
    """Image file names of ``folder`` (not recursive) in the order the training datasets index them."""
    return [os.path.basename(path) for path in scan_images(folder)]


def progress(iterable, **kwargs):
    """``iterable`` with a tqdm progress bar (a box file of FFHQ takes a while)."""
    from tqdm import tqdm
    return tqdm(iterable, dynamic_ncols=True, **kwargs)


def warn(message):
    """Print ``warning: message`` to stderr without breaking a progress bar."""
    from tqdm import tqdm
    tqdm.write(f'warning: {message}', file=sys.stderr)


def read_image(path):
    """(H, W, 3) uint8 BGR image; a non-square or unreadable one is a ComponentExtractionError."""
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise ComponentExtractionError(f"cannot read image '{path}'.")
    if img.shape[0] != img.shape[1]:
        raise ComponentExtractionError(
            f"'{path}' is {img.shape[1]}x{img.shape[0]}: only square aligned faces are supported.")
    return img


def boxes_from_points(points, image_size, where):
    """Boxes from 5 or 68 points in the pixels of an ``image_size`` square image; ``where`` names them in errors."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) not in (5, 68):
        raise ComponentExtractionError(
            f'{where}: expected 5 or 68 [x, y] points, got an array of shape {points.shape}.')
    points = points * (components.BOX_FRAME / image_size)
    try:
        if len(points) == 5:
            return components.boxes_from_landmarks5(points)
        return components.boxes_from_landmarks68(points)
    except ValueError as err:
        raise ComponentExtractionError(f'{where}: {err}') from None


def load_detector(weights, device, allow_download):
    """facexlib's RetinaFace (ResNet-50) from the detector registry, its weights resolved locally (or downloaded if
    allowed) and loaded safely; a missing or bad weight file is a ComponentExtractionError."""
    from gfpgan.faces.detectors import build_detector
    from gfpgan.utils.checkpoint import CheckpointError
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # torchvision's notice about the `pretrained` argument facexlib passes
            return build_detector(
                DETECTOR_MODEL,
                weights=weights,
                device=device,
                conf_threshold=DETECTOR_THRESHOLD,
                allow_download=allow_download)
    except (WeightsNotFoundError, CheckpointError, FileNotFoundError) as err:
        raise ComponentExtractionError(str(err)) from None


def detect_landmarks5(model, img):
    """(5, 2) landmarks of the largest face (by its box as detected) RetinaFace finds in the BGR uint8 ``img``, or
    None; ``model`` has facexlib's ``detect_faces(img, threshold)`` -> (N, 15) rows."""
    faces = model.detect_faces(img, DETECTOR_THRESHOLD)
    if len(faces) == 0:
        return None
    return np.asarray(faces[largest_unclipped_index(faces), 5:15], dtype=np.float64).reshape(5, 2)


def detector_available(weights):
    """Whether RetinaFace can run without a download: its weights are on this machine and facexlib imports."""
    try:
        resolve_weights(weights, download=False)
        import facexlib.detection.retinaface  # noqa: F401
    except (ImportError, WeightsNotFoundError):
        return False
    return True


def read_json_object(path, what, expected):
    """The JSON object in ``path``; ``what`` names the file and ``expected`` its content in errors."""
    try:
        with open(path, 'rb') as f:
            data = json.load(f)
    except (OSError, ValueError) as err:
        raise ComponentExtractionError(f"cannot read {what} '{path}' as JSON ({err}).") from None
    if not isinstance(data, dict):
        raise ComponentExtractionError(f"'{path}' must be {expected}.")
    return data


def boxes_from_ffhq_json(path):
    """``{key: boxes}`` for every entry of ffhq-dataset-v2.json (the numbers of the release box file)."""
    boxes = {}
    for number, entry in progress(
            read_json_object(path, 'FFHQ metadata', 'the FFHQ metadata (a JSON object keyed by image number)').items(),
            desc='entries',
            unit='face'):
        try:
            key = dataset_key(number)
        except ValueError:
            raise ComponentExtractionError(f"'{path}': entry key {number!r} is not an image number.") from None
        try:
            boxes[key] = components.boxes_from_ffhq_entry(entry)
        except ValueError as err:
            raise ComponentExtractionError(f"'{path}': entry {number!r}: {err}") from None
    return boxes


def boxes_from_folder(folder, names, source, landmarks=None, detector=None):
    """``({key: boxes}, fallbacks, measured)`` for the image files ``names`` of ``folder`` (key = position in
    ``names``) from ``source`` 'template', 'landmarks' (``{name: points}``) or 'retinaface' (``detector``);
    ``measured`` is ``{name: boxes}`` of the images whose boxes come from landmarks."""
    template = components.ffhq_template_boxes()
    boxes, fallbacks, measured = {}, 0, {}
    for index, name in enumerate(progress(names, desc='images', unit='img')):
        path = os.path.join(folder, name)
        entry = template
        if source == 'landmarks':
            if name in landmarks:
                entry = measured[name] = boxes_from_points(landmarks[name],
                                                           read_image(path).shape[0], f"landmarks of '{name}'")
            else:
                warn(f"'{name}' is not in the landmarks file; using the template boxes.")
                fallbacks += 1
        elif source == 'retinaface':
            img = read_image(path)
            points = detect_landmarks5(detector, img)
            if points is None:
                warn(f"no face found in '{name}'; using the template boxes.")
                fallbacks += 1
            else:
                entry = measured[name] = boxes_from_points(points, img.shape[0], f"detected landmarks of '{name}'")
        boxes[dataset_key(index)] = entry
    return boxes, fallbacks, measured


def template_deviation(boxes):
    """The largest distance between the eye / mouth box centres of ``boxes`` (512-pixel frame) and the FFHQ
    template's, as a fraction of the image side: about 0 for a face aligned like FFHQ."""
    template = components.ffhq_template_boxes()
    return max(math.hypot(boxes[part][0] - template[part][0], boxes[part][1] - template[part][1])
               for part in components.COMPONENTS) / components.BOX_FRAME


def boxes_found_by_haar(img):
    """Boxes (512-pixel frame) of the largest frontal face that OpenCV's Haar cascades find in the square BGR
    ``img`` searched at ALIGNMENT_VIEW pixels, or None when there is none."""
    from gfpgan.faces.haar import find_faces
    view = cv2.resize(img, (ALIGNMENT_VIEW, ALIGNMENT_VIEW), interpolation=cv2.INTER_AREA)
    faces = find_faces(view, min_face=ALIGNMENT_VIEW // 6)
    if not faces:
        return None
    return components.boxes_from_landmarks5(faces[0].landmarks * (components.BOX_FRAME / ALIGNMENT_VIEW))


def sample_names(names, count):
    """Up to ``count`` of ``names``, spread evenly over them."""
    if len(names) <= count:
        return list(names)
    return [names[int(i)] for i in np.linspace(0, len(names) - 1, count).round()]


def check_alignment(folder, names, measured):
    """Refuse (ComponentExtractionError) a folder whose faces are not aligned like FFHQ: more than half of those
    checked have eyes or mouth off the template, or no face found. ``measured`` ({name: boxes} from landmarks) is
    checked when given, else up to ALIGNMENT_SAMPLE images searched with Haar cascades. Returns (off, checked)."""
    if measured:
        off = sum(template_deviation(b) > ALIGNMENT_TOLERANCE for b in measured.values())
        checked = len(measured)
    else:
        from gfpgan.faces.haar import HaarDetectorError
        off = checked = 0
        for name in sample_names(names, ALIGNMENT_SAMPLE):
            try:
                found = boxes_found_by_haar(read_image(os.path.join(folder, name)))
            except HaarDetectorError as err:  # no detector at all on this machine: say so and trust the user
                warn(f'cannot check that the faces are aligned like FFHQ ({err})')
                return 0, 0
            checked += 1
            off += found is None or template_deviation(found) > ALIGNMENT_TOLERANCE
    if checked and off * 2 > checked:
        raise ComponentExtractionError(f"{off} of the {checked} faces checked in '{folder}' are {NOT_ALIGNED_HINT}.")
    return off, checked


def draw_images(folder, names, boxes, count, draw_dir):
    """Write the first ``count`` images with their boxes drawn into ``draw_dir``; returns how many were written."""
    os.makedirs(draw_dir, exist_ok=True)
    written = 0
    for index, name in enumerate(names[:count]):
        key = dataset_key(index)
        if key not in boxes:
            warn(f"no boxes for '{name}' (key {key}); not drawn.")
            continue
        img = read_image(os.path.join(folder, name))
        out_path = os.path.join(draw_dir, os.path.splitext(name)[0] + '.png')
        if not cv2.imwrite(out_path, components.draw_component_boxes(img, boxes[key], img.shape[0])):
            raise ComponentExtractionError(f"cannot write '{out_path}'.")
        written += 1
    return written
