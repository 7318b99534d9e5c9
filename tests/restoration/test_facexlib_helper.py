"""The project's FaceRestoreHelper is facexlib's: a subclass of facexlib's class whose attributes and methods work as
there (facexlib's own method bodies run on it and agree with the project's), with ``face_det`` / ``face_parse`` torch
modules that ``.to(device)`` moves, built lazily from weights found in ``model_rootpath`` or the usual folders."""
import cv2
import numpy as np
import pytest
import skimage.data
import torch
from torch import nn

from gfpgan.restoration import FaceRestoreHelper, GFPGANer, ParseNetParser, RetinaFaceDetector
from gfpgan.restoration.face_helper import DetectorModule, ParserModule

facexlib_helper = pytest.importorskip('facexlib.utils.face_restoration_helper')
FacexlibHelper = facexlib_helper.FaceRestoreHelper

LANDMARKS = np.array([[202.5, 101.0], [246.0, 104.0], [222.5, 126.0], [202.5, 141.0], [245.0, 142.5]])
BOX = np.array([165.0, 55.0, 285.0, 190.0])


def astronaut():
    return np.ascontiguousarray(skimage.data.astronaut()[:, :, ::-1])  # BGR


class StandIn:
    """Fixed faces whatever the image (with ``weak``, a second one scoring below facexlib's 0.97); counts calls."""

    def __init__(self, weak=True):
        self.calls, self.weak = 0, weak

    def detect(self, img):
        self.calls += 1
        faces = [dict(box=BOX, score=0.99, landmarks=LANDMARKS)]
        return faces + [dict(box=BOX + 200, score=0.9, landmarks=LANDMARKS + 200)] if self.weak else faces


@pytest.fixture(scope='module')
def model_root(tmp_path_factory):
    """A folder with random RetinaFace MobileNet-0.25 and ParseNet weights under their release names."""
    from facexlib.detection.retinaface import RetinaFace
    from facexlib.parsing.parsenet import ParseNet
    root = tmp_path_factory.mktemp('facexlib_weights')
    torch.manual_seed(0)
    torch.save(ParseNet(in_size=512, out_size=512, parsing_ch=19).state_dict(), root / 'parsing_parsenet.pth')
    retina = RetinaFace(network_name='mobile0.25', device=torch.device('cpu'))
    torch.save({f'module.{k}': v for k, v in retina.state_dict().items()}, root / 'detection_mobilenet0.25_Final.pth')
    return root


def test_the_helper_is_facexlibs_class_without_running_its_constructor(isolated_weights):
    helper = FaceRestoreHelper(2, device='cpu')  # facexlib's constructor would load (download) both networks here
    assert isinstance(helper, FacexlibHelper)
    assert helper._detector is None and helper._parser is None
    restorer = GFPGANer(net=nn.Identity(), upscale=1, device='cpu', det_model=None, detector=StandIn())
    assert isinstance(restorer.face_helper, FacexlibHelper)
    # facexlib's constructor arguments and attributes
    helper = FaceRestoreHelper(2, 256, (1.5, 1.25), 'retinaface_mobile0.25', 'jpg', True, False, False, 'cpu', None)
    assert helper.face_size == (320, 384) and helper.crop_ratio == (1.5, 1.25) and helper.save_ext == 'jpg'
    assert helper.template_3points and not helper.pad_blur and not helper.use_parse
    assert np.allclose(helper.face_template, [[96, 120 + 64], [159.5, 120 + 64], [128.5, 185.5 + 64]]
                       + np.array([32, 0]))
    for name in ('all_landmarks_5', 'det_faces', 'affine_matrices', 'inverse_affine_matrices', 'cropped_faces',
                 'restored_faces', 'pad_input_imgs'):
        assert getattr(helper, name) == []
    assert FaceRestoreHelper(1, pad_blur=True, template_3points=True).template_3points is False
    helper.set_upscale_factor(3)
    assert helper.upscale_factor == 3


