"""The picture of ``scripts/benchmark_video.py --picture``: does the video path flicker?

Three rows of face tiles over a few consecutive frames: the input, per-frame restoration (fresh decoder noise, raw
landmarks) and the stabilised path. Each tile is the face aligned by the clip's TRUE landmarks (the FFHQ 5-point
template, ``gfpgan.metrics.temporal.aligned_face``), so the same window follows the face along its path: the head's
own motion is removed and what still changes from column to column is flicker. Below them, a line chart of the face
flicker of every consecutive pair of frames over the whole clip for the three (the per-pair values of
``gfpgan.metrics.temporal.FlickerMeter`` that the benchmark's means come from), and above them a title with the three
means and their ratios. Drawn with OpenCV only."""
import math

import cv2
import numpy as np

from gfpgan.metrics.temporal import FACE_ELLIPSE, aligned_face

__all__ = ['CASES', 'COLUMNS', 'TILE', 'CHART_HEIGHT', 'CHART_MARGINS', 'video_picture', 'picture_shape']

#: (key, row label, BGR line colour) of the three cases, in row order
CASES = (('input', 'input', (210, 210, 210)), ('per_frame', 'per frame', (80, 90, 240)),
         ('stabilised', 'stabilised', (90, 210, 110)))
COLUMNS = 8  # consecutive frames shown
TILE = (128, 144)  # (width, height) of a face tile
_ALIGN = 192  # the aligned face's size; the tile is the window of it around the template's face ellipse
LABEL_WIDTH = 120  # the row labels' strip
TITLE_HEIGHT = 56  # two lines of title
HEADER_HEIGHT = 22  # frame numbers above the columns
CHART_HEIGHT = 250
CHART_MARGINS = (70, 20, 28, 42)  # left, right, top, bottom: the plot area inside the chart
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_DARK = (32, 32, 32)
_TEXT = (235, 235, 235)
_DIM = (150, 150, 150)


def picture_shape(columns=COLUMNS):
    """(height, width) of the picture showing ``columns`` frames."""
    width = LABEL_WIDTH + columns * TILE[0]
    return TITLE_HEIGHT + HEADER_HEIGHT + len(CASES) * TILE[1] + CHART_HEIGHT, width


def _text(img, text, origin, scale=0.5, colour=_TEXT, thickness=1):
    cv2.putText(img, text, (int(origin[0]), int(origin[1])), _FONT, scale, colour, thickness, cv2.LINE_AA)


def _text_width(text, scale=0.5, thickness=1):
    return cv2.getTextSize(text, _FONT, scale, thickness)[0][0]


def _ratio(a, b, spec):
    return f'{a / b:{spec}}x' if b and math.isfinite(a) and math.isfinite(b) else 'n/a'


def _face_tile(frame, points, scale):
    """The face of ``frame`` aligned by input-pixel ``points`` (times ``scale`` in this frame), cut to TILE around
    the template's face ellipse; a dark tile where the frame has no face."""
    if points is None:
        return np.full((TILE[1], TILE[0], 3), _DARK, np.uint8)
    face = aligned_face(frame, points, _ALIGN, scale)
    (cx, cy), _ = FACE_ELLIPSE
    x0 = int(round(cx * _ALIGN / 512 - TILE[0] / 2))
    y0 = min(max(int(round(cy * _ALIGN / 512 - TILE[1] / 2)), 0), _ALIGN - TILE[1])
    return face[y0:y0 + TILE[1], x0:x0 + TILE[0]]


def _nice_step(top, ticks=5):
    """A round tick step (1, 2 or 5 times a power of ten) giving about ``ticks`` ticks up to ``top``."""
    raw = max(top, 1e-6) / ticks
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)


