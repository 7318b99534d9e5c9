"""Build a training folder from ordinary photos (issue 16 item 1): detect faces (dlib's 68 points, or 5 points from
RetinaFace / YuNet), align them (FFHQ's procedure, or the 5-point template), drop too small / strongly turned / dark /
bright / blurry / grayscale faces and near duplicates, and write images, meta_info.txt, the eye/mouth box file, a
journal and a manifest recording every face's fate, and optionally an LMDB, so that FFHQDegradationDataset trains on
the result and a rerun resumes. Photos are analysed by worker processes; the main process names, deduplicates and
writes in source order, so the output does not depend on the number of workers."""
import functools
import os
import time

import numpy as np

from gfpgan.faces.quality import hamming_distances, laplacian_variance, mean_luminance
from gfpgan.utils.concurrency import ordered_map
from gfpgan.utils.fileio import atomic_write

from .components import dataset_key
from .dataset_preparation_analysis import (PHOTO_EXTENSIONS, analyse_in_worker, analyse_photo, build_face_detector,
                                           init_worker, read_photo)
from .dataset_preparation_journal import (COMPONENTS_FILE, IMAGES, JOURNAL, MANIFEST, META_INFO, PreparationState,
                                          load_manifest, output_lock)

__all__ = ['DEFAULTS', 'REASONS', 'laplacian_variance', 'mean_luminance', 'read_photo', 'prepare_dataset',
           'output_problem', 'summary_counts', 'default_workers', 'IMAGES', 'META_INFO', 'COMPONENTS_FILE',
           'MANIFEST', 'JOURNAL', 'LMDB', 'load_manifest']

LMDB = 'images.lmdb'
# blur_threshold: variance of the Laplacian of the aligned face at 256 px (faces.quality.laplacian_variance), measured
# on the 20 dlib detections of the 12 demo photos aligned at 512: faces a person calls sharp score 35-2900
# (astronaut 114, Obama 155-420, Grace Hopper 1092), the soft ones 18-26 (a 112-px Tom Hanks 22, small group-photo
# faces 18 and 26, a blurred Einstein 3.5). A Gaussian blur of the aligned face of sigma 2 (3) px brings the sharp
# faces to 20-124 (9-44): 30 rejects every face blurred by 3 px but the sharpest, and keeps every sharp original.
# max_yaw (degrees, faces.quality.estimate_yaw): the demo's frontal faces measure 2-14, turned ones 23-50, a
# face looking aside 58. near_duplicate (bits of 64, pHash of the aligned face): a copy of a demo photo rescaled to
# 0.8 and saved as JPEG (quality 70) measures 0-6; different faces 18-50, mean 29 (docs/dataset_preparation.md).
# grayscale_threshold (colourfulness): gray demo photos 0.0, colour ones 33-105.
# min_score: None keeps what the detector reports; dlib HOG scored the demo's two non-faces (a badge, a car seat)
# 0.12 and 0.02, its real faces 0.21-2.77.
# detect_size: long side of the copy faces are detected on (dlib HOG: 0.1 s at 512 px, 0.36 s at 1024, 1.5 s at 2048;
# the astronaut upscaled to 2048 px and detected at 1024 gives landmarks within 1.5 px of those found at 2048).
DEFAULTS = dict(size=512, largest=False, min_face=64, min_quad_ratio=0.5, blur_threshold=30.0,
                luminance=(40.0, 215.0), max_yaw=55.0, near_duplicate=8, reject_grayscale=False,
                grayscale_threshold=8.0, min_score=None, detect_size=1024, workers=None, lmdb=False,
                save_seconds=60.0)
REASONS = ('unreadable', 'no face', 'not the largest', 'low detection score', 'smaller than --min-face', 'too small',
           'strong profile', 'too dark', 'too bright', 'too blurry', 'grayscale', 'near duplicate')
_RECORDED_OPTIONS = ('size', 'largest', 'min_face', 'min_quad_ratio', 'blur_threshold', 'luminance', 'max_yaw',
                     'near_duplicate', 'reject_grayscale', 'grayscale_threshold', 'min_score', 'detect_size',
                     'detector')


