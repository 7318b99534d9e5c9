"""Face detection, FFHQ alignment and paste-back: facexlib's ``FaceRestoreHelper`` (a subclass of it when facexlib is
installed) that GFPGANer drives, with detectors behind one ``detect(img)`` method, ``face_det`` / ``face_parse`` as
torch modules, and weights resolved offline-first."""
import os

import cv2
import numpy as np
import torch
from torch import nn

from gfpgan.utils.checkpoint import load_network
from gfpgan.utils.device import conv_memory_format, resolve_device
from gfpgan.utils.img_util import imwrite
from gfpgan.utils.optional import import_optional
from gfpgan.utils.weights import resolve_weights

__all__ = [
    'FFHQ_TEMPLATE_5', 'RetinaFaceDetector', 'YuNetDetector', 'LandmarksDetector', 'build_detector', 'ParseNetParser',
    'DetectorModule', 'ParserModule', 'FaceRestoreHelper', 'required_weights', 'yunet_problem'
]


def _facexlib_helper_class():
    """facexlib's FaceRestoreHelper, the base class of this module's helper when facexlib is installed (importing it
    builds nothing); ``object`` without facexlib (or with one that does not import), so the core needs no facexlib."""
    try:
        from facexlib.utils.face_restoration_helper import FaceRestoreHelper as FacexlibHelper
    except Exception:  # not installed, or installed but broken: the project's helper stands alone
        return object
    return FacexlibHelper


# 5 landmarks (left eye, right eye, nose, left / right mouth corner; left/right as in the image) of FFHQ at 512.
FFHQ_TEMPLATE_5 = np.array([[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935],
                            [201.26117, 371.41043], [313.08905, 371.15118]])
FFHQ_TEMPLATE_3 = np.array([[192, 240], [319, 240], [257, 371]], dtype=np.float64)  # eyes and mouth centre
CROP_BORDER_VALUE = (135, 133, 132)  # gray outside the source image, in BGR
RETINAFACE_MODELS = {  # detector name: (facexlib network_name, weight file in the pretrained catalogue)
    'retinaface_resnet50': ('resnet50', 'detection_Resnet50_Final.pth'),
    'retinaface_mobile0.25': ('mobile0.25', 'detection_mobilenet0.25_Final.pth'),
}
PARSENET_FILE = 'parsing_parsenet.pth'
YUNET_FILE = 'face_detection_yunet_2023mar.onnx'
# ParseNet's 19 classes that belong to the pasted face region (background, neck, cloth, hair, hat excluded).
PARSE_FACE_CLASSES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 15)
BORDER_MODES = {'constant': cv2.BORDER_CONSTANT, 'reflect101': cv2.BORDER_REFLECT101, 'reflect': cv2.BORDER_REFLECT}


def _face(box, score, landmarks):
    return dict(
        box=np.asarray(box, dtype=np.float64).reshape(4),
        score=float(score),
        landmarks=np.asarray(landmarks, dtype=np.float64).reshape(5, 2))


def _rows_to_faces(rows):
    """facexlib's (N, 15) detection rows -> [dict(box, score, landmarks)], in their order."""
    return [_face(row[0:4], row[4], row[5:15]) for row in np.asarray(rows, dtype=np.float64).reshape(-1, 15)]


def _faces_to_rows(faces):
    """[dict(box, score, landmarks)] -> facexlib's (N, 15) float32 rows: x1 y1 x2 y2, score, 5 (x, y)."""
    rows = [np.concatenate([np.asarray(f['box'], np.float64).reshape(4), [float(f['score'])],
                            np.asarray(f['landmarks'], np.float64).reshape(10)]) for f in faces]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 15)


class _FollowsDevice(nn.Module):
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


