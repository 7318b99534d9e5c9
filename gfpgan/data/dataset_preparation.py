"""Build a training folder from ordinary photos (issue 16 item 1): detect faces with dlib's 68 points, FFHQ-align
them, drop too small / blurry / dark / bright faces, and write images, meta_info.txt, the eye/mouth box file and a
manifest recording every face's fate, so that FFHQDegradationDataset trains on the result and a rerun resumes."""
import json
import os

import cv2
import numpy as np

from gfpgan.faces.components import BOX_FRAME, boxes_from_landmarks68
from gfpgan.faces.ffhq_alignment import align_ffhq, ffhq_quad, transform_points
from gfpgan.utils.fileio import atomic_write

from .components import dataset_key, load_component_boxes, save_component_boxes

__all__ = ['DEFAULTS', 'REASONS', 'laplacian_variance', 'mean_luminance', 'read_photo', 'face_verdict',
           'prepare_dataset', 'output_problem', 'IMAGES', 'META_INFO', 'COMPONENTS_FILE', 'MANIFEST']

IMAGES, META_INFO, COMPONENTS_FILE, MANIFEST = 'images', 'meta_info.txt', 'components.pth', 'manifest.json'
# blur_threshold: variance of the Laplacian of the aligned face at 256 px (see laplacian_variance). Measured on
# scikit-image's astronaut aligned at 512 (1024): 114 (108) sharp, 15.3 (14.8) after a Gaussian blur of sigma 1
# of the source, 7.5 after 1.5, 4.9 after 2, 3.2 after 3; 30 keeps the sharp face with a margin of ~4x.
DEFAULTS = dict(size=512, largest=False, min_face=64, min_quad_ratio=0.5, blur_threshold=30.0,
                luminance=(40.0, 215.0))
REASONS = ('no face', 'unreadable', 'smaller than --min-face', 'too small', 'too blurry', 'too dark', 'too bright',
           'not the largest')


def laplacian_variance(face):
    """Sharpness of a BGR face: variance of the Laplacian of its gray copy shrunk to 256 px (INTER_AREA), so that
    one threshold serves every --size and upsampled sources are not credited with the aligner's interpolation."""
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    if gray.shape[0] != 256:
        gray = cv2.resize(gray, (256, 256), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def mean_luminance(face):
    """Mean Rec. 601 luminance (0-255) of a BGR face."""
    return float(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).mean())