def test_face_det_and_face_parse_are_modules_that_follow_to(model_root, isolated_weights):
    helper = FaceRestoreHelper(1, det_model='retinaface_mobile0.25', use_parse=True, device='cpu',
                               model_rootpath=model_root)
    det, parse = helper.face_det, helper.face_parse
    assert isinstance(det, nn.Module) and isinstance(det, RetinaFaceDetector)
    assert isinstance(parse, nn.Module) and isinstance(parse, ParseNetParser)
    assert det.to('cpu') is det and parse.to('cpu') is parse
    assert {name.split('.')[0] for name, _ in det.named_parameters()} == {'net'}
    assert sum(p.numel() for p in parse.parameters()) > 1e7  # ParseNet itself is the submodule
    # .to() carries facexlib's plain-attribute device state along (input device, mean, half flag)
    det.to(torch.device('cpu'))
    assert det.device == torch.device('cpu') and det.net.mean_tensor.device.type == 'cpu'
    det.half()
    assert det.net.half_inference and next(det.net.parameters()).dtype == torch.float16
    det.float()
    assert not det.net.half_inference
    # facexlib's detector API: (N, 15) rows
    rows = det.detect_faces(np.zeros((64, 64, 3), np.uint8), 0.0)
    assert rows.ndim == 2 and rows.shape[1] == 15
    # facexlib's parser API: a (B, 3, 512, 512) tensor in [-1, 1] -> (logits, image)
    out = parse(torch.zeros(1, 3, 512, 512))
    assert out[0].shape == (1, 19, 512, 512)
    assert parse.face_mask(np.zeros((512, 512, 3), np.uint8)).shape == (512, 512)


def test_stand_ins_are_wrapped_as_modules_that_keep_their_attributes():
    standin = StandIn()
    helper = FaceRestoreHelper(1, device='cpu', detector=standin, parser=lambda face: np.ones(face.shape[:2]))
    assert isinstance(helper.face_det, DetectorModule) and isinstance(helper.face_parse, ParserModule)
    assert helper.face_det.to('cpu') is helper.face_det and helper.face_parse.to('cpu') is helper.face_parse
    rows = helper.face_det.detect_faces(astronaut(), 0.97)  # facexlib's call: faces scoring at most 0.97 dropped
    assert rows.shape == (1, 15) and np.allclose(rows[0, 5:], LANDMARKS.reshape(-1))
    assert helper.face_det.detect_faces(astronaut()).shape == (2, 15)
    assert helper.face_det.calls == 2  # the stand-in's own attribute
    net = nn.Conv2d(3, 19, 1)
    helper.face_parse = net  # assigned as in facexlib: a parsing network, used facexlib's way
    assert helper.face_parse.parser is net and helper.face_parse(torch.zeros(1, 3, 8, 8)).shape == (1, 19, 8, 8)
    from facexlib.detection.retinaface import RetinaFace
    helper.face_det = RetinaFace(network_name='mobile0.25', device=torch.device('cpu'))  # facexlib's own network
    assert isinstance(helper.face_det, nn.Module) and helper.face_det.detect(np.zeros((32, 32, 3), np.uint8)) == []
    with pytest.raises(TypeError, match='detect'):
        helper.face_det = object()


def _run(helper, methods, img, restored, tmp_path, tag):
    """facexlib's pipeline through ``methods`` (a class whose functions are called on ``helper``)."""
    methods.read_image(helper, img)
    count = methods.get_face_landmarks_5(helper, eye_dist_threshold=5)
    methods.align_warp_face(helper, save_cropped_path=str(tmp_path / f'{tag}_crop.png'))
    methods.get_inverse_affine(helper, str(tmp_path / f'{tag}_inverse.pth'))
    for face in helper.cropped_faces:
        methods.add_restored_face(helper, restored(face))
    return count, methods.paste_faces_to_input_image(helper, save_path=str(tmp_path / f'{tag}_out.png'))


