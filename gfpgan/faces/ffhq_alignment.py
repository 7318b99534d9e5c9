"""FFHQ's own alignment from 68 landmarks (the procedure the FFHQ dataset was made with): an oriented quad from the
eyes and mouth, shrink for big faces, crop, reflect-pad with blur and colour blend, quad -> square, at 512 or 1024.

Coordinates are pixel indices (a pixel's centre at integer x, y, as dlib and OpenCV report landmarks). The quad is
warped with an affine map from 3 of its corners (``cv2.warpAffine``): the quad is a parallelogram, so Pillow's
bilinear QUAD map that the published procedure uses is exactly this affine map, and the affine map can be returned
as a matrix that moves landmarks into the aligned frame. As published, the quad is sampled bilinearly at
``transform_size`` (4 x ``output_size``) and then reduced to ``output_size`` with Pillow's Lanczos filter (also used
for the shrink); the padded area fades to a blur and to the median colour, as in the published code.
"""
import cv2
import numpy as np

from .templates import LANDMARK_RANGES

__all__ = ['ffhq_quad', 'align_ffhq', 'transform_points']


def ffhq_quad(landmarks68):
    """The FFHQ crop quad of a face, (4, 2) corners top-left, bottom-left, bottom-right, top-right (in face terms),
    and its side length ``qsize``, from (68, 2) iBUG landmarks in pixel coordinates."""
    lm = np.asarray(landmarks68, dtype=np.float64).reshape(68, 2)
    eye_left = lm[LANDMARK_RANGES['left_eye']].mean(0)
    eye_right = lm[LANDMARK_RANGES['right_eye']].mean(0)
    eye_avg = (eye_left + eye_right) * 0.5
    eye_to_eye = eye_right - eye_left
    mouth_avg = (lm[48] + lm[54]) * 0.5
    eye_to_mouth = mouth_avg - eye_avg
    x = eye_to_eye - _rot90(eye_to_mouth)
    x /= np.hypot(*x)
    x *= max(np.hypot(*eye_to_eye) * 2.0, np.hypot(*eye_to_mouth) * 1.8)
    y = _rot90(x)
    c = eye_avg + eye_to_mouth * 0.1
    quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
    return quad, float(np.hypot(*x) * 2)


def _rot90(v):
    """``v`` turned by 90 degrees the way FFHQ's procedure does it: (a, b) -> (-b, a)."""
    return np.array([-v[1], v[0]])


def _translation(dx, dy):
    return np.array([[1.0, 0, dx], [0, 1.0, dy], [0, 0, 1.0]])


def _scaling(sx, sy):
    return np.diag([sx, sy, 1.0])


def transform_points(matrix, points):
    """(N, 2) points moved by a 3x3 ``matrix`` (as returned by ``align_ffhq``)."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def _resize(img, size):
    """(H, W, C) uint8 ``img`` resized to ``size`` = (w, h) with Pillow's antialiased Lanczos filter, as published
    (OpenCV's area averaging for channel counts Pillow has no mode for); edges map to edges either way."""
    channels = img.shape[2]
    if channels in (1, 3, 4):
        from PIL import Image
        pil = Image.fromarray(img[..., 0] if channels == 1 else img)
        return np.asarray(pil.resize(size, Image.LANCZOS)).reshape(size[1], size[0], channels)
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], channels)


def _blend_padding(img, pad, qsize):
    """The padded area of the reflect-padded float32 ``img`` faded towards a blur (sigma qsize * 0.02) and the median
    colour by its distance from the original edges over the pad width; ``pad`` = left, top, right, bottom (all > 0)."""
    h, w = img.shape[:2]
    y, x = np.ogrid[:h, :w]
    x = x.astype(np.float32)
    y = y.astype(np.float32)
    mask = np.maximum(1.0 - np.minimum(x / pad[0], (w - 1 - x) / pad[2]),
                      1.0 - np.minimum(y / pad[1], (h - 1 - y) / pad[3]))[..., None]
    sigma = qsize * 0.02
    blur = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
    blur = blur.reshape(img.shape)
    img += (blur - img) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
    img += (np.median(img, axis=(0, 1)) - img) * np.clip(mask, 0.0, 1.0)
    return img