def default_workers():
    """min(4, CPUs): the default number of worker processes."""
    return max(1, min(4, os.cpu_count() or 1))


def output_problem(input_folder, output_folder):
    """None when ``output_folder`` may receive the dataset of ``input_folder``, else why not (one sentence)."""
    src, out = os.path.realpath(input_folder), os.path.realpath(output_folder)
    if out == src:
        return f"the output folder '{output_folder}' is the input folder; choose another one (sources are never " \
               'overwritten).'
    if out.startswith(src + os.sep):
        return f"the output folder '{output_folder}' lies inside the input folder '{input_folder}'; choose one " \
               'outside it (its images would be read as sources).'
    if src.startswith(out + os.sep):
        return f"the input folder '{input_folder}' lies inside the output folder '{output_folder}'; choose an " \
               'output folder outside it (sources could be overwritten).'
    return None


def _ordered_results(items, detector, opt, workers):
    """``(item, analyse_photo result)`` for each (path, rel) item, in order: in this process for one worker, else
    from ``workers`` processes (each builds its own detector once), with at most 2 per worker in flight. Where it
    exists they come from a fork server that imported this package once (no thread of this process is forked: a
    fork of a process whose other threads hold locks can hang); elsewhere they are spawned."""
    if workers <= 1:
        detector = build_face_detector(detector)
        for item in items:
            yield item, analyse_photo(item[0], item[1], detector, opt)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    if 'forkserver' in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context('forkserver')
        context.set_forkserver_preload([analyse_in_worker.__module__])
    else:
        context = multiprocessing.get_context('spawn')
    with ProcessPoolExecutor(workers, mp_context=context, initializer=init_worker, initargs=(detector, opt)) as pool:
        results = ordered_map(functools.partial(pool.submit, analyse_in_worker), items, 2 * workers)
        try:
            yield from results
        finally:
            results.close()  # cancels what is still pending before the pool waits for its workers


def _worker_detector(detector, workers, explicit):
    """``(what the workers build their detector from, workers)``: a name, ``(name, kwargs)``, or the object itself
    when it can be pickled; an object that cannot is used in this process alone when the number of workers was not
    given (one ValueError when it was)."""
    if workers <= 1 or isinstance(detector, (str, tuple)):
        return detector, workers
    import pickle
    try:
        pickle.dumps(detector)
    except Exception:
        if not explicit:
            return detector, 1
        raise ValueError(f'The {type(detector).__name__} detector object cannot be sent to worker processes; pass '
                         'its registered name (and kwargs) instead, or use one worker.') from None
    return detector, workers


def _write_png(path, data):
    with atomic_write(path) as f:
        f.write(data)


def _judge_source(state, output, results, threshold):
    """Name the surviving faces of one source in order, rejecting near duplicates of a kept face; write their PNGs.
    Returns (records, kept) for ``PreparationState.add_source``."""
    records, kept = [], []
    for record, candidate in results:
        if candidate is not None:
            png, boxes, phash = candidate
            known = np.concatenate([state.hashes, np.array([h for _, _, h in kept], dtype=np.uint64)])
            distances = hamming_distances(phash, known) if len(known) else np.zeros(0, np.int64)
            nearest = int(np.argmin(distances)) if len(distances) else -1
            if nearest >= 0 and distances[nearest] <= threshold:
                name = f'{dataset_key(nearest)}.png'
                record.update(kept=False, reason=f'near duplicate of {name}', duplicate_of=name,
                              hash_distance=int(distances[nearest]))
            else:
                key = dataset_key(state.kept + len(kept))
                _write_png(os.path.join(output, IMAGES, f'{key}.png'), png)
                record.update(kept=True, name=f'{key}.png', key=key)
                kept.append((key, boxes, phash))
        records.append(record)
    return records, kept