def read_photo(path):
    """A photo as (H, W, 3) BGR uint8 with its EXIF orientation applied (cv2.imread's IMREAD_COLOR), or None."""
    data = np.fromfile(path, dtype=np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    return img


def face_verdict(face, img, opt):
    """(reason or None, aligned face or None, matrix or None, measures) for one detected face under the options."""
    box = np.asarray(face['box'], dtype=np.float64)
    side = float(min(box[2] - box[0], box[3] - box[1]))
    _, qsize = ffhq_quad(face['landmarks68'])
    measures = {'box_side': side, 'quad_size': qsize}
    if side < opt['min_face']:
        return 'smaller than --min-face', None, None, measures
    if qsize < opt['size'] * opt['min_quad_ratio']:
        return 'too small', None, None, measures
    aligned, matrix = align_ffhq(img, face['landmarks68'], opt['size'])
    measures['sharpness'], measures['luminance'] = laplacian_variance(aligned), mean_luminance(aligned)
    low, high = opt['luminance']
    # exposure first: a dark face has little contrast, so its Laplacian is weak too
    reason = ('too dark' if measures['luminance'] < low else 'too bright' if measures['luminance'] > high else
              'too blurry' if measures['sharpness'] < opt['blur_threshold'] else None)
    return reason, aligned, matrix, measures


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


def _load_state(output):
    """(manifest dict, component boxes) of an earlier run in ``output``, or fresh ones."""
    manifest = {'faces': [], 'sources': []}
    path = os.path.join(output, MANIFEST)
    if os.path.isfile(path):
        with open(path, encoding='utf-8') as f:
            manifest = json.load(f)
    boxes_path = os.path.join(output, COMPONENTS_FILE)
    boxes = load_component_boxes(boxes_path) if os.path.isfile(boxes_path) else {}
    return manifest, boxes


def _save_state(output, manifest, boxes, opt):
    """Write the manifest, meta_info.txt and the box file atomically (after every source: a kill loses one)."""
    manifest['options'] = {k: list(v) if isinstance(v, tuple) else v for k, v in opt.items()}
    names = [face['name'] for face in manifest['faces'] if face.get('kept')]
    with atomic_write(os.path.join(output, META_INFO)) as f:
        f.write(''.join(f'{name}\n' for name in names).encode())
    if boxes:
        save_component_boxes(boxes, os.path.join(output, COMPONENTS_FILE))
    with atomic_write(os.path.join(output, MANIFEST)) as f:
        f.write(json.dumps(manifest, indent=1).encode())


def _write_png(path, img):
    """Encode ``img`` as PNG and write it atomically."""
    ok, data = cv2.imencode('.png', img)
    if not ok:
        raise OSError(f"Cannot encode the face written to '{path}'.")
    with atomic_write(path) as f:
        f.write(data.tobytes())


def _process_source(path, rel, detector, opt, manifest, boxes, output):
    """Detect, judge and write the faces of one source, appending their records to ``manifest``."""
    img = read_photo(path)
    if img is None:
        manifest['faces'].append({'source': rel, 'face': None, 'kept': False, 'reason': 'unreadable'})
        return
    faces = detector.detect(img)
    if not faces:
        manifest['faces'].append({'source': rel, 'face': None, 'kept': False, 'reason': 'no face'})
        return
    if opt['largest']:
        areas = [(f['box'][2] - f['box'][0]) * (f['box'][3] - f['box'][1]) for f in faces]
        largest = int(np.argmax(areas))
    for i, face in enumerate(faces):
        record = {'source': rel, 'face': i, 'score': float(face['score']),
                  'box': [float(v) for v in face['box']],
                  'landmarks68': np.asarray(face['landmarks68'], dtype=np.float64).round(2).tolist()}
        if opt['largest'] and i != largest:
            reason, aligned, matrix, measures = 'not the largest', None, None, {}
        else:
            reason, aligned, matrix, measures = face_verdict(face, img, opt)
        record.update(measures)
        if matrix is not None:
            record['matrix'] = np.asarray(matrix).tolist()
        if reason is None:
            index = sum(1 for f in manifest['faces'] if f.get('kept'))
            key = dataset_key(index)
            name = f'{key}.png'
            _write_png(os.path.join(output, IMAGES, name), aligned)
            points = transform_points(matrix, face['landmarks68']) * (BOX_FRAME / opt['size'])
            boxes[key] = boxes_from_landmarks68(points)
            record.update(kept=True, name=name, key=key)
        else:
            record.update(kept=False, reason=reason)
        manifest['faces'].append(record)


def prepare_dataset(input_folder, output, detector='dlib_hog', progress=True, **options):
    """Turn the photos under ``input_folder`` (recursive) into an aligned training folder ``output`` and return the
    manifest; ``detector``: a registered name ('dlib_hog' | 'dlib_cnn') or an object whose ``detect(img)`` gives
    box, score and landmarks68. Sources already in the manifest are skipped. Options: see DEFAULTS."""
    from tqdm import tqdm

    from .storage import scan_images
    opt = {**DEFAULTS, **options}
    if isinstance(detector, str):
        from gfpgan.faces.detectors import build_detector
        opt['detector'], detector = detector, build_detector(detector)
    problem = output_problem(input_folder, output)
    if problem:
        raise ValueError(problem[:1].upper() + problem[1:])
    os.makedirs(os.path.join(output, IMAGES), exist_ok=True)
    manifest, boxes = _load_state(output)
    earlier = manifest.get('options', {}).get('size', opt['size'])
    if earlier != opt['size']:
        raise ValueError(f"The output folder '{output}' holds {earlier}-pixel faces; rerun with --size {earlier} or "
                         'choose another output folder.')
    done = set(manifest['sources'])
    paths = scan_images(input_folder, recursive=True)
    todo = [(p, os.path.relpath(p, input_folder).replace(os.sep, '/')) for p in paths]
    todo = [(p, rel) for p, rel in todo if rel not in done]
    manifest['skipped_as_done'] = len(paths) - len(todo)
    for path, rel in tqdm(todo, desc='sources', unit='img', disable=not progress):
        _process_source(path, rel, detector, opt, manifest, boxes, output)
        manifest['sources'].append(rel)
        _save_state(output, manifest, boxes, opt)
    if not todo:
        _save_state(output, manifest, boxes, opt)
    return manifest


def summary_counts(manifest):
    """{'kept': n, reason: n, ...} over every face (and face-less source) of ``manifest``."""
    counts = {'kept': sum(1 for f in manifest['faces'] if f.get('kept'))}
    for face in manifest['faces']:
        if not face.get('kept'):
            counts[face['reason']] = counts.get(face['reason'], 0) + 1
    return counts
