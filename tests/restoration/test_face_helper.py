"""FaceRestoreHelper and the detectors: alignment onto the FFHQ template, paste-back round trips on
skimage's astronaut with a stand-in detector, input handling, and offline detector loading."""
import cv2
import numpy as np
import pytest
import skimage.data
import torch

import gfpgan.restoration.face_helper as fh
from gfpgan.restoration import (FFHQ_TEMPLATE_5, FaceRestoreHelper, LandmarksDetector, RetinaFaceDetector,
                                YuNetDetector, build_detector)
from gfpgan.utils.pretrained import PRETRAINED
from gfpgan.utils.weights import WeightsNotFoundError

# The astronaut's 5 landmarks (left eye, right eye, nose tip, left / right mouth corner, as in the image), by eye.
ASTRONAUT_LANDMARKS = np.array([[202.5, 101.0], [246.0, 104.0], [222.5, 126.0], [202.5, 141.0], [245.0, 142.5]])
ASTRONAUT_BOX = np.array([165.0, 55.0, 285.0, 190.0])


def astronaut():
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])  # BGR


def similar_to_template(points):
    """The similarity image of the FFHQ template closest to ``points`` (so an exact fit exists)."""
    src = FFHQ_TEMPLATE_5
    a = np.zeros((10, 4))
    a[0::2] = np.stack([src[:, 0], -src[:, 1], np.ones(5), np.zeros(5)], axis=1)
    a[1::2] = np.stack([src[:, 1], src[:, 0], np.zeros(5), np.ones(5)], axis=1)
    p, q, tx, ty = np.linalg.lstsq(a, points.reshape(-1), rcond=None)[0]
    return src @ np.array([[p, q], [-q, p]]) + [tx, ty]


class StandInDetector:
    """Returns fixed faces, whatever the image."""

    def __init__(self, faces):
        self.faces = faces
        self.calls = []

    def detect(self, img):
        self.calls.append(img.shape)
        return [dict(box=np.array(box, float), score=0.99, landmarks=np.array(lm, float)) for box, lm in self.faces]


def helper(upscale=1, faces=((ASTRONAUT_BOX, ASTRONAUT_LANDMARKS), ), **kwargs):
    kwargs.setdefault('use_parse', False)
    return FaceRestoreHelper(upscale, detector=StandInDetector(list(faces)), device='cpu', **kwargs)


def aligned(upscale=1, **kwargs):
    """A helper that has read the astronaut, found its face, cropped it and computed the paste-back matrices."""
    h = helper(upscale, **kwargs)
    h.read_image(astronaut())
    h.get_face_landmarks_5()
    h.align_warp_face()
    h.get_inverse_affine()
    return h


def transform(matrix, points):
    return points @ matrix[:, :2].T + matrix[:, 2]


def test_alignment_puts_the_landmarks_on_the_template():
    exact = similar_to_template(ASTRONAUT_LANDMARKS)
    assert np.abs(exact - ASTRONAUT_LANDMARKS).max() < 6  # the hand-picked points are nearly a similar copy
    for landmarks, tolerance in [(exact, 0.05), (ASTRONAUT_LANDMARKS, 12)]:
        h = helper(faces=[(ASTRONAUT_BOX, landmarks)])
        h.read_image(astronaut())
        assert h.get_face_landmarks_5() == 1
        h.align_warp_face()
        crop, matrix = h.cropped_faces[0], h.affine_matrices[0]
        assert crop.shape == (512, 512, 3) and crop.dtype == np.uint8 and matrix.shape == (2, 3)
        assert np.abs(transform(matrix, landmarks) - FFHQ_TEMPLATE_5).max() < tolerance
    # The crop is the input warped by the matrix: the eyes land on the template's eye points.
    for x, y in FFHQ_TEMPLATE_5[:2]:
        assert crop[int(y) - 3:int(y) + 4, int(x) - 3:int(x) + 4].mean() < 110  # dark iris, the skin is ~170
    assert crop[250:300, 240:270].mean() > 130


def test_face_size_and_crop_ratio_scale_the_template():
    h = helper(face_size=256, crop_ratio=(1.5, 1))
    assert h.face_size == (256, 384)
    assert np.allclose(h.face_template, FFHQ_TEMPLATE_5 / 2 + [0, 64])
    h.read_image(astronaut())
    h.get_face_landmarks_5()
    h.align_warp_face()
    assert h.cropped_faces[0].shape == (384, 256, 3)


