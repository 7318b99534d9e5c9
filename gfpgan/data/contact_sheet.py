"""The contact sheet of a prepared dataset (issue 16): one picture of the kept and rejected faces of a manifest
(gfpgan.data.dataset_preparation), kept first, then the rejected ones grouped by reason, each tile framed green
(kept) or red (rejected) with its name or reason written on it, under a header line of counts.

Tiles: a kept face is its aligned image (<output>/images/<name>) resized to ``thumb``; a rejected face is a square
crop of its source photo around the detection box with a margin; a source without a face box ('no face',
'unreadable') is the whole photo letterboxed, or a grey tile when it cannot be read (missing, moved, corrupt). Each
source photo is read once, however many of its faces are shown, so memory stays flat on big sets.

Size bound: at most ``max_faces`` tiles (and never more than SHEET_LIMIT). When there are more faces, the places are
dealt round-robin over the groups (kept, then each reason) so that every reason shows at least one face when there
are enough places, and each group shows faces evenly spaced over its own manifest order; the header says how many of
how many are shown."""
import math
import os

import cv2
import numpy as np

__all__ = ['SHEET_LIMIT', 'KEPT_COLOUR', 'REJECTED_COLOUR', 'MISSING_GREY', 'MEASURE_OF', 'sheet_groups',
           'sheet_layout', 'sheet_plan', 'face_tile', 'contact_sheet', 'write_contact_sheet']

SHEET_LIMIT = 1000  # tiles at most, whatever max_faces says (10 columns of 128 px: a 1.3 x 13 kpx picture)
KEPT_COLOUR, REJECTED_COLOUR = (0, 170, 0), (0, 0, 210)  # BGR frames
MISSING_GREY = 128  # the grey of a tile whose image cannot be read
BACKGROUND = (32, 32, 32)
BORDER, GAP, LINE = 3, 4, 20  # frame width, space between tiles, height of a header / group-title text line
FONT = cv2.FONT_HERSHEY_SIMPLEX
MARGIN = 0.3  # crop of a rejected face: its box grown by this fraction of its side on each side
# the manifest measure a reason is about, written on its tiles
MEASURE_OF = {'too blurry': 'sharpness', 'too dark': 'luminance', 'too bright': 'luminance', 'strong profile': 'yaw',
              'grayscale': 'colourfulness'}


def _label(record):
    """What a tile says: the file name of a kept face; the reason of a rejected one, with the measure it failed
    ('too blurry: 12'), so that thresholds can be judged from the sheet."""
    if record.get('kept'):
        return record.get('name', '?')
    reason = record.get('reason') or 'rejected'
    measure = record.get(MEASURE_OF.get(reason, ''))
    return f'{reason}: {measure:.0f}' if isinstance(measure, (int, float)) else reason


def _evenly_spaced(items, count):
    """``count`` items of ``items`` spread evenly over it, first and order kept."""
    if count >= len(items):
        return list(items)
    return [items[int(i * len(items) / count)] for i in range(count)]


def sheet_groups(manifest, max_faces=None):
    """[(title, shown records, total)] of ``manifest``: kept first, then each reason group (its particulars dropped:
    'near duplicate of 00000003.png' -> 'near duplicate') in the order of the summary table; at most ``max_faces``
    (and SHEET_LIMIT) shown in all, shared as the module docstring says (a group may show none when there are fewer
    places than groups)."""
    from .dataset_preparation import reason_group, summary_counts
    groups = {title: [] for title in summary_counts(manifest)}
    for record in manifest['faces']:
        groups['kept' if record.get('kept') else reason_group(record['reason'])].append(record)
    groups = [(title, records) for title, records in groups.items() if records]
    limit = SHEET_LIMIT if max_faces is None else max(0, min(int(max_faces), SHEET_LIMIT))
    places = [0] * len(groups)
    while sum(places) < limit and any(n < len(records) for n, (_, records) in zip(places, groups)):
        for i, (_, records) in enumerate(groups):
            if places[i] < len(records) and sum(places) < limit:
                places[i] += 1
    return [(title, _evenly_spaced(records, n), len(records)) for n, (title, records) in zip(places, groups)]


def _font_scale(thumb):
    return max(0.3, 0.4 * thumb / 128)


def _fit(text, width, scale, keep_end=False):
    """``text`` cut with '..' (at its end, or at its start with ``keep_end``) until it fits ``width`` pixels."""
    def wide(t):
        return cv2.getTextSize(t, FONT, scale, 1)[0][0] > width
    if not wide(text):
        return text
    while len(text) > 1 and wide('..' + text if keep_end else text + '..'):
        text = text[1:] if keep_end else text[:-1]
    return '..' + text if keep_end else text + '..'


