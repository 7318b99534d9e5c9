"""The stateless restoration core: plain records for detected faces and pure functions to detect, align, restore a
batch and paste back. ``GFPGANer`` and the facexlib-compatible ``FaceRestoreHelper`` are thin adapters over it."""
import dataclasses
import logging

import cv2
import numpy as np
import torch

from gfpgan.faces.alignment import estimate_alignment, inverse_affine, pad_blur, warp_face
from gfpgan.faces.selection import select_index
from gfpgan.utils.img_util import bgr_to_tensor, tensor_to_bgr

from .image_mode import split_image

__all__ = [
    'Face', 'as_bgr_uint8', 'three_point_landmarks', 'detect_faces', 'pad_faces', 'align_faces', 'blend_strength',
    'restore_batch', 'paste_faces'
]

logger = logging.getLogger('gfpgan')


@dataclasses.dataclass
class Face:
    """One face of a photo. ``box``: (4,) x1 y1 x2 y2 and ``score`` of the detection, in photo pixels; ``landmarks``:
    (5, 2), or (3, 2) eyes and mouth centre, in the pixels of ``source`` (the photo itself when None, else a
    blur-padded copy); ``affine``: (2, 3) source -> crop; ``crop``: the aligned BGR uint8 face."""
    box: np.ndarray
    score: float
    landmarks: np.ndarray
    source: np.ndarray = None
    affine: np.ndarray = None
    crop: np.ndarray = None

    @property
    def det_row(self):
        """facexlib's ``det_faces`` entry: (5,) x1 y1 x2 y2 score."""
        return np.append(self.box, self.score)


def as_bgr_uint8(img):
    """An image array as the (H, W, 3) contiguous BGR uint8 that detection and alignment take: gray is replicated,
    alpha dropped, other depths brought to 0..255 (values above 256 are taken as 16-bit)."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        img = np.clip(img / 257.0 if img.max() > 256 else img, 0, 255).round().astype(np.uint8)
    if img.ndim == 3 and img.shape[2] not in (1, 3, 4):
        return np.ascontiguousarray(img)
    return np.ascontiguousarray(split_image(img)[0])


def three_point_landmarks(points):
    """The (3, 2) eyes and mouth centre of (5, 2) landmarks (left eye, right eye, nose, mouth corners), the points
    the 3-point alignment templates (GFPGANv1) take."""
    return np.stack([points[0], points[1], (points[3] + points[4]) / 2])


def detect_faces(img, detector, resize=None, eye_dist_threshold=None, three_points=False, select=None):
    """Faces of the (H, W, 3) BGR uint8 ``img`` as ``Face`` records, in the detector's order: detection on ``img``
    resized so its short side is ``resize`` (if given), coordinates back in ``img`` pixels; faces whose eyes are
    closer than ``eye_dist_threshold`` px dropped; with ``three_points``, landmarks = eyes and mouth centre;
    ``select`` ('largest' | 'center' | None) keeps one face."""
    scale, work = 1.0, img
    if resize is not None:
        h, w = img.shape[0:2]
        scale = min(h, w) / resize
        work = cv2.resize(img, (int(w / scale), int(h / scale)), interpolation=cv2.INTER_LANCZOS4)
    faces = []
    for found in detector.detect(work):
        landmarks = np.asarray(found['landmarks'], dtype=np.float64).reshape(5, 2) * scale
        if eye_dist_threshold is not None and np.linalg.norm(landmarks[0] - landmarks[1]) < eye_dist_threshold:
            continue
        if three_points:
            landmarks = three_point_landmarks(landmarks)
        faces.append(Face(np.asarray(found['box'], dtype=np.float64) * scale, found['score'], landmarks))
    if faces and select is not None:
        faces = [faces[select_index(np.stack([f.det_row for f in faces]), img.shape[0], img.shape[1], select)]]
    return faces


def pad_faces(img, faces, blur_ratio=0.01):
    """``faces`` each with ``source`` = ``img`` blur-padded around it (FFHQ's procedure) and its landmarks moved into
    that padded image (new records)."""
    out = []
    for face in faces:
        padded, landmarks = pad_blur(img, face.landmarks, blur_ratio)
        out.append(dataclasses.replace(face, source=padded, landmarks=landmarks))
    return out


def align_faces(img, faces, template, size, border_mode='constant', fit=estimate_alignment):
    """``faces`` (new records) with ``affine`` fitting their landmarks onto ``template`` and ``crop``, their source
    (``img`` unless padded) warped into a ``size`` = (w, h) crop. ``fit(landmarks, template)`` -> (2, 3) similarity:
    the photo path's robust LMEDS fit, or e.g. ``least_squares_alignment``."""
    out = []
    for face in faces:
        matrix = fit(face.landmarks, template)
        crop = warp_face(img if face.source is None else face.source, matrix, size, border_mode)
        out.append(dataclasses.replace(face, affine=matrix, crop=crop))
    return out


def blend_strength(face, restored, weight):
    """The strength knob: ``weight * restored + (1 - weight) * face`` on the aligned 8-bit faces, rounded.
    0 gives the input face, 1 the full restoration; every pixel moves monotonically in between."""
    if not 0 <= weight <= 1:
        raise ValueError(f'The restoration strength weight must lie in [0, 1], got {weight}.')
    if weight == 1:
        return restored
    mixed = weight * restored.astype(np.float32) + (1 - weight) * face.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


@torch.no_grad()
def restore_batch(net, crops, device, dtype=None, memory_format=torch.contiguous_format, weight=1.0,
                  randomize_noise=True):
    """Aligned (S, S, 3) BGR uint8 ``crops`` -> their restorations by the GFPGAN ``net`` in one forward pass, blended
    with strength ``weight``; ``dtype`` float16 runs in half, bfloat16 under autocast. ``randomize_noise`` False
    uses the decoder's fixed noise buffers instead of fresh noise (the same input then gives the same output, as
    video frames need). A failed pass (e.g. out of memory) returns the crops unchanged, as the original does."""
    noise = {} if randomize_noise else {'randomize_noise': False}
    x = bgr_to_tensor(crops, (-1, 1))
    x = x.to(device, dtype=torch.float16 if dtype is torch.float16 else torch.float32)
    x = x.contiguous(memory_format=memory_format)
    try:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=dtype is torch.bfloat16):
            out = net(x, return_rgb=False, **noise)[0]
        outs = list(tensor_to_bgr(out, (-1, 1)))
    except RuntimeError as err:
        print(f'\tFailed inference for GFPGAN: {err}.')
        outs = list(crops)
    return [blend_strength(face, out, weight) for face, out in zip(crops, outs)]