def _round_trip(upscale, **kwargs):
    img = astronaut()
    h = aligned(upscale, **kwargs)
    for face in h.cropped_faces:
        h.add_restored_face(face)  # a restorer that changes nothing
    out = h.paste_faces_to_input_image()
    size = (512 * upscale, 512 * upscale)
    expected = img if upscale == 1 else cv2.resize(img, size, interpolation=cv2.INTER_LANCZOS4)
    inside = cv2.warpAffine(np.ones((512, 512), np.float32), h.inverse_affine_matrices[0], size) > 0
    near = cv2.dilate(inside.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0  # the blend's blur reaches ~2 px out
    return out, expected, inside, near


@pytest.mark.parametrize('upscale, mean_tol, p99_tol', [(1, 1.5, 10), (2, 3.5, 25)])
def test_pasting_an_unchanged_face_gives_back_the_photo(upscale, mean_tol, p99_tol):
    """Resampling twice (into the 512 crop, ~2.9x, and back) blurs a little; at 2x facexlib's paste offset
    (0.5 * upscale, half a pixel more than pixel centres imply) adds to it. Outside the face: exact."""
    out, expected, inside, near = _round_trip(upscale)
    assert out.shape == expected.shape and out.dtype == np.uint8
    diff = np.abs(out.astype(np.int16) - expected.astype(np.int16))
    assert diff[inside].mean() < mean_tol and np.percentile(diff[inside], 99) < p99_tol
    assert np.array_equal(out[~near], expected[~near])
    assert inside.mean() > 0.05


def test_parse_mask_limits_the_paste_to_the_parsed_region():
    seen = []

    def parser(face):
        seen.append((face.shape, face.dtype))
        mask = np.zeros((512, 512), np.float32)
        mask[200:400, 150:360] = 1  # eyes to chin
        return mask

    img = astronaut()
    h = aligned(1, use_parse=True, parser=parser)
    h.add_restored_face(np.full_like(h.cropped_faces[0], 255))  # a white "restored" face shows where it lands
    out = h.paste_faces_to_input_image()
    assert seen == [((512, 512, 3), np.uint8)]
    eye_x, eye_y = ASTRONAUT_LANDMARKS[2].astype(int)
    assert out[eye_y, eye_x].min() == 255  # the nose is inside the parsed region
    assert np.array_equal(out[:40], img[:40]) and np.array_equal(out[300:], img[300:])  # hair top, body: untouched


def test_no_face_pastes_nothing():
    img = astronaut()
    for upscale in (1, 2):
        h = helper(upscale, faces=[])
        h.read_image(img)
        assert h.get_face_landmarks_5() == 0
        h.align_warp_face()
        h.get_inverse_affine()
        assert h.cropped_faces == [] and h.affine_matrices == []
        out = h.paste_faces_to_input_image()
        assert np.array_equal(out, cv2.resize(img, (512 * upscale, ) * 2, interpolation=cv2.INTER_LANCZOS4))


def test_face_selection_and_clean_all():
    shift = np.array([150.0, 250.0])
    faces = [(ASTRONAUT_BOX + np.tile(shift, 2), ASTRONAUT_LANDMARKS + shift),
             (np.array([200.0, 200, 300, 300]), ASTRONAUT_LANDMARKS + [30, 150]),
             (np.array([0.0, 0, 60, 60]), ASTRONAUT_LANDMARKS - 150)]
    h = helper(faces=faces)
    h.read_image(astronaut())
    assert h.get_face_landmarks_5() == 3
    h.clean_all()
    assert h.all_landmarks_5 == [] and h.det_faces == []
    assert h.get_face_landmarks_5(only_center_face=True) == 1
    assert np.allclose(h.all_landmarks_5[0], ASTRONAUT_LANDMARKS + [30, 150])  # box centre (250, 250)
    h.clean_all()
    assert h.get_face_landmarks_5(only_keep_largest=True) == 1
    assert np.allclose(h.det_faces[0][:4], faces[0][0])
    h.clean_all()
    assert h.get_face_landmarks_5(eye_dist_threshold=50) == 0  # the eyes are ~44 px apart


def test_detection_on_a_resized_copy_is_scaled_back():
    h = helper()
    h.read_image(astronaut())
    assert h.get_face_landmarks_5(resize=256) == 1
    assert h.face_det.calls == [(256, 256, 3)]
    assert np.allclose(h.all_landmarks_5[0], ASTRONAUT_LANDMARKS * 2)


def test_gray_and_alpha_inputs_are_read_as_bgr():
    img = astronaut()
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    h = helper()
    for value in (gray, gray[:, :, None]):
        h.read_image(value)
        assert h.input_img.shape == (512, 512, 3) and np.array_equal(h.input_img[:, :, 1], gray)
    h.read_image(np.concatenate([img, np.full_like(img[:, :, :1], 7)], axis=2))
    assert np.array_equal(h.input_img, img)


def test_pad_blur_pads_a_face_at_the_edge():
    h = helper(pad_blur=True, faces=[(ASTRONAUT_BOX - 150, ASTRONAUT_LANDMARKS - [150, 80])])
    h.read_image(astronaut())
    assert h.get_face_landmarks_5() == 1
    padded = h.pad_input_imgs[0]
    assert padded.shape[0] > 512 and padded.shape[1] > 512
    h.align_warp_face()
    assert h.cropped_faces[0].dtype == np.uint8
    assert np.abs(transform(h.affine_matrices[0], h.all_landmarks_5[0]) - FFHQ_TEMPLATE_5).max() < 12


def test_retinaface_offline_error_names_the_weight_file(isolated_weights):
    with pytest.raises(WeightsNotFoundError, match='detection_Resnet50_Final.pth'):
        RetinaFaceDetector(device='cpu')
    with pytest.raises(WeightsNotFoundError, match='detection_mobilenet0.25_Final.pth'):
        build_detector('retinaface_mobile0.25', device='cpu')
    with pytest.raises(ValueError, match='yunet'):
        build_detector('dlib')


def test_retinaface_loads_local_weights_with_module_prefix(isolated_weights):
    from facexlib.detection.retinaface import RetinaFace
    torch.manual_seed(0)
    net = RetinaFace(network_name='mobile0.25', device=torch.device('cpu'))
    path = isolated_weights / 'detection_mobilenet0.25_Final.pth'
    torch.save({f'module.{k}': v for k, v in net.state_dict().items()}, path)
    detector = RetinaFaceDetector('retinaface_mobile0.25', weights=str(path), device='cpu', conf_threshold=0.0)
    for key, value in net.state_dict().items():
        assert torch.equal(detector.net.state_dict()[key], value)
    faces = detector.detect(np.zeros((64, 64, 3), np.uint8))
    assert faces and set(faces[0]) == {'box', 'score', 'landmarks'}
    assert faces[0]['box'].shape == (4, ) and faces[0]['landmarks'].shape == (5, 2)
    assert faces[0]['score'] >= faces[-1]['score']


class FakeYuNet:
    """cv2.FaceDetectorYN stand-in: one face, with YuNet's row layout."""

    def __init__(self, rows):
        self.rows, self.sizes = rows, []

    def setInputSize(self, size):  # noqa: N802 - OpenCV's name
        self.sizes.append(tuple(size))

    def detect(self, img):
        return 1, self.rows


def test_yunet_rows_become_facexlib_faces(tmp_path, monkeypatch):
    # YuNet: x, y, w, h, right eye (the subject's, on the image left), left eye, nose, right / left mouth corner,
    # score. facexlib's order is the same points in the same order: image-left eye first.
    row = np.array([[160, 50, 120, 140, 202.5, 101, 246, 104, 222.5, 126, 202.5, 141, 245, 142.5, 0.93],
                    [0, 0, 10, 10, 1, 1, 2, 1, 1.5, 2, 1, 3, 2, 3, 0.95]], np.float32)
    fake = FakeYuNet(row)
    created = []
    monkeypatch.setattr(cv2.FaceDetectorYN, 'create', lambda *args: created.append(args) or fake, raising=False)
    with pytest.raises(FileNotFoundError, match='face_detection_yunet'):
        YuNetDetector(tmp_path / 'missing.onnx')
    model = tmp_path / 'yunet.onnx'
    model.write_bytes(b'onnx')
    detector = build_detector('yunet', model_path=model, score_threshold=0.8)
    assert created[0][0] == str(model) and created[0][3] == 0.8
    faces = detector.detect(np.zeros((240, 320, 3), np.uint8))
    assert fake.sizes == [(320, 240)]
    assert [round(f['score'], 2) for f in faces] == [0.95, 0.93]
    face = faces[1]
    assert np.allclose(face['box'], [160, 50, 280, 190])
    assert np.allclose(face['landmarks'], ASTRONAUT_LANDMARKS)
    fake.rows = None
    assert detector.detect(np.zeros((8, 8, 3), np.uint8)) == []
    # Through the helper: the YuNet face aligns like the stand-in's.
    h = FaceRestoreHelper(1, use_parse=False, detector=detector)
    fake.rows = row[:1]
    h.read_image(astronaut())
    assert h.get_face_landmarks_5() == 1
    assert np.allclose(h.all_landmarks_5[0], ASTRONAUT_LANDMARKS)


def test_default_models_are_built_lazily(isolated_weights, monkeypatch):
    h = FaceRestoreHelper(1, device='cpu')  # no detector, no parser: nothing built or looked up yet
    assert h._detector is None and h._parser is None
    with pytest.raises(WeightsNotFoundError, match='parsing_parsenet.pth'):
        h.face_parse
    assert PRETRAINED[fh.PARSENET_FILE].url.endswith('/v0.2.2/parsing_parsenet.pth')


def test_paste_works_in_the_face_region_and_matches_the_whole_image_definition():
    """The paste warps each face only onto the part of the output it can reach; the result is the definition
    (mask * warped face + (1 - mask) * enlarged photo over the whole image) up to OpenCV's warp rounding. A face
    that lies wholly outside the photo changes nothing."""

    def parser(face):
        mask = np.zeros((512, 512), np.float32)
        mask[150:420, 120:400] = 1
        return mask

    img = astronaut()
    h = aligned(2, use_parse=True, parser=parser)
    face = 255 - h.cropped_faces[0]
    h.add_restored_face(face)
    out = h.paste_faces_to_input_image()
    size = (img.shape[1] * 2, img.shape[0] * 2)
    inverse = h.inverse_affine_matrices[0] + [[0, 0, 1], [0, 0, 1]]  # facexlib's half-pixel offset at 2x
    mask = np.clip(cv2.warpAffine(h._parse_mask(face), inverse, size, flags=cv2.INTER_LINEAR), 0, 1)[:, :, None]
    base = cv2.resize(img, size, interpolation=cv2.INTER_LANCZOS4).astype(np.float64)
    expected = np.rint(mask * cv2.warpAffine(face, inverse, size) + (1 - mask) * base)
    diff = np.abs(out - expected)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3

    h.inverse_affine_matrices[0] = h.inverse_affine_matrices[0] + [[0, 0, 5000], [0, 0, 0]]  # far off to the right
    assert np.array_equal(h.paste_faces_to_input_image(), cv2.resize(img, size, interpolation=cv2.INTER_LANCZOS4))


def test_landmarks_detector_reports_the_given_faces():
    two = np.stack([ASTRONAUT_LANDMARKS, ASTRONAUT_LANDMARKS + 100])
    faces = LandmarksDetector(two).detect(astronaut())
    assert len(faces) == 2 and all(face['score'] == 1.0 for face in faces)
    assert np.array_equal(faces[1]['landmarks'], ASTRONAUT_LANDMARKS + 100)
    assert np.array_equal(faces[0]['box'], np.r_[ASTRONAUT_LANDMARKS.min(0), ASTRONAUT_LANDMARKS.max(0)])
    assert len(LandmarksDetector(ASTRONAUT_LANDMARKS).detect(None)) == 1  # one (5, 2) face


def test_save_paths_write_the_crops_and_the_pasted_photo(tmp_path):
    h = helper(1)
    h.read_image(astronaut())
    h.get_face_landmarks_5()
    h.align_warp_face(save_cropped_path=str(tmp_path / 'crops' / 'astronaut.png'))
    h.get_inverse_affine()
    h.add_restored_face(h.cropped_faces[0])
    out = h.paste_faces_to_input_image(save_path=str(tmp_path / 'pasted' / 'astronaut.jpg'))
    assert np.array_equal(cv2.imread(str(tmp_path / 'crops' / 'astronaut_00.png')), h.cropped_faces[0])
    assert np.array_equal(cv2.imread(str(tmp_path / 'pasted' / 'astronaut.png')), out)  # save_ext decides the format
