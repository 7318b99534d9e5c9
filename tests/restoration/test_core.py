"""gfpgan.restoration.core and image_mode: plain face records, pure detect / align / restore / paste functions that
give what the facexlib-compatible helper gives, one image-mode split/merge, and the BGR uint8 <-> tensor pair."""
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan.faces import face_template
from gfpgan.restoration.core import (Face, align_faces, detect_faces, inverse_affines, pad_faces, paste_faces,
                                     restore_batch, three_point_landmarks)
from gfpgan.restoration.face_helper import FaceRestoreHelper
from gfpgan.restoration.image_mode import merge_image, restore_mode, split_alpha, split_image
from gfpgan.utils.img_util import bgr_to_tensor, tensor_to_bgr


class TwoFaces:
    """A face in the centre and a small one in the top-left corner."""

    def detect(self, img):
        h, w = img.shape[:2]
        points = face_template(min(h, w) // 2) + [w // 4, h // 4]
        small = face_template(40) - 5
        return [dict(box=[w / 4, h / 4, 3 * w / 4, 3 * h / 4], score=0.9, landmarks=points),
                dict(box=[0, 0, 40, 40], score=0.95, landmarks=small)]


@pytest.fixture
def photo():
    return np.ascontiguousarray(skdata.astronaut()[::2, ::2, ::-1])


def test_core_functions_give_the_helpers_results(photo):
    helper = FaceRestoreHelper(2, face_size=64, det_model=None, detector=TwoFaces(), device='cpu', pad_blur=True)
    helper.read_image(photo)
    helper.get_face_landmarks_5(eye_dist_threshold=5)
    helper.align_warp_face()
    helper.get_inverse_affine()
    faces = detect_faces(photo, TwoFaces(), eye_dist_threshold=5)
    assert all(isinstance(face, Face) and face.crop is None for face in faces)
    faces = align_faces(photo, pad_faces(photo, faces), helper.face_template, helper.face_size)
    for face, crop, matrix, box in zip(faces, helper.cropped_faces, helper.affine_matrices, helper.det_faces):
        assert np.array_equal(face.crop, crop) and np.array_equal(face.affine, matrix)
        assert np.array_equal(face.det_row, box)
    restored = [255 - crop for crop in helper.cropped_faces]
    for face in restored:
        helper.add_restored_face(face)
    assert np.array_equal(paste_faces(photo, restored, inverse_affines(faces, 2), 2),
                          helper.paste_faces_to_input_image())
    assert [f.score for f in detect_faces(photo, TwoFaces(), select='largest')] == [0.9]
    assert [f.score for f in detect_faces(photo, TwoFaces(), eye_dist_threshold=20)] == [0.9]


def test_restore_batch_blends_and_keeps_crops_on_failure(photo):
    crops = [photo[:32, :32].copy(), photo[32:64, :32].copy()]

    def identity(x, return_rgb=False):
        return (x, None)

    assert all(np.array_equal(a, b) for a, b in zip(restore_batch(identity, crops, 'cpu'), crops))

    def broken(x, return_rgb=False):
        raise RuntimeError('out of memory')

    assert all(np.array_equal(a, b) for a, b in zip(restore_batch(broken, crops, 'cpu', weight=0.5), crops))


@pytest.mark.parametrize('kind', ['gray', 'gray1', 'bgr', 'bgra', 'bgr16', 'bgra16'])
def test_image_modes_split_and_merge_back(photo, kind):
    img = {'gray': photo[:, :, 0], 'gray1': photo[:, :, :1], 'bgr': photo,
           'bgra': np.dstack([photo, photo[:, :, 1]])}.get(kind.replace('16', ''))
    if kind.endswith('16'):
        img = img.astype(np.uint16) * 257
    color, alpha, mode = split_image(img)
    assert color.shape == photo.shape and color.dtype == img.dtype
    assert mode == ('L' if kind.startswith('gray') else 'RGBA' if kind.startswith('bgra') else 'RGB')
    assert np.array_equal(merge_image(color, alpha, mode), img.reshape(img.shape[:2]) if kind == 'gray1' else img)
    bgr, old_mode = split_alpha(img)
    assert bgr.dtype == np.uint8 and np.array_equal(restore_mode(bgr, old_mode).reshape(img.shape), img)


def test_bgr_tensor_pair_round_trips_and_states_its_range(photo):
    x = bgr_to_tensor(photo, (-1, 1))
    assert x.shape == (1, 3) + photo.shape[:2] and x.dtype == torch.float32 and x.is_contiguous()
    assert x.min() >= -1 and x.max() <= 1
    assert torch.equal(x[0, 0], torch.from_numpy(photo[:, :, 2].astype(np.float32) / 127.5 - 1))
    assert np.array_equal(tensor_to_bgr(x, (-1, 1))[0], photo)
    y = bgr_to_tensor([photo, photo[::-1]])
    assert y.shape[0] == 2 and y.max() <= 1 and np.array_equal(tensor_to_bgr(y)[1], photo[::-1])


def test_three_point_landmarks_are_the_eyes_and_the_mouth_centre(photo):
    five = detect_faces(photo, TwoFaces())[0].landmarks
    three = detect_faces(photo, TwoFaces(), three_points=True)[0].landmarks
    assert three.shape == (3, 2) and np.array_equal(three, three_point_landmarks(five))
    assert np.array_equal(three[:2], five[:2]) and np.allclose(three[2], five[3:].mean(axis=0))