def prepare_dataset(input_folder, output, detector='dlib_hog', progress=True, light=False, **options):
    """Turn the photos under ``input_folder`` (recursive) into an aligned training folder ``output`` and return its
    manifest (dict). ``detector``: a registered name ('dlib_hog' | 'dlib_cnn' give 68 points; 'yunet',
    'retinaface_*' 5), ``(name, kwargs)``, or an object whose ``detect(img)`` gives box, score and landmarks
    (+ landmarks68); each worker process builds its own. Sources already in the journal are skipped. ``light``:
    return the face records without landmarks and matrices (they stay in manifest.json). Options: see DEFAULTS
    (``workers`` None: default_workers())."""
    opt = {**DEFAULTS, **options}
    opt['detector'] = detector if isinstance(detector, str) else detector[0] if isinstance(detector, tuple) else \
        type(detector).__name__
    workers = int(opt['workers'] or default_workers())
    problem = output_problem(input_folder, output)
    if problem:
        raise ValueError(problem[:1].upper() + problem[1:])
    detector, workers = _worker_detector(detector, workers, opt['workers'] is not None)
    os.makedirs(os.path.join(output, IMAGES), exist_ok=True)
    with output_lock(output):
        _prepare_locked(input_folder, output, detector, workers, opt, progress)
    return load_manifest(output, light=light)


def _prepare_locked(input_folder, output, detector, workers, opt, progress):
    """The work of ``prepare_dataset`` once it holds the output folder: resume the journal, analyse the photos not
    done, judge and write their faces, keep the aggregates current, pack the LMDB."""
    from tqdm import tqdm

    from .storage import scan_images
    state = PreparationState(output)
    earlier = (state.options or {}).get('size', opt['size'])
    if earlier != opt['size']:
        raise ValueError(f"The output folder '{output}' holds {earlier}-pixel faces; rerun with --size {earlier} or "
                         'choose another output folder.')
    state.remove_orphan_images()
    done = set(state.sources)
    paths = scan_images(input_folder, recursive=True, extensions=PHOTO_EXTENSIONS)
    todo = [(p, os.path.relpath(p, input_folder).replace(os.sep, '/')) for p in paths]
    todo = [(p, rel) for p, rel in todo if rel not in done]
    extra = {'skipped_as_done': len(paths) - len(todo), 'kept_before': state.kept}
    state.start({k: list(v) if isinstance(v, tuple) else v for k, v in opt.items() if k in _RECORDED_OPTIONS})
    last_save, save_cost = time.monotonic(), 0.0
    bar = tqdm(total=len(todo), desc='photos', unit='photo', disable=not progress)
    try:
        for (_, rel), results in _ordered_results(todo, detector, opt, workers):
            records, kept = _judge_source(state, output, results, opt['near_duplicate'])
            state.add_source(rel, records, kept)
            bar.update(1)
            bar.set_postfix(kept=state.kept, refresh=False)
            # aggregates stream the whole journal: rewrite them at most every save_seconds, and at most ~10% of the time
            if time.monotonic() - last_save > max(opt['save_seconds'], 10 * save_cost):
                started = time.monotonic()
                state.write_aggregates(extra)
                last_save = time.monotonic()
                save_cost = last_save - started
    finally:
        bar.close()
        state.close()
        state.write_aggregates(extra)
    if opt['lmdb'] and state.kept:
        from .lmdb_util import create_lmdb
        create_lmdb(os.path.join(output, IMAGES), os.path.join(output, LMDB), overwrite=True, progress=progress)


def reason_group(reason):
    """The reason without its particulars ('near duplicate of 00000003.png' -> 'near duplicate')."""
    return reason.split(' of ', 1)[0]


def summary_counts(manifest):
    """{'kept': n, reason: n, ...} over every face (and face-less source) of ``manifest``, reasons in REASONS
    order."""
    counts = {'kept': 0, **{reason: 0 for reason in REASONS}}
    for face in manifest['faces']:
        key = 'kept' if face.get('kept') else reason_group(face['reason'])
        counts[key] = counts.get(key, 0) + 1
    return {key: n for key, n in counts.items() if n or key == 'kept'}