def _wrap(text, width, scale, max_lines):
    """``text`` broken at spaces into at most ``max_lines`` lines of ``width`` pixels (the last one shortened)."""
    lines, current = [], ''
    for word in text.split():
        trial = f'{current} {word}'.strip()
        if current and cv2.getTextSize(trial, FONT, scale, 1)[0][0] > width:
            lines.append(current)
            current = word
        else:
            current = trial
    lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines - 1] + [' '.join(lines[max_lines - 1:])]
    return [_fit(line, width, scale) for line in lines]


def _strip_height(lines, scale):
    return len(lines) * int(round(30 * scale)) + 4


def _write_strip(tile, lines, scale, top):
    """Write ``lines`` in white on a dark band across ``tile`` (in place), at its top or its bottom."""
    size = tile.shape[0]
    height = _strip_height(lines, scale)
    y0 = BORDER if top else size - BORDER - height
    band = tile[y0:y0 + height, BORDER:size - BORDER]
    band[:] = (band.astype(np.float32) * 0.3).astype(np.uint8)
    step = int(round(30 * scale))
    for i, line in enumerate(lines):
        cv2.putText(tile, line, (BORDER + 3, y0 + step * (i + 1) - int(round(6 * scale))), FONT, scale,
                    (255, 255, 255), 1, cv2.LINE_AA)


def _label_strips(thumb, label, source):
    """(top lines, bottom lines, scale) of a tile: the source file on top, the name or reason below."""
    scale = _font_scale(thumb)
    width = thumb - 2 * BORDER - 6
    top = [_fit(os.path.basename(source), width, scale * 0.9, keep_end=True)] if source else []
    return top, _wrap(label, width, scale, 2), scale


def face_tile(picture, thumb, kept, label, source=''):
    """A ``thumb`` x ``thumb`` BGR uint8 tile: ``picture`` (a face or a whole photo; None: grey) letterboxed in,
    a green (kept) or red frame, the source file name on a dark strip at the top and ``label`` at the bottom."""
    tile = np.full((thumb, thumb, 3), MISSING_GREY, np.uint8)
    if picture is not None:
        h, w = picture.shape[:2]
        scale = thumb / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        small = cv2.resize(picture, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)
        y, x = (thumb - nh) // 2, (thumb - nw) // 2
        tile[y:y + nh, x:x + nw] = small
    top, bottom, scale = _label_strips(thumb, label, source)
    if top:
        _write_strip(tile, top, scale * 0.9, top=True)
    _write_strip(tile, bottom, scale, top=False)
    colour = KEPT_COLOUR if kept else REJECTED_COLOUR
    tile[:BORDER], tile[-BORDER:], tile[:, :BORDER], tile[:, -BORDER:] = colour, colour, colour, colour
    return tile


