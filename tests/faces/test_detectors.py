"""gfpgan.faces.detectors: one detect(img) interface, built by name from DETECTOR_REGISTRY."""
import numpy as np
import pytest

from gfpgan.faces import DETECTOR_REGISTRY, FFHQ_TEMPLATE_5, LandmarksDetector, build_detector
from gfpgan.faces.detectors import DetectorModule, faces_to_rows, rows_to_faces


def test_registry_names_every_detector_and_unknown_names_list_them():
    assert {'retinaface_resnet50', 'retinaface_mobile0.25', 'yunet', 'landmarks'} <= set(DETECTOR_REGISTRY.keys())
    for error in (KeyError, ValueError):  # the other registries' error: both kinds, naming the known detectors
        with pytest.raises(error, match='retinaface_resnet50.*yunet'):
            build_detector('dlib')


def test_known_landmarks_detector_by_name():
    points = np.stack([FFHQ_TEMPLATE_5, FFHQ_TEMPLATE_5 / 2])
    faces = build_detector('landmarks', landmarks=points).detect(np.zeros((8, 8, 3), np.uint8))
    assert len(faces) == 2 and isinstance(DETECTOR_REGISTRY.get('landmarks')(points), LandmarksDetector)
    assert np.array_equal(faces[1]['landmarks'], FFHQ_TEMPLATE_5 / 2) and faces[1]['score'] == 1.0
    assert np.array_equal(faces[0]['box'], np.concatenate([FFHQ_TEMPLATE_5.min(0), FFHQ_TEMPLATE_5.max(0)]))


def test_facexlib_rows_and_face_records_convert_both_ways():
    faces = LandmarksDetector(FFHQ_TEMPLATE_5).detect(None)
    rows = faces_to_rows(faces)
    assert rows.shape == (1, 15) and rows.dtype == np.float32
    back = rows_to_faces(rows)[0]
    assert np.allclose(back['landmarks'], FFHQ_TEMPLATE_5, atol=1e-4) and back['score'] == 1.0
    module = DetectorModule(LandmarksDetector(FFHQ_TEMPLATE_5))  # facexlib's detect_faces on a detect-only object
    assert module.detect_faces(None, 0.5).shape == (1, 15) and module.detect_faces(None, 1.0).shape == (0, 15)


def test_haar_detector_reports_boxes_corners_and_landmarks():
    from skimage import data as skdata
    photo = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
    faces = build_detector('haar', cascades=None).detect(photo)  # scikit-image's LBP cascade: nothing to fetch
    assert faces and faces[0]['landmarks'].shape == (5, 2)
    x1, y1, x2, y2 = faces[0]['box']
    assert x1 < faces[0]['landmarks'][:, 0].min() and faces[0]['landmarks'][:, 0].max() < x2 and y1 < y2
