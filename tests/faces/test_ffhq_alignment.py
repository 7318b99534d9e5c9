"""FFHQ's 68-point alignment against its definition, on synthetic photos of the mean 68-point face with blobs at the
eye centres and the mouth centre: positions predicted from the quad, the returned matrix, rotation invariance,
the shrink path for big faces, the padding path for a face at the border, and a direct Pillow implementation of the
published steps as the oracle of the pixels."""
import cv2
import numpy as np
import pytest

from gfpgan.faces.ffhq_alignment import align_ffhq, ffhq_quad, transform_points
from gfpgan.faces.templates import MEAN_SHAPE_68

CANVAS = 512


def canonical_landmarks(scale=400, offset=56):
    return MEAN_SHAPE_68 * scale + offset


def key_points(lm):
    """Left eye centre, right eye centre, mouth centre of (68, 2) landmarks."""
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), (lm[48] + lm[54]) / 2])


def blob_texture():
    """A black canonical face with one Gaussian blob per channel: left eye, right eye, mouth centre."""
    yy, xx = np.mgrid[:CANVAS, :CANVAS].astype(np.float64)
    tex = np.zeros((CANVAS, CANVAS, 3), np.float64)
    for ch, (px, py) in enumerate(key_points(canonical_landmarks())):
        tex[..., ch] = 255 * np.exp(-((xx - px)**2 + (yy - py)**2) / (2 * 8.0**2))
    return tex.astype(np.float32)


