"""Face quality measures: the yaw estimate on landmarks of a 3D head turned, rolled, scaled and tilted (a head model
with its own nose depth, not the estimator's constant), the perceptual hash on re-encoded and different images, the
colourfulness of gray and colour images, and sharpness falling with blur."""
import math

import cv2
import numpy as np
import pytest

from gfpgan.faces.quality import (NOSE_DEPTH_RATIO, colourfulness, estimate_yaw, hamming_distances, hash_from_hex,
                                  hash_to_hex, laplacian_variance, perceptual_hash)
from gfpgan.faces.templates import MEAN_SHAPE_68, five_points_of

skimage_data = pytest.importorskip('skimage.data')

# A head in millimetres (x right, y down, z towards the camera): eye centres 64 mm apart, nose tip 28 mm in front of
# the eye-mouth line (ratio 0.44, not the estimator's 0.4), mouth corners 50 mm apart, a little behind the eyes.
HEAD = np.array([[-32.0, 0.0, 0.0], [32.0, 0.0, 0.0], [0.0, 35.0, 26.0], [-25.0, 70.0, -4.0], [25.0, 70.0, -4.0]])


def _project(yaw, roll=0.0, pitch=0.0, scale=3.0, shift=(400.0, 300.0)):
    """The 5 image points of HEAD turned by ``yaw`` (positive: nose to the image right), tilted by ``pitch``, seen
    orthographically, then rolled in the image by ``roll`` degrees, scaled and shifted."""
    a, p, r = (math.radians(v) for v in (yaw, pitch, roll))
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    tilt = np.array([[1, 0, 0], [0, math.cos(p), -math.sin(p)], [0, math.sin(p), math.cos(p)]])
    flat = (HEAD @ (tilt @ turn).T)[:, :2]
    spin = np.array([[math.cos(r), -math.sin(r)], [math.sin(r), math.cos(r)]])
    return flat @ spin.T * scale + shift


@pytest.mark.parametrize('yaw', [-70, -45, -20, 0, 10, 30, 60])
@pytest.mark.parametrize('roll,pitch,scale', [(0, 0, 3.0), (25, 0, 1.0), (-40, 12, 7.5)])
def test_yaw_estimate_follows_a_turned_head(yaw, roll, pitch, scale):
    estimate = estimate_yaw(_project(yaw, roll, pitch, scale))
    assert estimate == pytest.approx(yaw, abs=6)


def test_yaw_sign_symmetry_and_profile():
    assert estimate_yaw(_project(35)) == pytest.approx(-estimate_yaw(_project(-35)))
    assert abs(estimate_yaw(_project(0, roll=90))) < 1e-6
    profile = _project(0)
    profile[1] = profile[0]  # both eyes on one spot: a full profile
    assert abs(estimate_yaw(profile)) == pytest.approx(90)
    # the mean 68-point face is frontal, and 68 points give the estimate of their 5
    assert abs(estimate_yaw(MEAN_SHAPE_68)) < 5
    shape = MEAN_SHAPE_68 * 200
    shape[27:36, 0] += 25  # nose pushed to the image right
    assert estimate_yaw(shape) == estimate_yaw(five_points_of(shape)) > 20
    with pytest.raises(ValueError, match='landmarks'):
        estimate_yaw(np.zeros((4, 2)))


def test_default_threshold_separates_turned_from_profile():
    from gfpgan.data.dataset_preparation import DEFAULTS
    assert 0 < NOSE_DEPTH_RATIO < 1
    assert all(abs(estimate_yaw(_project(y, roll=10))) <= DEFAULTS['max_yaw'] for y in (-40, 0, 20, 40))
    assert all(abs(estimate_yaw(_project(y, roll=10))) > DEFAULTS['max_yaw'] for y in (-75, 70, 80))


def _jpeg(img, quality):
    return cv2.imdecode(cv2.imencode('.jpg', img, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def test_perceptual_hash_survives_re_encoding_not_a_different_image():
    face = cv2.cvtColor(skimage_data.astronaut()[:300, 100:400], cv2.COLOR_RGB2BGR)
    copy = _jpeg(cv2.resize(face, (240, 240), interpolation=cv2.INTER_AREA), 60)
    other = cv2.cvtColor(skimage_data.chelsea()[:300, 100:400], cv2.COLOR_RGB2BGR)
    h, h_copy, h_other = perceptual_hash(face), perceptual_hash(copy), perceptual_hash(other)
    assert 0 <= h < 2**64 and hash_from_hex(hash_to_hex(h)) == h and len(hash_to_hex(h)) == 16
    distances = hamming_distances(h, np.array([h, h_copy, h_other], dtype=np.uint64))
    assert distances[0] == 0 and distances[1] <= 6 and distances[2] >= 16
    assert distances[2] == bin(h ^ h_other).count('1')
    mirrored = perceptual_hash(face[:, ::-1])
    assert bin(h ^ mirrored).count('1') >= 10  # a mirror image is another picture
    # bit i is the DCT coefficient i (row-major) against the median: a pure horizontal cosine sets bit 1 alone among
    # the first row's AC bits
    x = np.cos(np.pi * (np.arange(32) + 0.5) / 32)
    wave = np.tile(((x * 100) + 128).astype(np.uint8), (32, 1))
    bits = perceptual_hash(wave)
    assert bits & 0b10 and not bits & 0b11111100


def test_colourfulness_of_gray_and_colour():
    colour = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    gray = cv2.cvtColor(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
    assert colourfulness(gray) == 0.0
    assert colourfulness(_jpeg(gray, 70)) < 2  # a gray photo saved as colour JPEG stays gray
    assert colourfulness(colour) > 30


def test_sharpness_falls_with_blur():
    face = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    scores = [laplacian_variance(cv2.GaussianBlur(face, (0, 0), s)) for s in (0.3, 1, 2, 4)]
    assert all(a > b for a, b in zip(scores, scores[1:]))
