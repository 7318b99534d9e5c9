"""Eye and mouth box files for the facial-component discriminators: the ``FFHQ_eye_mouth_landmarks_512.pth``
format (safe loading, validation, saving) and FFHQ's json entries. The geometry (components, the box rule, crop
locations, templates) lives in ``gfpgan.faces`` and is re-exported here under its old names."""
import math
import os
import re

import numpy as np
import torch

from gfpgan.faces.alignment import similarity_transform
from gfpgan.faces.components import (BOX_COLOURS, BOX_FRAME, COMPONENTS, MIN_HALF_LEN, boxes_from_ffhq_entry,
                                     boxes_from_landmarks5, boxes_from_landmarks68, component_locations,
                                     draw_component_boxes, ffhq_template_boxes, landmarks68_from_landmarks5)
from gfpgan.faces.templates import FFHQ_TEMPLATE_5, LANDMARK_RANGES, MEAN_SHAPE_68
from gfpgan.utils.checkpoint import atomic_save
from gfpgan.utils.pretrained import PRETRAINED

__all__ = [
    'COMPONENTS', 'BOX_FRAME', 'RELEASE_URL', 'FFHQ_TEMPLATE_5', 'MEAN_SHAPE_68', 'load_component_boxes',
    'save_component_boxes', 'validate_component_boxes', 'dataset_key', 'boxes_from_landmarks68',
    'boxes_from_landmarks5', 'landmarks68_from_landmarks5', 'similarity_transform', 'ffhq_template_boxes',
    'boxes_from_ffhq_entry', 'component_locations', 'draw_component_boxes', 'BOX_COLOURS', 'LANDMARK_RANGES',
    'MIN_HALF_LEN'
]

RELEASE_URL = PRETRAINED['FFHQ_eye_mouth_landmarks_512.pth'].url


def dataset_key(index):
    """The file's key for dataset index ``index``: 8 digits, e.g. '00000042'."""
    return f'{int(index):08d}'


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