@pytest.mark.parametrize('upscale', [1, 2])
def test_facexlibs_own_methods_run_on_the_helper_and_agree_with_the_projects(tmp_path, upscale):
    """Each of facexlib's method bodies, called on the project's helper with a stand-in detector, gives what the
    project's methods give: the same faces, matrices and crops, the same pasted photo up to warp rounding."""
    img = astronaut()
    path = tmp_path / 'astronaut.png'
    cv2.imwrite(str(path), img)
    restored = lambda face: 255 - face  # noqa: E731
    ours = FaceRestoreHelper(upscale, device='cpu', detector=StandIn(weak=False))
    theirs = FaceRestoreHelper(upscale, device='cpu', detector=StandIn(weak=False))
    count, out = _run(ours, FaceRestoreHelper, str(path), restored, tmp_path, 'ours')
    their_count, their_out = _run(theirs, FacexlibHelper, str(path), restored, tmp_path, 'theirs')
    assert count == their_count == 1
    assert np.array_equal(ours.input_img, theirs.input_img)
    assert np.allclose(ours.all_landmarks_5, theirs.all_landmarks_5)
    assert np.allclose(np.stack(ours.det_faces), np.stack(theirs.det_faces), atol=1e-4)
    assert np.allclose(ours.affine_matrices, theirs.affine_matrices)
    assert all(np.array_equal(a, b) for a, b in zip(ours.cropped_faces, theirs.cropped_faces))
    assert out.shape == their_out.shape == (512 * upscale, 512 * upscale, 3) and out.dtype == their_out.dtype
    diff = np.abs(out.astype(int) - their_out)  # facexlib truncates where the project rounds
    assert diff.max() <= 1 and (diff > 0).mean() < 0.5
    for tag in ('ours', 'theirs'):
        assert (tmp_path / f'{tag}_crop_00.png').is_file() and (tmp_path / f'{tag}_inverse_00.pth').is_file()
        assert (tmp_path / f'{tag}_out.png').is_file()
    assert np.allclose(torch.load(tmp_path / 'ours_inverse_00.pth', weights_only=True),
                       torch.load(tmp_path / 'theirs_inverse_00.pth', weights_only=False))
    for helper in (ours, theirs):
        FacexlibHelper.clean_all(helper)
        assert helper.all_landmarks_5 == helper.cropped_faces == helper.restored_faces == []


def test_facexlibs_parse_paste_runs_on_the_helper_with_parsenet(model_root, isolated_weights):
    """facexlib's paste with ``use_parse`` calls ``face_parse`` on a normalised tensor: the project's ParseNet module
    answers it, and the project's paste (same mask classes and blur) gives the same photo."""
    img = astronaut()[96:352, 96:352]
    helpers = []
    for _ in range(2):
        helper = FaceRestoreHelper(1, face_size=256, use_parse=True, device='cpu', detector=StandIn(),
                                   model_rootpath=model_root)
        helper.read_image(img)
        helper.all_landmarks_5 = [(LANDMARKS - 96) * 1.0]
        helper.align_warp_face()
        helper.get_inverse_affine()
        helper.add_restored_face(255 - helper.cropped_faces[0])
        helpers.append(helper)
    mask = helpers[0]._parse_mask(helpers[0].restored_faces[0])
    assert 0.5 < mask.mean() < 0.95  # this random ParseNet calls most of the face 'face', not all of it
    ours = helpers[0].paste_faces_to_input_image()
    theirs = FacexlibHelper.paste_faces_to_input_image(helpers[1])
    diff = np.abs(ours.astype(int) - theirs)  # facexlib truncates where the project rounds
    assert diff.max() <= 1 and (diff > 0).mean() < 0.6
    assert np.abs(ours.astype(int) - img).mean() > 10  # the (inverted) face was pasted
