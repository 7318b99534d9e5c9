"""Evaluate a folder of restored faces: compute the chosen registered metrics per image (and the set-level ones, FID,
over the set), summarise them and write the tables and the picture report. The command line around it (options,
preflight messages naming them, printing) is ``gfpgan.metrics.cli``; scripts/evaluate.py and scripts/test_gfpgan.py
are its entry points.

Images are compared as (H, W, 3) BGR uint8 arrays, the form every per-image metric here takes.
"""
import math
import os

import numpy as np

from .base import metric_class, metric_classes
from .folders import FolderPairs, pair_folders, read_bgr_uint8
from .report import pick_examples, report_grid, report_html

__all__ = [
    'FolderPairs', 'pair_folders', 'read_bgr_uint8', 'default_metrics', 'required_files', 'build_metrics',
    'evaluate_pairs', 'set_metric_values', 'summarize', 'markdown_table', 'write_reports'
]


def default_metrics(has_reference, has_fid_reference):
    """What the evaluation computes when no metrics are named: the paper's table (LMD needs a landmark detector's
    weights and is asked for explicitly)."""
    names = ['psnr', 'ssim', 'lpips', 'deg', 'niqe'] if has_reference else ['niqe']
    return names + (['fid'] if has_fid_reference else [])


def required_files(names, options):
    """What the metrics ``names`` built with ``options`` ({name: constructor options}) load, as each metric class
    declares it: ({name: [(pretrained file name or path, what it is)]}, [(optional package module, feature)]). A
    preflight looks them all up before any image is read."""
    files, packages = {}, []
    for name in names:
        cls = metric_class(name)
        files[name] = cls.required_weights(**options.get(name, {}))
        packages += [cls.required_package] if cls.required_package else []
    return files, packages


def build_metrics(names, options):
    """{name: Metric} of the per-image metrics among ``names``, built (and their weights resolved) here, once, each
    with its ``options[name]``; ``metric(restored, reference)`` (reference None for no-reference metrics)."""
    classes = metric_classes()
    unknown = [n for n in names if n not in classes]
    if unknown:
        raise ValueError(f"Unknown metric {', '.join(unknown)}; choose from {', '.join(classes)}.")
    return {name: classes[name](**options.get(name, {})) for name in names if classes[name].per_image}


def evaluate_pairs(pairs, metrics, progress=True):
    """{name: {metric: value}} over ``pairs.names``; restored and reference must have the same size."""
    from tqdm import tqdm
    rows = {}
    for name in tqdm(pairs.names, desc='evaluating', unit='img', disable=not progress):
        img = read_bgr_uint8(pairs.restored[name])
        ref = read_bgr_uint8(pairs.reference[name]) if pairs.reference else None
        if ref is not None and ref.shape != img.shape:
            raise ValueError(f"'{pairs.restored[name]}' is {img.shape[1]}x{img.shape[0]} but its reference "
                             f"'{pairs.reference[name]}' is {ref.shape[1]}x{ref.shape[0]}; restored faces and "
                             'references must have the same size.')
        rows[name] = {metric: float(fn(img, ref)) for metric, fn in metrics.items()}
    return rows


def set_metric_values(names, options, paths, progress=True):
    """{name: value} of the set-level metrics among ``names`` (FID) over the images ``paths``."""
    sets = [name for name in names if not metric_class(name).per_image]
    return {name: metric_class(name)(**options.get(name, {})).of_set(list(paths), progress) for name in sets}


def summarize(rows, set_metrics=None):
    """{metric: {'mean', 'std', 'count'}} of the per-image ``rows``, plus set-level values ({'fid': x})."""
    summary = {}
    for metric in (next(iter(rows.values())) if rows else {}):
        values = np.array([row[metric] for row in rows.values()], dtype=np.float64)
        finite = values[np.isfinite(values)]
        summary[metric] = {
            'mean': float(finite.mean()) if finite.size else math.inf,
            'std': float(finite.std()) if finite.size else 0.,
            'count': int(values.size),
            'infinite': int(values.size - finite.size),
        }
    for metric, value in (set_metrics or {}).items():
        summary[metric] = {'mean': float(value), 'std': 0., 'count': len(rows), 'infinite': 0}
    return summary


def markdown_table(summary):
    """The summary as a Markdown table: metric, mean ± std, images, which direction is better."""
    lines = ['| metric | mean | std | images | better |', '|---|---:|---:|---:|---|']
    for metric, s in summary.items():
        info = metric_class(metric)
        note = f" ({s['infinite']} identical, left out)" if s.get('infinite') else ''
        lines.append(f"| {info.label} | {s['mean']:.4f} | {s['std']:.4f} | {s['count']}{note} | "
                     f"{'higher' if info.higher_is_better else 'lower'} |")
    return '\n'.join(lines)


def write_reports(out_dir, pairs, rows, summary, table, folders, options, columns, sort_by=None, report_count=3):
    """per_image.csv, report.png / report.html (with the per-image metrics ``columns``, ranked by ``sort_by``,
    ``report_count`` images per group) and summary.json (with ``folders`` and the run's ``options``), each
    atomically. Returns the summary.json dict."""
    import csv
    import io
    import json

    from gfpgan.utils.fileio import atomic_write
    from gfpgan.utils.img_util import imwrite
    os.makedirs(out_dir, exist_ok=True)
    columns = list(columns)
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(['name', *columns, 'restored', 'reference'])
    for name in pairs.names:
        writer.writerow(
            [name, *(repr(rows[name][c]) for c in columns), pairs.restored[name],
             pairs.reference.get(name, '')])
    with atomic_write(os.path.join(out_dir, 'per_image.csv')) as f:
        f.write(text.getvalue().encode('utf-8'))
    report = {
        'metrics': summary,
        'images': len(pairs.names),
        'unmatched': pairs.unmatched,
        'folders': dict(folders),
        'options': dict(options)
    }
    if columns:
        sort_by = sort_by or ('lpips' if 'lpips' in columns else columns[0])
        picks = pick_examples(rows, sort_by, report_count)
        imwrite(report_grid(pairs, rows, picks, sort_by), os.path.join(out_dir, 'report.png'))
        page = report_html(os.path.join(out_dir, 'report.html'), table, rows, picks, pairs, sort_by, 'report.png')
        with atomic_write(os.path.join(out_dir, 'report.html')) as f:
            f.write(page.encode('utf-8'))
        report['report'] = {'sorted_by': sort_by, **picks}
    with atomic_write(os.path.join(out_dir, 'summary.json')) as f:
        f.write(json.dumps(report, indent=2).encode('utf-8'))
    return report