class RetinaFaceDetector(_FollowsDevice):
    """facexlib's RetinaFace (ResNet-50 or MobileNet-0.25) with weights resolved by ``resolve_weights`` and
    loaded without executing pickled code; nothing is downloaded unless the file is missing and
    ``allow_download``. An ``nn.Module`` holding the network as ``net``: ``.to(device)`` moves detection."""

    def __init__(self,
                 model='retinaface_resnet50',
                 weights=None,
                 device=None,
                 half=False,
                 conf_threshold=0.97,
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
        return _rows_to_faces(self.detect_faces(img))

    def forward(self, inputs):
        """The network's raw forward pass (facexlib's RetinaFace.forward)."""
        return self.net(inputs)


class LandmarksDetector:
    """A detector for faces whose 5 landmarks are already known (another detector's, a dataset's): ``detect``
    reports them whatever the image, each with its landmarks' bounding box and score 1."""

    def __init__(self, landmarks):
        self.landmarks = np.asarray(landmarks, dtype=np.float64).reshape(-1, 5, 2)  # (5, 2) or (N, 5, 2)

    def detect(self, img):
        return [_face(np.concatenate([points.min(0), points.max(0)]), 1.0, points) for points in self.landmarks]


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
            faces.append(_face((x, y, x + bw, y + bh), row[14], row[4:14]))
        return sorted(faces, key=lambda face: -face['score'])


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


def required_weights(det_model='retinaface_resnet50', use_parse=True):
    """(file name, what it is) of the pretrained catalogue files a FaceRestoreHelper with this detector and parsing
    loads (YuNet's file is a path the user gives: ``yunet_problem`` checks it)."""
    files = []
    if det_model in RETINAFACE_MODELS:
        files.append((RETINAFACE_MODELS[det_model][1], f'the face detector ({det_model})'))
    if use_parse:
        files.append((PARSENET_FILE, 'the face parser (ParseNet paste-back mask)'))
    return files


def build_detector(name, **kwargs):
    """'retinaface_resnet50' | 'retinaface_mobile0.25' (RetinaFaceDetector kwargs) | 'yunet' (YuNetDetector kwargs)."""
    if name in RETINAFACE_MODELS:
        return RetinaFaceDetector(model=name, **kwargs)
    if name == 'yunet':
        return YuNetDetector(**kwargs)
    raise ValueError(f"Unknown face detector '{name}'; choose one of {', '.join([*RETINAFACE_MODELS, 'yunet'])}.")


class DetectorModule(_FollowsDevice):
    """Any detector as the ``nn.Module`` that ``FaceRestoreHelper.face_det`` is, with both interfaces:
    ``detect(img) -> [dict(box, score, landmarks)]`` (this project's) and ``detect_faces(img, conf_threshold)`` ->
    (N, 15) rows (facexlib's). Wraps an object with either method (YuNetDetector, LandmarksDetector, a stand-in,
    facexlib's own RetinaFace); a network inside is a submodule that ``.to(device)`` moves. Other attributes are the
    wrapped detector's."""

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
            return _rows_to_faces(self.detector.detect_faces(img, 0.97))

    def detect_faces(self, img, conf_threshold=None):
        """facexlib's rows (N, 15) = box x1 y1 x2 y2, score, 5 (x, y) landmarks; faces scoring at most
        ``conf_threshold`` are dropped (None: those the detector reports with its own threshold)."""
        if hasattr(self.detector, 'detect_faces'):
            with torch.no_grad():
                rows = self.detector.detect_faces(img, 0.97 if conf_threshold is None else conf_threshold)
            return np.asarray(rows, dtype=np.float64).reshape(-1, 15)
        rows = _faces_to_rows(self.detector.detect(img)).astype(np.float64)
        return rows if conf_threshold is None else rows[rows[:, 4] > conf_threshold]

    def forward(self, img):
        return self.detect(img)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get('_modules', {}).get('detector', self.__dict__.get('detector'))
            if inner is None or name.startswith('__'):
                raise
            return getattr(inner, name)


def as_detector_module(detector):
    """``detector`` itself if it is already an ``nn.Module`` with ``detect`` (RetinaFaceDetector, DetectorModule),
    else wrapped in a DetectorModule."""
    if isinstance(detector, nn.Module) and hasattr(detector, 'detect') and hasattr(detector, 'detect_faces'):
        return detector
    return DetectorModule(detector)


def _parse_face_mask(labels):
    """ParseNet's (H, W) class map -> float32 mask in {0, 1} of the face region (``PARSE_FACE_CLASSES``)."""
    return np.isin(labels, PARSE_FACE_CLASSES).astype(np.float32)


def _face_tensor(face, device):
    """(S, S, 3) BGR uint8 face -> (1, 3, 512, 512) RGB float tensor in [-1, 1] on ``device`` (facexlib's input)."""
    face = cv2.resize(face, (512, 512), interpolation=cv2.INTER_LINEAR)
    x = torch.from_numpy(face[:, :, ::-1].astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
    return x.to(device)


class ParseNetParser(nn.Module):
    """facexlib's ParseNet as an ``nn.Module`` (the network is the submodule ``net``; ``.to(device)`` moves it).

    Called with a (512, 512, 3) BGR uint8 face (or ``face_mask(face)``): the (512, 512) float32 mask in {0, 1} of the
    face region (skin, brows, eyes, ears, nose, mouth, lips). Called with a (B, 3, 512, 512) RGB tensor in [-1, 1]:
    ParseNet's own output (parsing logits, image), as facexlib's ``face_parse`` is called. ``net``: an already built
    ParseNet (then no weights are read)."""

    def __init__(self, weights=None, device=None, allow_download=True, net=None):
        super().__init__()
        if net is None:
            path = resolve_weights(weights or PARSENET_FILE, download=allow_download)
            ParseNet = import_optional('facexlib.parsing.parsenet', 'The ParseNet paste-back mask (use_parse)').ParseNet
            net = ParseNet(in_size=512, out_size=512, parsing_ch=19)
            load_network(net, path, param_key=None)
        self.net = net.eval()
        self.to(resolve_device(device))

    @property
    def device(self):
        param = next(self.net.parameters(), None)
        return param.device if param is not None else torch.device('cpu')

    def face_mask(self, face):
        x = _face_tensor(face, self.device)
        memory_format = conv_memory_format(self.device)
        with torch.no_grad():
            labels = self.net(x.contiguous(memory_format=memory_format))[0].argmax(dim=1)[0].cpu().numpy()
        return _parse_face_mask(labels)

    def forward(self, x):
        if isinstance(x, np.ndarray):
            return self.face_mask(x)
        return self.net(x)


class ParserModule(nn.Module):
    """A face-mask callable (face (512, 512, 3) BGR uint8 -> (512, 512) mask in [0, 1]) as the ``nn.Module`` that
    ``FaceRestoreHelper.face_parse`` is; a network given instead is used facexlib's way (an RGB tensor in [-1, 1]
    in, ``[0]`` of its output the parsing logits) and is a submodule that ``.to(device)`` moves. Other attributes
    are the wrapped parser's."""

    def __init__(self, parser):
        super().__init__()
        if not callable(parser):
            raise TypeError(f'A face parser must be callable; got {type(parser).__name__}.')
        self.parser = parser

    def face_mask(self, face):
        if isinstance(self.parser, nn.Module):
            param = next(self.parser.parameters(), None)
            device = param.device if param is not None else torch.device('cpu')
            with torch.no_grad():
                labels = self.parser(_face_tensor(face, device))[0].argmax(dim=1)[0].cpu().numpy()
            return _parse_face_mask(labels)
        return self.parser(face)

    def forward(self, x):
        if isinstance(x, np.ndarray):
            return self.face_mask(x)
        return self.parser(x)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            inner = self.__dict__.get('_modules', {}).get('parser', self.__dict__.get('parser'))
            if inner is None or name.startswith('__'):
                raise
            return getattr(inner, name)


def as_parser_module(parser):
    """``parser`` itself if it is a module with ``face_mask`` (ParseNetParser, ParserModule), else wrapped in a
    ParserModule."""
    if isinstance(parser, nn.Module) and hasattr(parser, 'face_mask'):
        return parser
    return ParserModule(parser)


def _center_index(boxes, h, w):
    centers = np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2], axis=1)
    return int(np.argmin(np.linalg.norm(centers - np.array([w / 2, h / 2]), axis=1)))


