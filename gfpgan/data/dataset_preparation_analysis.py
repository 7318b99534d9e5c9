"""The per-photo work of the dataset preparation, run in worker processes: read a photo, detect its faces, align each
(FFHQ's procedure from 68 landmarks, the 5-point template otherwise), measure it and judge it against the options.
Everything that depends on the faces kept before (names, near duplicates) is left to the main process."""
import io
import math

import cv2
import numpy as np

from gfpgan.faces.components import BOX_FRAME, boxes_from_landmarks5, boxes_from_landmarks68
from gfpgan.faces.ffhq_alignment import align_ffhq, ffhq_quad, transform_points
from gfpgan.faces.quality import (colourfulness, estimate_yaw, hash_to_hex, laplacian_variance, mean_luminance,
                                  perceptual_hash)

from .storage import IMAGE_EXTENSIONS

__all__ = ['PHOTO_EXTENSIONS', 'read_photo', 'detect_faces', 'align_detected_face', 'face_verdict', 'analyse_photo',
           'build_face_detector', 'init_worker', 'analyse_in_worker']


#: The photo files looked for in the input folder: what OpenCV reads (the training images' formats, Netpbm,
#: JPEG 2000, GIF) and what only Pillow reads (TGA, ICO, PCX, DIB).
PHOTO_EXTENSIONS = IMAGE_EXTENSIONS + ('.jfif', '.jpe', '.ppm', '.pgm', '.pbm', '.pnm', '.jp2', '.gif', '.tga', '.ico',
                                       '.pcx', '.dib')


def read_photo(path):
    """A photo as (H, W, 3) BGR uint8 with its EXIF orientation applied, or None when neither OpenCV (IMREAD_COLOR)
    nor Pillow (first frame, ``exif_transpose``) can decode it."""
    data = np.fromfile(path, dtype=np.uint8)
    if not data.size:
        return None
    img = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if img is not None:
        return img
    from PIL import Image, ImageOps, UnidentifiedImageError
    try:
        with Image.open(io.BytesIO(data.tobytes())) as photo:
            rgb = np.asarray(ImageOps.exif_transpose(photo).convert('RGB'))
    except (UnidentifiedImageError, OSError, ValueError):
        return None
    return np.ascontiguousarray(rgb[:, :, ::-1])