def smooth_texture(seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (CANVAS // 16, CANVAS // 16, 3)).astype(np.float32)
    return cv2.resize(noise, (CANVAS, CANVAS), interpolation=cv2.INTER_CUBIC)


def photo(texture, size, scale, angle_deg, centre):
    """``texture`` (canonical frame) placed into a (size, size) photo by a similarity; returns it and its landmarks."""
    a = np.deg2rad(angle_deg)
    rot = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    shift = np.asarray(centre, np.float64) - rot @ np.array([CANVAS / 2, CANVAS / 2])
    m = np.hstack([rot, shift[:, None]])
    img = cv2.warpAffine(texture, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return img, canonical_landmarks() @ rot.T + shift


def centroids(img, near, radius=12):
    """Intensity centroid (x, y) of each channel within ``radius`` of its point in ``near`` (the reflected copies of a
    blob in the padding stay out)."""
    yy, xx = np.mgrid[:img.shape[0], :img.shape[1]]
    found = []
    for c, (px, py) in enumerate(near):
        w = img[..., c] * (np.hypot(xx - px, yy - py) < radius)
        found.append([(xx * w).sum() / w.sum(), (yy * w).sum() / w.sum()])
    return np.array(found)


def predicted_from_quad(points, quad, size):
    """Where the procedure puts ``points``: the quad's corners go to the output square's corners (pixel edges)."""
    origin, right, down = quad[0], quad[3] - quad[0], quad[1] - quad[0]
    uv = np.linalg.solve(np.stack([right, down], 1), (points - origin).T).T
    return uv * size - 0.5  # output pixel edges -> pixel centres


def test_quad_follows_the_definition():
    lm = canonical_landmarks()
    quad, qsize = ffhq_quad(lm)
    eye_l, eye_r, mouth = key_points(lm)
    eye_avg = (eye_l + eye_r) / 2
    e2e, e2m = eye_r - eye_l, mouth - eye_avg
    assert qsize == pytest.approx(2 * max(np.hypot(*e2e) * 2.0, np.hypot(*e2m) * 1.8))
    np.testing.assert_allclose(quad.mean(0), eye_avg + 0.1 * e2m, atol=1e-9)
    sides = np.linalg.norm(np.diff(np.vstack([quad, quad[:1]]), axis=0), axis=1)
    np.testing.assert_allclose(sides, qsize, rtol=1e-9)


@pytest.mark.parametrize('case', ['plain', 'shrink', 'padding'])
def test_eyes_and_mouth_land_where_the_quad_says(case):
    size, scale, centre, out = {'plain': (640, 1.0, (320, 330), 256), 'shrink': (1400, 2.6, (700, 700), 128),
                                'padding': (480, 0.8, (120, 300), 256)}[case]
    img, lm = photo(blob_texture(), size, scale, 17.0, centre)
    aligned, matrix = align_ffhq(img, lm, output_size=out)
    assert aligned.shape == (out, out, 3) and aligned.dtype == np.uint8
    quad, qsize = ffhq_quad(lm)
    if case == 'shrink':
        assert np.floor(qsize / out * 0.5) > 1
    if case == 'padding':
        assert quad[:, 0].min() < 0
    expected = predicted_from_quad(key_points(lm), quad, out)
    mapped = transform_points(matrix, key_points(lm))
    found = centroids(aligned, mapped)
    # shrinking divides the quad's pixel coordinates by the factor as published (a fraction of a pixel off the true
    # rescaling, which the matrix follows)
    np.testing.assert_allclose(mapped, expected, atol=0.5 if case == 'shrink' else 1e-3)
    np.testing.assert_allclose(found, mapped, atol=0.1)


def test_rotation_and_placement_do_not_change_the_output():
    tex = smooth_texture()
    a, lm_a = photo(tex, 640, 1.0, 0.0, (320, 320))
    b, lm_b = photo(tex, 700, 1.1, 35.0, (330, 360))
    out_a, _ = align_ffhq(a, lm_a, output_size=256)
    out_b, _ = align_ffhq(b, lm_b, output_size=256)
    inner = (slice(64, -64), slice(64, -64))  # where the canonical texture covers both photos
    diff = np.abs(out_a[inner].astype(float) - out_b[inner])
    assert diff.mean() < 0.5 and diff.max() <= 3


def test_padding_blends_towards_blur_and_median_without_black_corners():
    img, lm = photo(smooth_texture(1), 480, 0.8, 0.0, (100, 240))
    aligned, _ = align_ffhq(img, lm, output_size=128)
    assert aligned[:, :8].mean() > 20  # the reflected, blended padding, not PIL's black fill


def test_matrix_maps_all_68_landmarks_into_the_same_face_frame():
    img, lm = photo(smooth_texture(), 640, 1.0, -25.0, (300, 340))
    ref_img, ref_lm = photo(smooth_texture(), 640, 1.0, 0.0, (320, 320))
    points = transform_points(align_ffhq(img, lm, output_size=512)[1], lm)
    ref_points = transform_points(align_ffhq(ref_img, ref_lm, output_size=512)[1], ref_lm)
    np.testing.assert_allclose(points, ref_points, atol=1e-6)


def pillow_oracle(img, lm, output_size):
    """The procedure step by step with Pillow and SciPy, as published (Lanczos shrink, crop, reflect pad with the
    blur and median blend, bilinear QUAD transform at 4x, Lanczos reduction): the test oracle."""
    from PIL import Image
    from scipy.ndimage import gaussian_filter
    quad, qsize = ffhq_quad(lm)
    pil = Image.fromarray(img)
    shrink = int(np.floor(qsize / output_size * 0.5))
    if shrink > 1:
        pil = pil.resize((int(np.rint(pil.size[0] / shrink)), int(np.rint(pil.size[1] / shrink))), Image.LANCZOS)
        quad, qsize = quad / shrink, qsize / shrink
    border = max(int(np.rint(qsize * 0.1)), 3)
    box = (int(np.floor(quad[:, 0].min())), int(np.floor(quad[:, 1].min())), int(np.ceil(quad[:, 0].max())),
           int(np.ceil(quad[:, 1].max())))
    box = (max(box[0] - border, 0), max(box[1] - border, 0), min(box[2] + border, pil.size[0]),
           min(box[3] + border, pil.size[1]))
    if box[2] - box[0] < pil.size[0] or box[3] - box[1] < pil.size[1]:
        pil = pil.crop(box)
        quad = quad - box[0:2]
    lo, hi = np.floor(quad.min(0)).astype(int), np.ceil(quad.max(0)).astype(int)
    pad = (max(-lo[0] + border, 0), max(-lo[1] + border, 0), max(hi[0] - pil.size[0] + border, 0),
           max(hi[1] - pil.size[1] + border, 0))
    if max(pad) > border - 4:
        pad = np.maximum(pad, int(np.rint(qsize * 0.3)))
        arr = np.pad(np.float32(pil), ((pad[1], pad[3]), (pad[0], pad[2]), (0, 0)), 'reflect')
        h, w, _ = arr.shape
        y, x, _ = np.ogrid[:h, :w, :1]
        mask = np.maximum(1.0 - np.minimum(np.float32(x) / pad[0], np.float32(w - 1 - x) / pad[2]),
                          1.0 - np.minimum(np.float32(y) / pad[1], np.float32(h - 1 - y) / pad[3]))
        sigma = qsize * 0.02
        arr += (gaussian_filter(arr, [sigma, sigma, 0]) - arr) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        arr += (np.median(arr, axis=(0, 1)) - arr) * np.clip(mask, 0.0, 1.0)
        pil = Image.fromarray(np.uint8(np.clip(np.rint(arr), 0, 255)))
        quad = quad + pad[:2]
    size = 4 * output_size
    pil = pil.transform((size, size), Image.QUAD, (quad + 0.5).flatten(), Image.BILINEAR)
    return np.asarray(pil.resize((output_size, output_size), Image.LANCZOS))


@pytest.mark.parametrize('case', ['plain', 'shrink', 'padding'])
def test_equals_a_direct_pillow_implementation(case):
    size, scale, centre, out = {'plain': (640, 1.0, (320, 330), 256), 'shrink': (1400, 2.6, (700, 700), 128),
                                'padding': (480, 0.8, (120, 300), 256)}[case]
    img, lm = photo(smooth_texture(2), size, scale, 17.0, centre)
    ours, _ = align_ffhq(img, lm, output_size=out)
    diff = np.abs(ours.astype(float) - pillow_oracle(img, lm, out))
    assert diff.mean() < 0.75 and diff.max() <= 4


def test_grayscale_photo_gives_a_grayscale_face():
    img, lm = photo(smooth_texture(3), 640, 1.0, 5.0, (320, 330))
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    aligned, matrix = align_ffhq(gray, lm, output_size=128)
    colour, colour_matrix = align_ffhq(img, lm, output_size=128)
    assert aligned.shape == (128, 128)
    np.testing.assert_allclose(matrix, colour_matrix)
    assert np.abs(aligned.astype(float) - cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY)).mean() < 1.0