def _largest_index(boxes, h, w):
    x1, x2 = np.clip(boxes[:, 0], 0, w), np.clip(boxes[:, 2], 0, w)
    y1, y2 = np.clip(boxes[:, 1], 0, h), np.clip(boxes[:, 3], 0, h)
    return int(np.argmax((x2 - x1) * (y2 - y1)))


def _footprint(inverse, face_shape, out_size):
    """((x0, y0), (x1, y1)): the box of the output (``out_size`` = (w, h)) that a face of ``face_shape`` warped by
    ``inverse`` can touch, widened by a quarter of its side plus 8 pixels for the paste blend (its erosion and blur
    reach a tenth of the face's side), clipped to the image."""
    h, w = face_shape[:2]
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ np.asarray(inverse).T
    lo, hi = corners.min(0), corners.max(0)
    margin = int(np.ceil(0.25 * (hi - lo).max())) + 8
    x0, y0 = (max(int(np.floor(v)) - margin, 0) for v in lo)
    x1, y1 = min(int(np.ceil(hi[0])) + margin, out_size[0]), min(int(np.ceil(hi[1])) + margin, out_size[1])
    return (min(x0, x1), min(y0, y1)), (x1, y1)


class FaceRestoreHelper(_facexlib_helper_class()):
    """Detect faces, warp each onto the FFHQ template (``face_size`` square), and paste restored faces
    back into the input upscaled by ``upscale_factor``: facexlib's ``FaceRestoreHelper`` (a subclass of it when
    facexlib is installed, with its constructor arguments, attributes and methods), built without facexlib's
    constructor so nothing is loaded or downloaded until it is needed.

    Kept from this project where it is safer or faster: weights are resolved offline-first and loaded without
    executing pickled code; paste-back works only on the part of the output each face reaches and never changes the
    stored inverse matrices; with ``template_3points`` the third point is the mouth centre the template means.

    ``face_det``: an ``nn.Module`` with facexlib's ``detect_faces(img, conf_threshold)`` and this project's
    ``detect(img) -> [dict(box, score, landmarks)]``; ``detector`` may be any object with one of them (default:
    RetinaFace from ``det_model``, built on first use). ``face_parse``: an ``nn.Module`` (facexlib's ParseNet unless
    ``parser`` gives a callable (512, 512, 3) BGR uint8 -> (512, 512) face mask in [0, 1] or a parsing network), used
    when ``use_parse``. Both follow ``.to(device)``. ``model_rootpath``: a folder searched first for their weights.
    """

    def __init__(self,
                 upscale_factor,
                 face_size=512,
                 crop_ratio=(1, 1),
                 det_model='retinaface_resnet50',
                 save_ext='png',
                 template_3points=False,
                 pad_blur=False,
                 use_parse=False,
                 device=None,
                 model_rootpath=None,
                 detector=None,
                 parser=None):
        # facexlib's __init__ is not called: it would load (or download) both networks now, unsafely.
        if crop_ratio[0] < 1 or crop_ratio[1] < 1:
            raise ValueError(f'crop_ratio must be >= 1 in both directions, got {crop_ratio}.')
        self.upscale_factor = upscale_factor
        self.crop_ratio = tuple(crop_ratio)  # (h, w)
        self.face_size = (int(face_size * crop_ratio[1]), int(face_size * crop_ratio[0]))  # (w, h) for cv2
        self.template_3points = bool(template_3points) and not pad_blur
        template = (FFHQ_TEMPLATE_3 if self.template_3points else FFHQ_TEMPLATE_5) * (face_size / 512.0)
        template[:, 1] += face_size * (crop_ratio[0] - 1) / 2
        template[:, 0] += face_size * (crop_ratio[1] - 1) / 2
        self.face_template = template
        self.det_model = det_model
        self.save_ext = save_ext
        self.pad_blur = pad_blur
        self.use_parse = use_parse
        self.device = resolve_device(device)
        self.model_rootpath = None if model_rootpath is None else os.fspath(model_rootpath)
        self._detector = None if detector is None else as_detector_module(detector)
        self._parser = None if parser is None else as_parser_module(parser)
        self.input_img = None
        self.clean_all()

    def _weights(self, filename):
        """The file in ``model_rootpath`` when it is there, else None (``resolve_weights`` searches the rest)."""
        if self.model_rootpath is not None and os.path.isfile(os.path.join(self.model_rootpath, filename)):
            return os.path.join(self.model_rootpath, filename)
        return None

    @property
    def face_det(self):
        """The detector module, built from ``det_model`` on first use."""
        if self._detector is None:
            if self.det_model in RETINAFACE_MODELS:
                weights = self._weights(RETINAFACE_MODELS[self.det_model][1])
                self._detector = RetinaFaceDetector(self.det_model, weights=weights, device=self.device)
            else:
                self._detector = as_detector_module(build_detector(self.det_model))
        return self._detector

    @face_det.setter
    def face_det(self, detector):
        self._detector = None if detector is None else as_detector_module(detector)

    @property
    def face_parse(self):
        """The face-region parser module, facexlib's ParseNet unless one was given; built on first use."""
        if self._parser is None:
            self._parser = ParseNetParser(weights=self._weights(PARSENET_FILE), device=self.device)
        return self._parser

    @face_parse.setter
    def face_parse(self, parser):
        self._parser = None if parser is None else as_parser_module(parser)

    def set_upscale_factor(self, upscale_factor):
        self.upscale_factor = upscale_factor

    def clean_all(self):
        self.all_landmarks_5 = []
        self.det_faces = []
        self.affine_matrices = []
        self.inverse_affine_matrices = []
        self.cropped_faces = []
        self.restored_faces = []
        self.pad_input_imgs = []

    def read_image(self, img):
        """Take an image path or array as the input: BGR uint8; gray becomes 3 channels, alpha is dropped
        here (16-bit images are brought to 0..255)."""
        if isinstance(img, (str, os.PathLike)):
            path = os.fspath(img)
            img = cv2.imread(path, cv2.IMREAD_UNCHANGED)
            if img is None:
                raise FileNotFoundError(f"Cannot read image '{path}'.")
        img = np.asarray(img)
        if img.dtype != np.uint8:
            img = np.clip(img / 257.0 if img.max() > 256 else img, 0, 255).round().astype(np.uint8)
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[:, :, 0]
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif img.shape[2] == 4:
            img = img[:, :, 0:3]
        self.input_img = np.ascontiguousarray(img)

    def get_face_landmarks_5(self,
                             only_keep_largest=False,
                             only_center_face=False,
                             resize=None,
                             blur_ratio=0.01,
                             eye_dist_threshold=None):
        """Detect faces in the input (resized so its short side is ``resize`` for detection, if given) and
        keep their 5 landmarks; faces whose eyes are closer than ``eye_dist_threshold`` px are dropped.
        Returns the number of faces kept."""
        scale, img = 1.0, self.input_img
        if resize is not None:
            h, w = img.shape[0:2]
            scale = min(h, w) / resize
            img = cv2.resize(img, (int(w / scale), int(h / scale)), interpolation=cv2.INTER_LANCZOS4)
        for face in self.face_det.detect(img):
            landmarks = np.asarray(face['landmarks'], dtype=np.float64).reshape(5, 2) * scale
            if eye_dist_threshold is not None and np.linalg.norm(landmarks[0] - landmarks[1]) < eye_dist_threshold:
                continue
            if self.template_3points:
                landmarks = np.stack([landmarks[0], landmarks[1], (landmarks[3] + landmarks[4]) / 2])
            self.all_landmarks_5.append(landmarks)
            self.det_faces.append(np.append(np.asarray(face['box'], dtype=np.float64) * scale, face['score']))
        if not self.det_faces:
            return 0
        if only_keep_largest or only_center_face:
            h, w = self.input_img.shape[0:2]
            pick = _largest_index if only_keep_largest else _center_index
            idx = pick(np.stack(self.det_faces), h, w)
            self.det_faces, self.all_landmarks_5 = [self.det_faces[idx]], [self.all_landmarks_5[idx]]
        if self.pad_blur:
            self.pad_input_imgs = [self._pad_blur(landmarks, blur_ratio) for landmarks in self.all_landmarks_5]
        return len(self.all_landmarks_5)

    def _pad_blur(self, landmarks, blur_ratio):
        """The input reflect-padded around a face whose crop leaves the image, the pad faded to a blur and the
        median colour (as FFHQ's alignment does); ``landmarks`` are shifted into the padded image in place."""
        eye_avg = (landmarks[0] + landmarks[1]) / 2
        eye_to_eye = landmarks[1] - landmarks[0]
        eye_to_mouth = (landmarks[3] + landmarks[4]) / 2 - eye_avg
        x = eye_to_eye - np.flipud(eye_to_mouth) * [-1, 1]
        x = x / np.hypot(*x) * max(np.hypot(*eye_to_eye) * 3.0, np.hypot(*eye_to_mouth) * 2.7)
        y = np.flipud(x) * [-1, 1]
        c = eye_avg + eye_to_mouth * 0.1
        quad = np.stack([c - x - y, c - x + y, c + x + y, c + x - y])
        qsize = np.hypot(*x) * 2
        border = max(int(np.rint(qsize * 0.1)), 3)
        h, w = self.input_img.shape[0:2]
        left = max(-int(np.floor(quad[:, 0].min())) + border, 1)
        top = max(-int(np.floor(quad[:, 1].min())) + border, 1)
        right = max(int(np.ceil(quad[:, 0].max())) - w + border, 1)
        bottom = max(int(np.ceil(quad[:, 1].max())) - h + border, 1)
        if max(left, top, right, bottom) <= 1:
            return self.input_img.copy()
        padded = np.pad(self.input_img, ((top, bottom), (left, right), (0, 0)), 'reflect')
        landmarks += [left, top]
        ph, pw = padded.shape[0:2]
        yy, xx = np.ogrid[:ph, :pw]
        mask = np.maximum(1.0 - np.minimum(np.float32(xx) / left,
                                           np.float32(pw - 1 - xx) / right),
                          1.0 - np.minimum(np.float32(yy) / top,
                                           np.float32(ph - 1 - yy) / bottom))[:, :, None]
        blur = int(qsize * blur_ratio) | 1
        blurred = cv2.boxFilter(padded, 0, ksize=(blur, blur)).astype(np.float32)
        out = padded.astype(np.float32)
        out += (blurred - out) * np.clip(mask * 3.0 + 1.0, 0.0, 1.0)
        out += (np.median(out, axis=(0, 1)) - out) * np.clip(mask, 0.0, 1.0)
        return np.clip(out, 0, 255)

    def align_warp_face(self, save_cropped_path=None, border_mode='constant'):
        """Warp every face onto the template: fills ``affine_matrices`` (2x3, input -> crop) and
        ``cropped_faces`` (face_size BGR uint8); with ``save_cropped_path``, writes them as ``<path>_NN.<ext>``."""
        if border_mode not in BORDER_MODES:
            raise ValueError(f"border_mode must be one of {', '.join(BORDER_MODES)}, got '{border_mode}'.")
        for idx, landmarks in enumerate(self.all_landmarks_5):
            # LMEDS: the robust similarity fit that matches skimage's SimilarityTransform on these points.
            matrix = cv2.estimateAffinePartial2D(landmarks, self.face_template, method=cv2.LMEDS)[0]
            self.affine_matrices.append(matrix)
            source = self.pad_input_imgs[idx] if self.pad_blur else self.input_img
            crop = cv2.warpAffine(
                source, matrix, self.face_size, borderMode=BORDER_MODES[border_mode], borderValue=CROP_BORDER_VALUE)
            crop = np.clip(crop, 0, 255).round().astype(np.uint8) if crop.dtype != np.uint8 else crop
            self.cropped_faces.append(crop)
            if save_cropped_path is not None:
                imwrite(crop, f'{os.path.splitext(save_cropped_path)[0]}_{idx:02d}.{self.save_ext}')

    def get_inverse_affine(self, save_inverse_affine_path=None):
        """Crop -> upscaled output matrices: the inverted affine times ``upscale_factor``."""
        for idx, matrix in enumerate(self.affine_matrices):
            inverse = cv2.invertAffineTransform(matrix) * self.upscale_factor
            self.inverse_affine_matrices.append(inverse)
            if save_inverse_affine_path is not None:
                torch.save(torch.from_numpy(inverse), f'{os.path.splitext(save_inverse_affine_path)[0]}_{idx:02d}.pth')

    def add_restored_face(self, face):
        self.restored_faces.append(face)

    def _parse_mask(self, face):
        """Soft face-region mask (crop size, float in [0, 1]) from the parser, blurred as facexlib does."""
        mask = np.asarray(self.face_parse.face_mask(cv2.resize(face, (512, 512), interpolation=cv2.INTER_LINEAR)))
        mask = np.clip(mask.astype(np.float64), 0, 1)
        mask = cv2.GaussianBlur(mask, (101, 101), 11)
        mask = cv2.GaussianBlur(mask, (101, 101), 11)
        mask[:10, :] = 0
        mask[-10:, :] = 0
        mask[:, :10] = 0
        mask[:, -10:] = 0
        return cv2.resize(mask, (face.shape[1], face.shape[0]))

    def paste_faces_to_input_image(self, save_path=None, upsample_img=None):
        """The input upscaled by ``upscale_factor`` (``upsample_img`` resized to that size if given, else the input
        by Lanczos) with every restored face blended in through a soft mask: (H*up, W*up, C) uint8."""
        h, w = self.input_img.shape[0:2]
        h_up, w_up = int(h * self.upscale_factor), int(w * self.upscale_factor)
        base = self.input_img if upsample_img is None else upsample_img
        out = cv2.resize(base, (w_up, h_up), interpolation=cv2.INTER_LANCZOS4)
        if out.ndim == 2:
            out = out[:, :, None]
        if len(self.restored_faces) != len(self.inverse_affine_matrices):
            raise ValueError(f'{len(self.restored_faces)} restored faces for {len(self.inverse_affine_matrices)} '
                             'inverse affine matrices: call get_inverse_affine() and add one face per crop.')
        alpha = out[:, :, 3:] if out.shape[2] == 4 else None
        result = out[:, :, 0:3].astype(np.float64) if alpha is not None else out.astype(np.float64)
        for face, inverse in zip(self.restored_faces, self.inverse_affine_matrices):
            inverse = inverse.copy()
            inverse[:, 2] += 0.5 * self.upscale_factor if self.upscale_factor > 1 else 0  # facexlib's offset
            # Work in the part of the output the face can reach (its warped footprint, plus room for the blend's
            # erosion and blur): per-face cost and memory that do not grow with the photo. Same result as warping
            # onto the whole image up to OpenCV's fixed-point warp rounding (1 level on ~1e-5 of the pixels).
            (x0, y0), (x1, y1) = _footprint(inverse, face.shape, (w_up, h_up))
            if x1 <= x0 or y1 <= y0:
                continue  # the face lies wholly outside the photo
            roi = (slice(y0, y1), slice(x0, x1))
            shifted = inverse - [[0, 0, x0], [0, 0, y0]]
            size = (x1 - x0, y1 - y0)
            pasted = cv2.warpAffine(face, shifted, size).astype(np.float64)
            if pasted.ndim == 2:
                pasted = pasted[:, :, None]
            if self.use_parse:
                # bilinear, as facexlib (its flags=3, INTER_AREA, is bilinear in warpAffine): the original's output
                mask = cv2.warpAffine(self._parse_mask(face), shifted, size, flags=cv2.INTER_LINEAR)
                mask = np.clip(mask, 0, 1)
            else:
                inv_mask = cv2.warpAffine(np.ones(face.shape[0:2], np.float32), shifted, size)
                kernel = max(int(2 * self.upscale_factor), 1)
                inv_mask = cv2.erode(inv_mask, np.ones((kernel, kernel), np.uint8))  # drop the black warp border
                pasted = pasted * inv_mask[:, :, None]
                edge = int(np.sum(inv_mask)**0.5) // 20  # blend width grows with the face
                center = cv2.erode(inv_mask, np.ones((2 * edge, 2 * edge), np.uint8)) if edge > 0 else inv_mask
                mask = cv2.GaussianBlur(center, (2 * edge + 1, 2 * edge + 1), 0)
            mask = mask[:, :, None]
            result[roi] = mask * pasted + (1 - mask) * result[roi]
        if base.dtype == np.uint16 or result.max() > 256:
            result = np.clip(np.rint(result), 0, 65535).astype(np.uint16)
        else:
            result = np.clip(np.rint(result), 0, 255).astype(np.uint8)
        if alpha is not None:
            result = np.concatenate([result, alpha.astype(result.dtype)], axis=2)
        if save_path is not None:
            imwrite(result, f'{os.path.splitext(save_path)[0]}.{self.save_ext}')
        return result
