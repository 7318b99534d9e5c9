"""The picture report of an evaluation: input | restored | reference for the best, median and worst images by one
metric, as a PNG grid and an HTML page beside the CSV and JSON tables."""
import html
import os

import cv2
import numpy as np

from gfpgan.utils.img_util import resize_square

from .base import metric_class
from .folders import read_bgr_uint8

__all__ = ['pick_examples', 'report_grid', 'report_html']

_LABEL_HEIGHT = 28


def pick_examples(rows, metric, count=3):
    """{'best': names, 'median': names, 'worst': names} by ``metric`` (``count`` each; fewer images, fewer rows)."""
    if not rows or metric not in next(iter(rows.values())):
        raise ValueError(f"Cannot rank images by '{metric}': it was not computed per image; choose one of "
                         f"{', '.join(next(iter(rows.values()), {})) or 'the computed metrics'}.")
    values = {name: row[metric] for name, row in rows.items()}
    ordered = sorted(values, key=lambda n: (values[n], n))  # identical images (PSNR inf) rank best
    if metric_class(metric).higher_is_better:
        ordered.reverse()
    count = max(1, min(count, len(ordered) // 3 or 1))
    middle = max(0, len(ordered) // 2 - count // 2)
    return {'best': ordered[:count], 'median': ordered[middle:middle + count], 'worst': ordered[-count:]}


def _tile(path, size):
    return resize_square(read_bgr_uint8(path), size)


def report_grid(pairs, rows, picks, metric, tile=256):
    """(H, W, 3) BGR uint8: one row per picked image (input | restored | reference, the columns that exist), each
    under a caption with its group, name and ``metric`` value."""
    columns = [
        c for c, files in (('input', pairs.inputs), ('restored', pairs.restored), ('reference', pairs.reference))
        if files
    ]
    width = tile * len(columns)
    lines = []
    for group, names in picks.items():
        for name in names:
            caption = np.full((_LABEL_HEIGHT, width, 3), 255, np.uint8)
            text = f'{group}: {name}  {metric_class(metric).label} {rows[name][metric]:.4f}'
            cv2.putText(caption, text, (6, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            files = {'input': pairs.inputs, 'restored': pairs.restored, 'reference': pairs.reference}
            lines += [caption, np.concatenate([_tile(files[c][name], tile) for c in columns], axis=1)]
    return np.concatenate(lines, axis=0)


def report_html(path, summary_table, rows, picks, pairs, metric, grid_name=None):
    """The text of an HTML page to be written at ``path`` (image links relative to it): the summary table, the grid,
    and the picked images with all their metric values."""
    folder = os.path.dirname(os.path.abspath(path))

    def link(file):
        rel = os.path.relpath(os.path.abspath(file), folder).replace(os.sep, '/')
        return f'<img src="{html.escape(rel)}" width="256">'

    parts = [
        '<!doctype html><meta charset="utf-8"><title>Evaluation report</title>',
        '<style>body{font-family:sans-serif} td,th{padding:4px 8px} img{image-rendering:pixelated}</style>',
        '<h1>Evaluation report</h1>', f'<pre>{html.escape(summary_table)}</pre>'
    ]
    if grid_name:
        parts.append(f'<p><a href="{html.escape(grid_name)}">grid ({html.escape(grid_name)})</a></p>')
    metrics = list(next(iter(rows.values())))
    for group, names in picks.items():
        parts.append(f'<h2>{group} by {html.escape(metric_class(metric).label)}</h2><table>')
        for name in names:
            images = ''.join(f'<td>{link(files[name])}</td>'
                             for files in (pairs.inputs, pairs.restored, pairs.reference) if files)
            values = '<br>'.join(f'{html.escape(metric_class(m).label)}: {rows[name][m]:.4f}' for m in metrics)
            parts.append(f'<tr><th>{html.escape(name)}</th>{images}<td>{values}</td></tr>')
        parts.append('</table>')
    return '\n'.join(parts) + '\n'