def align_ffhq(img, landmarks68, output_size=1024, transform_size=None, enable_padding=True):
    """FFHQ-align the face of (H, W, C) uint8 ``img`` (any channel order) given its (68, 2) landmarks.

    Returns ``(aligned, matrix)``: the (output_size, output_size, C) uint8 face and the 3x3 affine matrix taking
    source pixel coordinates to aligned-image pixel coordinates (``transform_points(matrix, landmarks68)``).
    """
    transform_size = transform_size or 4 * output_size
    img = np.asarray(img)
    squeeze = img.ndim == 2
    if squeeze:
        img = img[..., None]
    quad, qsize = ffhq_quad(landmarks68)
    matrix = np.eye(3)  # source pixel-edge coordinates -> current image pixel-edge coordinates

    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        h, w = img.shape[:2]
        rsize = (int(np.rint(w / shrink)), int(np.rint(h / shrink)))
        img = _resize(img, rsize)
        matrix = _scaling(rsize[0] / w, rsize[1] / h) @ matrix
        quad /= shrink
        qsize /= shrink

    border = max(int(np.rint(qsize * 0.1)), 3)
    h, w = img.shape[:2]
    lo = np.floor(quad.min(0)).astype(int)
    hi = np.ceil(quad.max(0)).astype(int)
    crop = (max(lo[0] - border, 0), max(lo[1] - border, 0), min(hi[0] + border, w), min(hi[1] + border, h))
    if crop[2] - crop[0] < w or crop[3] - crop[1] < h:
        img = img[crop[1]:crop[3], crop[0]:crop[2]]
        quad -= crop[0:2]
        matrix = _translation(-crop[0], -crop[1]) @ matrix

    h, w = img.shape[:2]
    lo = np.floor(quad.min(0)).astype(int)
    hi = np.ceil(quad.max(0)).astype(int)
    pad = [max(-lo[0] + border, 0), max(-lo[1] + border, 0), max(hi[0] - w + border, 0), max(hi[1] - h + border, 0)]
    if enable_padding and max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        padded = np.pad(img.astype(np.float32), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), 'reflect')
        padded = _blend_padding(padded, pad, qsize)
        img = np.clip(np.rint(padded), 0, 255).astype(np.uint8)
        quad += pad[0:2]
        matrix = _translation(pad[0], pad[1]) @ matrix

    # Output pixel-edge coordinates (0, 0), (0, T), (T, 0) -> quad corners 0, 1, 3 (+ 0.5: pixel centres to edges).
    t = float(transform_size)
    dst_to_src = np.eye(3)
    dst_to_src[:2] = np.stack([(quad[3] - quad[0]) / t, (quad[1] - quad[0]) / t, quad[0] + 0.5], axis=1)
    inverse_map = _translation(-0.5, -0.5) @ dst_to_src @ _translation(0.5, 0.5)  # in pixel-centre coordinates
    warped = cv2.warpAffine(img, inverse_map[:2], (transform_size, transform_size),
                            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT,
                            borderValue=0).reshape(transform_size, transform_size, -1)
    matrix = np.linalg.inv(dst_to_src) @ matrix
    if output_size < transform_size:
        warped = _resize(warped, (output_size, output_size))
        matrix = _scaling(output_size / t, output_size / t) @ matrix
    elif output_size != transform_size:
        raise ValueError(f'output_size ({output_size}) must not exceed transform_size ({transform_size}).')
    matrix = _translation(-0.5, -0.5) @ matrix @ _translation(0.5, 0.5)  # edges -> pixel centres on both sides
    return (warped[..., 0] if squeeze else warped), matrix