def _box_crop(photo, box):
    """The square crop of ``photo`` around ``box`` [x1, y1, x2, y2] grown by MARGIN, padded grey past the edges."""
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * MARGIN)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    left, top = int(round(cx - side / 2)), int(round(cy - side / 2))
    side = int(round(side))
    h, w = photo.shape[:2]
    crop = np.full((side, side, 3), MISSING_GREY, np.uint8)
    sx0, sy0, sx1, sy1 = max(left, 0), max(top, 0), min(left + side, w), min(top + side, h)
    if sx1 > sx0 and sy1 > sy0:
        crop[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = photo[sy0:sy1, sx0:sx1]
    return crop


def _read(path):
    """A BGR uint8 picture (EXIF orientation applied, as the preparation read it), or None when unreadable."""
    from .dataset_preparation import read_photo
    try:
        img = read_photo(path)
    except (OSError, ValueError, cv2.error):
        return None
    return img


def sheet_layout(groups, thumb, columns, header_lines=1):
    """(height, width, tiles, titles) of a sheet of ``groups`` (sheet_groups): tiles = [(record, x, y)] of each
    tile's top-left corner, titles = [(text, y)] of each group's title line; every group starts a new row."""
    columns = max(1, int(columns))
    width = GAP + columns * (thumb + GAP)
    y = GAP + header_lines * LINE
    tiles, titles = [], []
    for title, records, total in groups:
        titles.append((f'{title}: {total}' if len(records) == total else f'{title}: {len(records)} of {total}', y))
        y += LINE
        for i, record in enumerate(records):
            row, col = divmod(i, columns)
            tiles.append((record, GAP + col * (thumb + GAP), y + row * (thumb + GAP)))
        y += math.ceil(len(records) / columns) * (thumb + GAP)
    return y + GAP, width, tiles, titles


def _header(groups, width):
    """The header's lines: the count of every group, then how many faces are shown, wrapped to ``width``."""
    total = sum(count for _, _, count in groups)
    shown = sum(len(records) for _, records, _ in groups)
    text = ', '.join(f'{title} {count}' for title, _, count in groups)
    text += f' - {shown} of {total} faces shown' if shown < total else f' - all {total} shown'
    return _wrap(text, width - 2 * GAP, 0.5, 8)


def sheet_plan(manifest, thumb=128, max_faces=None, columns=10):
    """Everything of a sheet but its pixels: dict(groups (sheet_groups), header (its text lines), height, width,
    tiles [(record, x, y)], titles [(text, y)]) for ``columns`` tiles of ``thumb`` pixels a row."""
    groups = sheet_groups(manifest, max_faces)
    header = _header(groups, GAP + max(1, int(columns)) * (thumb + GAP))
    height, width, tiles, titles = sheet_layout(groups, thumb, columns, len(header))
    return dict(groups=groups, header=header, height=height, width=width, tiles=tiles, titles=titles)


def contact_sheet(manifest, input_folder, output_folder, thumb=128, max_faces=None, columns=10):
    """The contact sheet of ``manifest`` as a (H, W, 3) BGR uint8 array laid out by sheet_plan: the sources under
    ``input_folder``, the aligned faces under ``output_folder``/images; ``columns`` tiles of ``thumb`` pixels a row."""
    from .dataset_preparation import IMAGES
    if thumb < 32:
        raise ValueError(f'thumb must be at least 32 pixels for the labels to be readable, got {thumb}.')
    plan = sheet_plan(manifest, thumb, max_faces, columns)
    sheet = np.full((plan['height'], plan['width'], 3), BACKGROUND, np.uint8)
    for i, line in enumerate(plan['header']):
        cv2.putText(sheet, line, (GAP, GAP + LINE * (i + 1) - 6), FONT, 0.5, (255, 255, 255), 1, cv2.LINE_AA)
    for text, y in plan['titles']:
        cv2.putText(sheet, text, (GAP, y + LINE - 6), FONT, 0.5, (200, 200, 200), 1, cv2.LINE_AA)
    by_source = {}
    for record, x, y in plan['tiles']:
        if record.get('kept'):
            picture = _read(os.path.join(output_folder, IMAGES, record.get('name', '')))
            sheet[y:y + thumb, x:x + thumb] = face_tile(picture, thumb, True, _label(record), record.get('source', ''))
        else:
            by_source.setdefault(record.get('source', ''), []).append((record, x, y))
    for source, placed in by_source.items():  # each source photo read once, then dropped
        photo = _read(os.path.join(input_folder, *source.split('/'))) if source else None
        for record, x, y in placed:
            box = record.get('box')
            picture = None if photo is None else _box_crop(photo, box) if box is not None else photo
            sheet[y:y + thumb, x:x + thumb] = face_tile(picture, thumb, False, _label(record), source)
    return sheet


def write_contact_sheet(manifest, input_folder, output_folder, path, thumb=128, max_faces=None, columns=10):
    """Write the contact sheet of ``manifest`` to ``path`` (.jpg / .jpeg / .png; atomically) and return ``path``.
    Refused (ValueError, before any work): another extension, a path inside ``input_folder`` (sources are never
    overwritten) or inside the dataset's images folder (it would be read as a training face)."""
    from gfpgan.utils.img_util import imwrite

    from .dataset_preparation import IMAGES
    path = os.fspath(path)
    ext = os.path.splitext(path)[1].lower()
    if ext not in ('.jpg', '.jpeg', '.png'):
        raise ValueError(f"The contact sheet '{path}' must be a .jpg, .jpeg or .png file, not '{ext or 'no'}' "
                         'extension; choose such a name.')
    target = os.path.realpath(path)
    for folder, why in ((input_folder, 'the photos folder (sources are never overwritten)'),
                        (os.path.join(output_folder, IMAGES), 'the training images folder (it would be read as a '
                         'face)')):
        if target.startswith(os.path.realpath(folder) + os.sep):
            raise ValueError(f"The contact sheet '{path}' lies inside {why} '{folder}'; write it somewhere else, "
                             'e.g. next to manifest.json.')
    sheet = contact_sheet(manifest, input_folder, output_folder, thumb, max_faces, columns)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext != '.png' else []
    imwrite(sheet, path, params)
    return path
