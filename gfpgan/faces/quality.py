"""Quality measures of a face, for sorting out training faces: sharpness (variance of the Laplacian), luminance,
colourfulness (grayscale photos), a yaw estimate from 5 or 68 landmarks (strong profiles) and a 64-bit perceptual
hash with its Hamming distances (near duplicates)."""
import math

import cv2
import numpy as np

from .templates import five_points_of

__all__ = [
    'NOSE_DEPTH_RATIO', 'laplacian_variance', 'mean_luminance', 'colourfulness', 'estimate_yaw', 'perceptual_hash',
    'hash_to_hex', 'hash_from_hex', 'hamming_distances'
]

# Depth of the nose tip in front of the eye-mouth line, over the distance between the eye centres, of an average
# head (about 25 mm over 63 mm): the weak-perspective model estimate_yaw inverts.
NOSE_DEPTH_RATIO = 0.4


def laplacian_variance(face):
    """Sharpness of a BGR face: variance of the Laplacian of its gray copy shrunk to 256 px (INTER_AREA), so that
    one threshold serves every face size and upsampled sources are not credited with the aligner's interpolation."""
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    if gray.shape[0] != 256:
        gray = cv2.resize(gray, (256, 256), interpolation=cv2.INTER_AREA)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def mean_luminance(face):
    """Mean Rec. 601 luminance (0-255) of a BGR face."""
    return float(cv2.cvtColor(face, cv2.COLOR_BGR2GRAY).mean())


def colourfulness(face):
    """Hasler and Suesstrunk's colourfulness (2003) of a BGR uint8 face: std + 0.3 * mean of the opponent channels
    rg = R - G and yb = (R + G) / 2 - B. 0 for a gray image; about 15 'slightly', 33 'moderately colourful'."""
    b, g, r = (face[..., i].astype(np.float32) for i in range(3))
    rg, yb = r - g, 0.5 * (r + g) - b
    spread = math.hypot(float(rg.std()), float(yb.std()))
    return spread + 0.3 * math.hypot(float(rg.mean()), float(yb.mean()))


def estimate_yaw(landmarks):
    """Signed yaw estimate in degrees (0 frontal, +-90 full profile; positive when the nose points to the image's
    right) from (5, 2) facexlib-order or (68, 2) iBUG landmarks.

    The nose tip lies in front of the line joining the eye and mouth midpoints, which is the face's midline seen
    from the front; turning the head by ``yaw`` moves the tip off that line by ``depth * sin(yaw)`` while the eyes
    come ``width * cos(yaw)`` apart, so ``yaw = atan(offset / eye distance / NOSE_DEPTH_RATIO)``. Roll and scale
    cancel out; a face whose eyes coincide is a full profile."""
    points = np.asarray(landmarks, dtype=np.float64)
    if points.shape == (68, 2):
        points = five_points_of(points)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        raise ValueError(f'estimate_yaw needs (5, 2) or (68, 2) finite landmarks, got shape {points.shape}.')
    eye_mid, mouth_mid = points[0:2].mean(0), points[3:5].mean(0)
    across = points[1] - points[0]
    down = mouth_mid - eye_mid
    if np.hypot(*down) < 1e-9:
        down = np.array([-across[1], across[0]])  # no mouth-eye distance: the eye line's perpendicular
    normal = np.array([-down[1], down[0]]) / np.hypot(*down)  # perpendicular to the midline, towards the image right
    if normal @ across < 0:
        normal = -normal
    offset = float((points[2] - eye_mid) @ normal)
    eyes = float(abs(across @ normal))
    return math.degrees(math.atan2(offset / NOSE_DEPTH_RATIO, eyes))


def perceptual_hash(face):
    """64-bit DCT perceptual hash (pHash) of a face image (BGR or gray, any size) as an int: the signs of the lowest
    8x8 DCT frequencies of its 32x32 gray copy about their median (DC excluded), bit i = coefficient i (row-major)."""
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY) if face.ndim == 3 else face
    small = cv2.resize(gray, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
    block = cv2.dct(small)[:8, :8].reshape(64)
    bits = block > np.median(block[1:])
    return int(np.packbits(bits[::-1]).view('>u8')[0])


def hash_to_hex(value):
    """A 64-bit hash as 16 hex digits (JSON keeps them exact)."""
    return f'{int(value):016x}'


def hash_from_hex(text):
    return int(text, 16)


def hamming_distances(value, hashes):
    """Number of differing bits between the hash ``value`` and each of ``hashes`` (a uint64 array), as an int array."""
    differ = np.asarray(hashes, dtype=np.uint64) ^ np.uint64(value)
    # the bytes' set bits (np.bitwise_count needs NumPy 2; the package supports 1.x too)
    return np.unpackbits(differ.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1, dtype=np.int64)