def _footprint(inverse, face_shape, out_size):
    """((x0, y0), (x1, y1)): the box of the output (``out_size`` = (w, h)) that a face of ``face_shape`` warped by
    ``inverse`` can touch, widened by a quarter of its side plus 8 pixels for the paste blend (its erosion and blur
    reach a tenth of the face's side), clipped to the image."""
    h, w = face_shape[:2]
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ np.asarray(inverse).T
    lo, hi = corners.min(0), corners.max(0)
    margin = int(np.ceil(0.25 * (hi - lo).max())) + 8
    x0, y0 = (max(int(np.floor(v)) - margin, 0) for v in lo)
    x1, y1 = min(int(np.ceil(hi[0])) + margin, out_size[0]), min(int(np.ceil(hi[1])) + margin, out_size[1])
    return (min(x0, x1), min(y0, y1)), (x1, y1)


def inverse_affines(faces, upscale):
    """The crop -> upscaled photo matrices of ``faces`` (records with ``affine``)."""
    return [inverse_affine(face.affine, upscale) for face in faces]


def paste_faces(img, restored, inverses, upscale, upsample_img=None, face_mask=None):
    """``img`` upscaled by ``upscale`` (``upsample_img`` resized to that size if given, else ``img`` by Lanczos) with
    every ``restored`` face warped by its ``inverses`` matrix and blended in through a soft mask: ``face_mask(face)``
    (a parsed face region, crop size, in [0, 1]) or, when None, the eroded and blurred warped crop. (H*up, W*up, C):
    uint8, or uint16 for a 16-bit background; a BGRA background keeps its alpha."""
    h, w = img.shape[0:2]
    h_up, w_up = int(h * upscale), int(w * upscale)
    base = img if upsample_img is None else upsample_img
    out = cv2.resize(base, (w_up, h_up), interpolation=cv2.INTER_LANCZOS4)
    if out.ndim == 2:
        out = out[:, :, None]
    if len(restored) != len(inverses):
        raise ValueError(f'{len(restored)} restored faces for {len(inverses)} '
                         'inverse affine matrices: call get_inverse_affine() and add one face per crop.')
    alpha = None
    if out.shape[2] == 4:
        out, alpha, _ = split_image(out)
    result = out.astype(np.float64)
    for face, inverse in zip(restored, inverses):
        inverse = inverse.copy()
        inverse[:, 2] += 0.5 * upscale if upscale > 1 else 0  # facexlib's offset
        # Work in the part of the output the face can reach (its warped footprint, plus room for the blend's
        # erosion and blur): per-face cost and memory that do not grow with the photo. Same result as warping
        # onto the whole image up to OpenCV's fixed-point warp rounding (1 level on ~1e-5 of the pixels).
        (x0, y0), (x1, y1) = _footprint(inverse, face.shape, (w_up, h_up))
        if x1 <= x0 or y1 <= y0:
            continue  # the face lies wholly outside the photo
        roi = (slice(y0, y1), slice(x0, x1))
        shifted = inverse - [[0, 0, x0], [0, 0, y0]]
        size = (x1 - x0, y1 - y0)
        pasted = cv2.warpAffine(face, shifted, size).astype(np.float64)
        if pasted.ndim == 2:
            pasted = pasted[:, :, None]
        if face_mask is not None:
            # bilinear, as facexlib (its flags=3, INTER_AREA, is bilinear in warpAffine): the original's output
            mask = cv2.warpAffine(face_mask(face), shifted, size, flags=cv2.INTER_LINEAR)
            mask = np.clip(mask, 0, 1)
        else:
            inv_mask = cv2.warpAffine(np.ones(face.shape[0:2], np.float32), shifted, size)
            kernel = max(int(2 * upscale), 1)
            inv_mask = cv2.erode(inv_mask, np.ones((kernel, kernel), np.uint8))  # drop the black warp border
            pasted = pasted * inv_mask[:, :, None]
            edge = int(np.sum(inv_mask)**0.5) // 20  # blend width grows with the face
            center = cv2.erode(inv_mask, np.ones((2 * edge, 2 * edge), np.uint8)) if edge > 0 else inv_mask
            mask = cv2.GaussianBlur(center, (2 * edge + 1, 2 * edge + 1), 0)
        mask = mask[:, :, None]
        result[roi] = mask * pasted + (1 - mask) * result[roi]
    if base.dtype == np.uint16 or result.max() > 256:
        result = np.clip(np.rint(result), 0, 65535).astype(np.uint16)
    else:
        result = np.clip(np.rint(result), 0, 255).astype(np.uint8)
    if alpha is not None:
        result = np.concatenate([result, alpha[:, :, None].astype(result.dtype)], axis=2)
    return result
