"""Face selection: which of several detected faces to keep (the largest, or the one nearest the photo's centre)."""
import numpy as np

__all__ = ['SELECTIONS', 'center_index', 'largest_index', 'largest_unclipped_index', 'select_index']


def center_index(boxes, h, w):
    """Index of the box (rows x1 y1 x2 y2 ...) whose centre is nearest the centre of an ``h`` x ``w`` photo."""
    boxes = np.asarray(boxes, dtype=np.float64)
    centers = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    return int(np.argmin(np.linalg.norm(centers - np.array([w / 2, h / 2]), axis=1)))


def largest_index(boxes, h, w):
    """Index of the box (rows x1 y1 x2 y2 ...) covering the most of an ``h`` x ``w`` photo (boxes clipped to it;
    ``h`` or ``w`` None: not clipped)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    x1, x2 = np.clip(boxes[:, 0], 0, w), np.clip(boxes[:, 2], 0, w)
    y1, y2 = np.clip(boxes[:, 1], 0, h), np.clip(boxes[:, 3], 0, h)
    return int(np.argmax((x2 - x1) * (y2 - y1)))


def largest_unclipped_index(boxes):
    """Index of the box (rows x1 y1 x2 y2 ...) of largest area as detected, parts outside the photo included: the
    rule the eye/mouth box extraction has always used, kept so that its box files stay the same (``largest_index``
    may choose another face when a box reaches past the photo's edge)."""
    boxes = np.asarray(boxes, dtype=np.float64)
    return int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))


SELECTIONS = {'largest': largest_index, 'center': center_index}


def select_index(boxes, h, w, how):
    """Index of the face to keep by ``how`` ('largest' or 'center') among ``boxes`` in an ``h`` x ``w`` photo."""
    if how not in SELECTIONS:
        raise ValueError(f"Unknown face selection '{how}'; choose one of {', '.join(SELECTIONS)}.")
    return SELECTIONS[how](boxes, h, w)