def detect_faces(detector, img, max_side):
    """``(faces, scale)``: the detector's faces of ``img``, found on a copy shrunk (INTER_AREA) to ``max_side`` pixels
    on its long side when it is larger (0: never), boxes and landmarks mapped back to ``img``'s pixels. Detection
    time grows with the pixels (dlib HOG: 0.1 s at 512x512, 1.5 s at 2048x2048) while the faces worth keeping are
    large; alignment and measures use the full photo."""
    h, w = img.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return detector.detect(img), 1.0
    scale = max_side / max(h, w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    factors = np.array([w / size[0], h / size[1]])
    faces = detector.detect(small)
    for face in faces:
        face['box'] = np.asarray(face['box'], np.float64) * np.tile(factors, 2)  # edges
        for key in ('landmarks', 'landmarks68'):  # pixel centres
            if key in face:
                face[key] = (np.asarray(face[key], np.float64) + 0.5) * factors - 0.5
    return faces, scale


def _crop_side(face):
    """Source pixels spanned by the side of the aligned crop, whatever its size: FFHQ's quad side from 68 points;
    from 5 points, the side of the template crop (the template's 512-pixel frame over the similarity's scale)."""
    if 'landmarks68' in face:
        return ffhq_quad(face['landmarks68'])[1]
    from gfpgan.faces.alignment import similarity_transform
    from gfpgan.faces.templates import FFHQ_TEMPLATE_5
    matrix = similarity_transform(np.asarray(face['landmarks'], np.float64).reshape(5, 2), FFHQ_TEMPLATE_5)
    return 512.0 / math.sqrt(abs(np.linalg.det(matrix[:, :2])))


def align_detected_face(img, face, size):
    """``(aligned, matrix, boxes)`` of one detected face: FFHQ's own alignment when it has ``landmarks68``, else the
    5-point template alignment of the restoration path; ``matrix`` 3x3 source -> aligned pixels; ``boxes`` the
    eye/mouth boxes from the landmarks moved into the aligned frame, in BOX_FRAME pixels."""
    if 'landmarks68' in face:
        aligned, matrix = align_ffhq(img, face['landmarks68'], size)
        points = transform_points(matrix, face['landmarks68']) * (BOX_FRAME / size)
        return aligned, matrix, boxes_from_landmarks68(points)
    from gfpgan.faces.alignment import align_face
    aligned, affine = align_face(img, face['landmarks'], size)
    matrix = np.vstack([affine, [0.0, 0.0, 1.0]])
    points = transform_points(matrix, face['landmarks']) * (BOX_FRAME / size)
    return aligned, matrix, boxes_from_landmarks5(points)


def face_verdict(face, img, opt):
    """``(reason or None, aligned or None, matrix or None, boxes or None, measures)`` for one detected face under the
    options (see dataset_preparation.DEFAULTS); the reasons are checked in the order of ``REASONS``."""
    box = np.asarray(face['box'], dtype=np.float64)
    side = float(min(box[2] - box[0], box[3] - box[1]))
    measures = {'box_side': side, 'quad_size': float(_crop_side(face)),
                'yaw': float(estimate_yaw(face.get('landmarks68', face['landmarks'])))}
    if opt['min_score'] is not None and face['score'] < opt['min_score']:
        return 'low detection score', None, None, None, measures
    if side < opt['min_face']:
        return 'smaller than --min-face', None, None, None, measures
    if measures['quad_size'] < opt['size'] * opt['min_quad_ratio']:
        return 'too small', None, None, None, measures
    aligned, matrix, boxes = align_detected_face(img, face, opt['size'])
    measures.update(sharpness=laplacian_variance(aligned), luminance=mean_luminance(aligned),
                    colourfulness=colourfulness(aligned), phash=hash_to_hex(perceptual_hash(aligned)))
    low, high = opt['luminance']
    # profile first (geometry); then exposure: a dark face has little contrast, so its Laplacian is weak too
    checks = (('strong profile', abs(measures['yaw']) > opt['max_yaw']),
              ('too dark', measures['luminance'] < low), ('too bright', measures['luminance'] > high),
              ('too blurry', measures['sharpness'] < opt['blur_threshold']),
              ('grayscale', opt['reject_grayscale'] and measures['colourfulness'] < opt['grayscale_threshold']))
    reason = next((name for name, failed in checks if failed), None)
    return reason, aligned, matrix, boxes, measures


def _rounded(values, digits):
    return np.asarray(values, dtype=np.float64).round(digits).tolist()


def analyse_photo(path, rel, detector, opt):
    """``[(record, candidate)]`` for every face of the photo ``path`` (``rel``: its name in the manifest), in the
    detector's order; ``record`` is the face's manifest entry so far (kept is decided later), ``candidate`` None for
    a rejected face, else ``(png bytes, boxes, phash int)`` of a face that passed every per-face filter. A photo
    that cannot be read, or has no face, gives one record with ``face`` None."""
    img = read_photo(path)
    if img is None or not img.size:
        return [({'source': rel, 'face': None, 'kept': False, 'reason': 'unreadable'}, None)]
    faces, scale = detect_faces(detector, img, opt['detect_size'])
    if not faces:
        return [({'source': rel, 'face': None, 'kept': False, 'reason': 'no face'}, None)]
    largest = int(np.argmax([(f['box'][2] - f['box'][0]) * (f['box'][3] - f['box'][1]) for f in faces]))
    out = []
    for i, face in enumerate(faces):
        record = {'source': rel, 'face': i, 'score': float(face['score']), 'box': _rounded(face['box'], 2)}
        if scale != 1.0:
            record['detect_scale'] = round(scale, 6)
        if 'landmarks68' in face:
            record['landmarks68'] = _rounded(face['landmarks68'], 2)
        else:
            record['landmarks5'] = _rounded(face['landmarks'], 2)
        if opt['largest'] and i != largest:
            record.update(kept=False, reason='not the largest')
            out.append((record, None))
            continue
        reason, aligned, matrix, boxes, measures = face_verdict(face, img, opt)
        record.update(measures)
        if matrix is not None:
            record['matrix'] = np.asarray(matrix).tolist()
        candidate = None
        if reason is None:
            ok, png = cv2.imencode('.png', aligned)
            if not ok:
                raise OSError(f"Cannot encode the aligned face {i} of '{path}' as PNG.")
            candidate = (png.tobytes(), boxes, int(measures['phash'], 16))
        else:
            record.update(kept=False, reason=reason)
        out.append((record, candidate))
    return out


def build_face_detector(detector):
    """A detector object from ``detector``: ``(registered name, kwargs)``, a name, or an object with ``detect``."""
    if isinstance(detector, str):
        detector = (detector, {})
    if isinstance(detector, tuple):
        from gfpgan.faces.detectors import build_detector
        return build_detector(detector[0], **detector[1])
    return detector


_WORKER = {}


def init_worker(detector, opt):
    """Worker process start: Ctrl-C left to the main process (which stops the pool and saves what is done, with no
    traceback from each worker), one thread for OpenCV / torch (the processes are the parallelism), the detector
    built once."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    cv2.setNumThreads(1)
    import torch
    torch.set_num_threads(1)
    _WORKER.update(detector=build_face_detector(detector), opt=opt)


def analyse_in_worker(item):
    """``analyse_photo`` for ``item`` = (path, rel) with the worker's detector and options."""
    return analyse_photo(item[0], item[1], _WORKER['detector'], _WORKER['opt'])