def _chart(width, series, shown):
    """(CHART_HEIGHT, width, 3) line chart of the per-pair flicker ``series`` ({key: values, None skipped}) against
    the pair index, the pairs between the ``shown`` (first, last) frames shaded."""
    img = np.full((CHART_HEIGHT, width, 3), _DARK, np.uint8)
    left, right, top, bottom = CHART_MARGINS
    x1, y1 = width - right, CHART_HEIGHT - bottom
    pairs = max(len(v) for v in series.values())
    found = [v for values in series.values() for v in values if v is not None]
    step = _nice_step(max(found, default=1.0) * 1.08)
    y_max = step * math.ceil(max(found, default=1.0) * 1.08 / step)

    def px(t, value):
        return (left + (x1 - left) * t / max(pairs - 1, 1), y1 - (y1 - top) * value / y_max)

    first, last = shown
    sx0, sx1 = px(first - 0.5, 0)[0], px(last - 0.5, 0)[0]  # pairs (t, t + 1) with both frames shown
    cv2.rectangle(img, (int(max(sx0, left)), top), (int(min(sx1, x1)), y1), (58, 58, 58), -1)
    for k in range(int(round(y_max / step)) + 1):
        y = px(0, k * step)[1]
        cv2.line(img, (left, int(round(y))), (x1, int(round(y))), (70, 70, 70) if k else _DIM, 1)
        label = f'{k * step:g}'
        _text(img, label, (left - 8 - _text_width(label, 0.42), y + 5), 0.42, _DIM)
    cv2.line(img, (left, top), (left, y1), _DIM, 1)
    x_step = max(1, _nice_step(pairs, 8))
    for t in range(0, pairs, int(x_step)):
        x = px(t, 0)[0]
        cv2.line(img, (int(round(x)), y1), (int(round(x)), y1 + 4), _DIM, 1)
        _text(img, str(t), (x - _text_width(str(t), 0.42) / 2, y1 + 18), 0.42, _DIM)
    _text(img, 'frame pair (t, t+1)', ((left + x1) / 2 - 70, y1 + 36), 0.45, _DIM)
    _text(img, 'face flicker of each frame pair (grey levels per pixel); shaded: the frames shown above', (left, 18),
          0.45, _TEXT)
    for key, _, colour in CASES:
        run = []
        for t, value in enumerate(list(series.get(key, ())) + [None]):  # a skipped pair breaks the line
            if value is not None:
                run.append(px(t, value))
                continue
            if len(run) > 1:
                cv2.polylines(img, [np.round(np.array(run) * 16).astype(np.int32)], False, colour, 2, cv2.LINE_AA,
                              shift=4)
            for point in run:
                cv2.circle(img, (int(round(point[0] * 16)), int(round(point[1] * 16))), 2 * 16, colour, -1,
                           cv2.LINE_AA, shift=4)
            run = []
    lx = x1 - sum(_text_width(label, 0.45) + 50 for _, label, _ in CASES) + 16
    for key, label, colour in CASES:  # the legend, on the heading line at the right, clear of the lines
        cv2.line(img, (lx, 14), (lx + 24, 14), colour, 2, cv2.LINE_AA)
        _text(img, label, (lx + 30, 18), 0.45, colour)
        lx += _text_width(label, 0.45) + 50
    return img


def video_picture(frames, landmarks, restored, stability, title, columns=COLUMNS, start=None):
    """(H, W, 3) BGR uint8 picture (``picture_shape(columns)``, fewer columns for a shorter clip).

    Args:
        frames (list): the input clip's BGR uint8 frames.
        landmarks (list of (5, 2) | None): the clip's true landmarks per frame, input pixels (place every tile).
        restored (dict): 'per_frame' and 'stabilised' restored frames (any one scale of the input).
        stability (dict): the benchmark's 'input', 'per_frame', 'stabilised' rows: 'flicker' (the mean) and
            'values' (per pair, None where skipped).
        title (str): the second title line (what the clip and the restorer are).
        columns (int): consecutive frames shown; ``start``: the first of them (default: centred in the clip).
    """
    columns = max(1, min(columns, len(frames)))
    start = (len(frames) - columns) // 2 if start is None else min(max(int(start), 0), len(frames) - columns)
    height, width = picture_shape(columns)
    img = np.full((height, width, 3), _DARK, np.uint8)
    mean = {key: stability[key]['flicker'] for key, _, _ in CASES}
    first = ('mean face flicker: ' + ', '.join(f'{label} {mean[key]:.2f}' for key, label, _ in CASES) +
             f'  |  per frame / stabilised {_ratio(mean["per_frame"], mean["stabilised"], ".1f")}, '
             f'stabilised / input {_ratio(mean["stabilised"], mean["input"], ".2f")}')
    _text(img, first, (10, 22), 0.5, _TEXT)
    _text(img, title, (10, 46), 0.42, _DIM)
    y = TITLE_HEIGHT
    for c in range(columns):
        label = f'frame {start + c}'
        _text(img, label, (LABEL_WIDTH + c * TILE[0] + (TILE[0] - _text_width(label, 0.42)) / 2, y + 16), 0.42, _DIM)
    y += HEADER_HEIGHT
    sources = dict(restored, input=frames)
    for key, label, colour in CASES:
        for c in range(columns):
            t = start + c
            frame = sources[key][t]
            tile = _face_tile(frame, landmarks[t], frame.shape[1] / frames[t].shape[1])
            img[y:y + TILE[1], LABEL_WIDTH + c * TILE[0]:LABEL_WIDTH + (c + 1) * TILE[0]] = tile
        _text(img, label, (10, y + TILE[1] / 2 - 4), 0.55, colour)
        _text(img, f'flicker {mean[key]:.2f}', (10, y + TILE[1] / 2 + 18), 0.45, _DIM)
        y += TILE[1]
    series = {key: stability[key]['values'] for key, _, _ in CASES}
    img[y:y + CHART_HEIGHT] = _chart(width, series, (start, start + columns - 1))
    return img
