"""gfpgan.faces.alignment and selection: the similarity fits, the warp and its inverse, FFHQ's padding, face choice."""
import numpy as np
import pytest

from gfpgan.faces import (FFHQ_TEMPLATE_5, align_face, center_index, estimate_alignment, face_template, inverse_affine,
                          largest_index, pad_blur, select_index, similarity_transform, warp_face)


def _moved(points, scale, angle, shift):
    c, s = np.cos(angle), np.sin(angle)
    return scale * points @ np.array([[c, s], [-s, c]]) + shift


def test_both_fits_recover_an_exact_similarity():
    photo_points = _moved(FFHQ_TEMPLATE_5, 0.4, np.deg2rad(12), np.array([30.0, 55.0]))
    for fit in (similarity_transform, estimate_alignment):
        matrix = fit(photo_points, FFHQ_TEMPLATE_5)
        assert np.abs(photo_points @ matrix[:, :2].T + matrix[:, 2] - FFHQ_TEMPLATE_5).max() < 1e-3


def test_warp_and_inverse_round_trip_a_point():
    img = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    photo_points = _moved(FFHQ_TEMPLATE_5 / 4, 1.0, 0.1, np.array([100.0, 50.0]))
    template = face_template(128)
    matrix = estimate_alignment(photo_points, template)
    crop = warp_face(img, matrix, (128, 128))
    assert crop.shape == (128, 128, 3) and crop.dtype == np.uint8
    back = inverse_affine(matrix, 2)
    assert np.allclose(template @ back[:, :2].T + back[:, 2], 2 * photo_points, atol=0.5)
    with pytest.raises(ValueError, match='border_mode'):
        warp_face(img, matrix, (128, 128), 'wrap')
    face, matrix512 = align_face(img, photo_points, size=64)
    assert face.shape == (64, 64, 3) and matrix512.shape == (2, 3)


def test_pad_blur_pads_only_faces_that_leave_the_photo():
    img = np.full((400, 400, 3), 100, np.uint8)
    inside = face_template(100) + 150
    padded, landmarks = pad_blur(img, inside)
    assert np.array_equal(padded, img) and np.array_equal(landmarks, inside)
    edge = face_template(200) - 60
    padded, landmarks = pad_blur(img, edge)
    assert padded.shape[0] > 400 and np.all(landmarks > edge) and np.array_equal(edge, face_template(200) - 60)


def test_face_selection():
    boxes = np.array([[0, 0, 50, 50, 0.9], [80, 80, 120, 120, 0.99], [-500, -500, 10, 10, 0.9]])
    assert center_index(boxes, 200, 200) == 1
    assert largest_index(boxes, 200, 200) == 0  # clipped to the photo, the third box is tiny
    assert select_index(boxes, 200, 200, 'largest') == 0 and select_index(boxes, 200, 200, 'center') == 1
    with pytest.raises(ValueError, match='largest, center'):
        select_index(boxes, 200, 200, 'first')


def test_least_squares_alignment_moves_the_crop_less_than_the_landmarks_move():
    from gfpgan.faces.alignment import least_squares_alignment
    photo = _moved(FFHQ_TEMPLATE_5, 0.7, np.deg2rad(12), np.array([31.0, -17.0]))
    matrix = least_squares_alignment(photo, FFHQ_TEMPLATE_5)
    assert np.allclose(matrix, similarity_transform(photo, FFHQ_TEMPLATE_5))
    nudged = photo.copy()
    nudged[2] += (0.25, 0.0)  # the nose drifts a quarter pixel: the fitted crop moves by less than that
    moved = np.abs(np.c_[photo, np.ones(5)] @ (least_squares_alignment(nudged, FFHQ_TEMPLATE_5) - matrix).T)
    assert 0 < moved.max() < 0.25 / 0.7
