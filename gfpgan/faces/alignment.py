"""Face alignment: similarity transforms onto a template (robust for restoration, least squares for geometry), the
warp of a photo onto the template, its inverse for pasting back, and FFHQ's blurred padding for faces at the border.
"""
import math

import cv2
import numpy as np

from .templates import FFHQ_TEMPLATE_5

__all__ = [
    'BORDER_MODES', 'CROP_BORDER_VALUE', 'similarity_transform', 'estimate_alignment', 'least_squares_alignment',
    'warp_face', 'inverse_affine', 'align_face', 'pad_blur'
]

CROP_BORDER_VALUE = (135, 133, 132)  # gray outside the source image, in BGR
BORDER_MODES = {'constant': cv2.BORDER_CONSTANT, 'reflect101': cv2.BORDER_REFLECT101, 'reflect': cv2.BORDER_REFLECT}


def similarity_transform(src, dst):
    """Least-squares similarity (scale, rotation, translation; Umeyama 1991) mapping (N, 2) ``src`` onto ``dst``,
    as a (2, 3) matrix."""
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    u, sigma, vt = np.linalg.svd(dst_c.T @ src_c / len(src))
    sign = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection: flip the weakest axis instead
        sign[1] = -1
    rotation = u @ np.diag(sign) @ vt
    scale = (sigma * sign).sum() / src_c.var(0).sum()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = dst_mean - matrix[:, :2] @ src_mean
    return matrix


def estimate_alignment(landmarks, template):
    """(2, 3) similarity taking photo ``landmarks`` (N, 2) onto ``template`` (N, 2), as facexlib fits it (LMEDS: the
    robust fit that matches skimage's SimilarityTransform on these points)."""
    return cv2.estimateAffinePartial2D(landmarks, template, method=cv2.LMEDS)[0]


def least_squares_alignment(landmarks, template):
    """(2, 3) least-squares similarity taking ``landmarks`` onto ``template``: it moves as little as the landmarks
    do, where LMEDS (``estimate_alignment``) may switch the points it trusts between two nearly equal inputs."""
    return similarity_transform(np.asarray(landmarks, np.float64), np.asarray(template, np.float64))


def warp_face(img, matrix, size, border_mode='constant'):
    """``img`` warped by the (2, 3) ``matrix`` into a ``size`` = (w, h) crop, gray outside the photo (or its border
    reflected): BGR uint8 (a float source, e.g. a blur-padded one, is rounded)."""
    if border_mode not in BORDER_MODES:
        raise ValueError(f"border_mode must be one of {', '.join(BORDER_MODES)}, got '{border_mode}'.")
    crop = cv2.warpAffine(img, matrix, size, borderMode=BORDER_MODES[border_mode], borderValue=CROP_BORDER_VALUE)
    return np.clip(crop, 0, 255).round().astype(np.uint8) if crop.dtype != np.uint8 else crop


def inverse_affine(matrix, upscale=1):
    """The crop -> photo matrix of the (2, 3) photo -> crop ``matrix``, for the photo upscaled by ``upscale``."""
    return cv2.invertAffineTransform(matrix) * upscale


def align_face(img, landmarks5, size=512):
    """``(face, matrix)``: ``img`` (H, W, C) warped so that ``landmarks5`` land on the FFHQ template scaled to
    ``size`` (least squares, bicubic, borders reflected; shrinking averages pixels), and the (2, 3) matrix taking
    image pixels to face pixels. The quality alignment for building face sets."""
    points = np.asarray(landmarks5, np.float64).reshape(5, 2)
    matrix = similarity_transform(points, FFHQ_TEMPLATE_5 * (size / 512))
    scale = math.sqrt(abs(np.linalg.det(matrix[:, :2])))
    if scale >= 1:
        face = cv2.warpAffine(img, matrix, (size, size), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REFLECT_101)
    else:  # shrinking: warp at the photo's own resolution, then average pixels down (no aliasing)
        work = min(int(math.ceil(size / scale)), 8 * size)
        work_matrix = similarity_transform(points, FFHQ_TEMPLATE_5 * (work / 512))
        face = cv2.warpAffine(img, work_matrix, (work, work), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        face = cv2.resize(face, (size, size), interpolation=cv2.INTER_AREA)
    return face, matrix


def pad_blur(img, landmarks, blur_ratio=0.01):
    """``(padded, landmarks)``: ``img`` reflect-padded around a face whose FFHQ crop leaves it, the pad faded to a
    blur and the median colour (as FFHQ's alignment does), and the (5, 2) ``landmarks`` shifted into it (a new
    array). A face inside the photo gives ``img.copy()`` and the landmarks unchanged."""
    landmarks = np.array(landmarks, dtype=np.float64)
    eye_avg = (landmarks[0] + landmarks[1]) / 2
    eye_to_eye = landmarks[1] - landmarks[0]
    eye_to_mouth = (landmarks[3] + landmarks[4]) / 2 - eye_avg
    x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
    x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 3.0, np.hypot(*eye_to_mouth) * 2.7)
    y = np.flipud(x) * [-1, 1]
    c = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    qsize = np.hypot(*x) * 2
    border = max(int(np.rint(qsize * 0.1)), 3)
    h, w = img.shape[0:2]
    left = max(-int(np.floor(quad[:, 0].min())) + border, 1)
    top = max(-int(np.floor(quad[:, 1].min())) + border, 1)
    right = max(int(np.ceil(quad[:, 0].max())) - w + border, 1)
    bottom = max(int(np.ceil(quad[:, 1].max())) - h + border, 1)
    if max(left, top, right, bottom) <= 1:
        return img.copy(), landmarks
    padded = np.pad(img, ((top, bottom), (left, right), (0, 0)), 'reflect')
    landmarks += [left, top]
    ph, pw = padded.shape[0:2]
    yy, xx = np.ogrid[:ph, :pw]
    mask = np.maximum(1.0 - np.minimum(np.float32(xx) / left,
                                       np.float32(pw - 1 - xx) / right),
                      1.0 - np.minimum(np.float32(yy) / top,
                                       np.float32(ph - 1 - yy) / bottom))[:, :, None]
    blur = int(qsize * blur_ratio) | 1
    blurred = cv2.boxFilter(padded, 0, ksize=(blur, blur)).astype(np.float32)
    out = padded.astype(np.float32)
    out += (blurred - out) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    out += (np.median(out, axis=(0, 1)) - out) * np.clip(mask, 0.0, 1.0)
    return np.clip(out, 0, 255), landmarks
