"""The demo's face set: faces found in the catalogue's photos, aligned and cropped like FFHQ, written as train/ and
held-out test/ folders with their eye/mouth boxes and a record of where every face came from."""
import hashlib
import json
import math
import os
import shutil
import tempfile
import time

import cv2
import numpy as np

from gfpgan.data.components import dataset_key, save_component_boxes
from gfpgan.demo.packages import DemoFacesError, collect_photos, load_haar_cascades
from gfpgan.demo.photos import CASCADE_SOURCE, INSTALLED_PHOTOS, PACKAGE_SOURCES
from gfpgan.faces.alignment import align_face, similarity_transform
from gfpgan.faces.components import BOX_FRAME, boxes_from_landmarks5
from gfpgan.faces.haar import HaarDetectorError, find_faces
from gfpgan.faces.templates import FFHQ_TEMPLATE_5
from gfpgan.utils.fileio import atomic_write
from gfpgan.utils.img_util import imwrite

__all__ = ['OUTPUTS', 'build_demo_faces']


def _name(package, member, index):
    stem = os.path.splitext(os.path.basename(member))[0]
    return ''.join(c if c.isalnum() or c in '-_' else '-' for c in f'{package}_{stem}_{index}') + '.png'


OUTPUTS = ('train', 'test', 'components.pth', 'sources.json')


def build_demo_faces(out_dir,
                     size=128,
                     cache_dir=None,
                     download=True,
                     force=False,
                     sources=None,
                     cascade_source=CASCADE_SOURCE,
                     max_upscale=1.5,
                     log=print):
    """Write ``out_dir/train/*.png``, ``out_dir/test/*.png`` (FFHQ-aligned ``size`` faces; test photos are people
    absent from train), ``components.pth`` (eye/mouth boxes of train, by sorted file index) and ``sources.json``.

    Photos come from installed packages and the pinned ``sources`` (default INSTALLED_PHOTOS + PACKAGE_SOURCES),
    fetched into ``cache_dir`` when ``download``. Faces that would be enlarged more than ``max_upscale`` times are
    left out. Returns a summary dict (counts, seconds, skipped sources).
    """
    start = time.time()
    if isinstance(size, bool) or not isinstance(size, int) or size < 16:
        raise DemoFacesError(f'The face size must be an integer of at least 16, got {size!r}.')
    sources = INSTALLED_PHOTOS + PACKAGE_SOURCES if sources is None else tuple(sources)
    out_dir = os.fspath(out_dir)
    existing = [name for name in OUTPUTS if os.path.exists(os.path.join(out_dir, name))]
    if existing and not force:
        raise DemoFacesError(f"'{out_dir}' already holds {', '.join(existing)}; pass --force to replace them.")
    skipped = []
    try:
        cascades = load_haar_cascades(cache_dir, download, cascade_source)
    except DemoFacesError as err:
        log(f'warning: {err} Falling back to the LBP face cascade.')
        cascades, skipped = None, [f'Haar cascades: {err}']
    log(f"Face detector: {'Haar cascades from ' + cascades['origin'] if cascades else 'scikit-image LBP cascade'}.")
    photos, missing = collect_photos(sources, cache_dir, download, log)
    skipped += missing
    held_groups = {photo.group for _, photo, _, _ in photos if photo.held_out and photo.group}
    faces, per_photo, small = [], [], 0
    for source, photo, data, record in photos:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if img is None:
            raise DemoFacesError(f"Cannot decode '{photo.member}' of {source.package}.")
        try:
            found = find_faces(img, cascades)
        except HaarDetectorError as err:  # no detector at all: one error type from the builder
            raise DemoFacesError(str(err)) from None
        split = 'test' if photo.held_out or (photo.group and photo.group in held_groups) else 'train'
        used = 0
        for face in found:
            matrix512 = similarity_transform(face.landmarks, FFHQ_TEMPLATE_5)
            if math.sqrt(abs(np.linalg.det(matrix512[:, :2]))) * size / BOX_FRAME > max_upscale:
                small += 1
                continue
            crop, _ = align_face(img, face.landmarks, size)
            name = _name(source.package, photo.member, used)
            used += 1
            faces.append((split, name, crop, face.landmarks @ matrix512[:, :2].T + matrix512[:, 2], {
                **record, 'file_in_package': photo.member,
                'sha256': hashlib.sha256(data).hexdigest(),
                'licence': source.licence,
                'photo_note': photo.note,
                'face_box': [round(float(v), 1) for v in face.box],
                'landmarks5': np.round(face.landmarks, 1).tolist(),
                'detector': face.detector,
                'detector_score': face.score
            }))
        per_photo.append(f'{source.package}:{os.path.basename(photo.member)}={used}')
        log(f'  {source.package} {os.path.basename(photo.member)}: {used} face(s) ({split})')
    train = sorted((f for f in faces if f[0] == 'train'), key=lambda f: f[1])
    test = sorted((f for f in faces if f[0] == 'test'), key=lambda f: f[1])
    if not train:
        raise DemoFacesError('No training face was found in the available photos; allow downloads (drop '
                             '--no-download) to fetch the photo packages.')
    _write_set(out_dir, size, train, test, cascades, skipped)
    summary = {
        'train': len(train),
        'test': len(test),
        'photos': len(photos),
        'too_small': small,
        'skipped': skipped,
        'per_photo': per_photo,
        'seconds': round(time.time() - start, 1)
    }
    log(f"Done: {len(train)} train and {len(test)} test faces of {size}x{size} from {len(photos)} photos in "
        f"{summary['seconds']} s, written to {out_dir}.")
    return summary


def _write_set(out_dir, size, train, test, cascades, skipped):
    """Write the folders, the boxes and sources.json through a temporary folder, replacing earlier ones."""
    os.makedirs(out_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix='.demo-faces-', dir=out_dir)
    try:
        boxes, records = {}, []
        for index, (split, name, crop, points512, record) in enumerate(train + test):
            imwrite(crop, os.path.join(staging, split, name))
            if split == 'train':
                boxes[dataset_key(index)] = boxes_from_landmarks5(points512)
            records.append({'file': f'{split}/{name}', 'split': split, **record})
        save_component_boxes(boxes, os.path.join(staging, 'components.pth'))
        document = {
            'size': size,
            'alignment': 'FFHQ 5-point template (gfpgan.data.components.FFHQ_TEMPLATE_5), borders reflected',
            'detector': f"Haar cascades from {cascades['origin']}" if cascades else 'scikit-image LBP cascade',
            'components': 'components.pth: boxes of train/, keyed by sorted file index, in 512-pixel coordinates',
            'skipped': skipped,
            'faces': records
        }
        with atomic_write(os.path.join(staging, 'sources.json')) as f:
            f.write(json.dumps(document, indent=1).encode())
        os.makedirs(os.path.join(staging, 'test'), exist_ok=True)
        for name in OUTPUTS:
            target = os.path.join(out_dir, name)
            if os.path.isdir(target):
                shutil.rmtree(target)
            os.replace(os.path.join(staging, name), target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
