"""facexlib's ``FaceRestoreHelper`` (a subclass of it when facexlib is installed) as a thin adapter over the stateless
restoration core: the same constructor, attributes (``all_landmarks_5``, ``det_faces``, ``affine_matrices``, ...) and
methods, with ``face_det`` / ``face_parse`` as torch modules and weights resolved offline-first. The detectors, the
parser and the templates live in ``gfpgan.faces`` and are re-exported here under their old names."""
import os

import cv2
import numpy as np
import torch

from gfpgan.faces.alignment import (BORDER_MODES, CROP_BORDER_VALUE, estimate_alignment, inverse_affine, pad_blur,
                                    warp_face)
from gfpgan.faces.detectors import (RETINAFACE_MODELS, YUNET_FILE, DetectorModule, LandmarksDetector,
                                    RetinaFaceDetector, YuNetDetector, as_detector_module, build_detector,
                                    yunet_problem)
from gfpgan.faces.parsing import (PARSE_FACE_CLASSES, PARSENET_FILE, ParseNetParser, ParserModule, as_parser_module,
                                  soft_face_mask)
from gfpgan.faces.selection import select_index
from gfpgan.faces.templates import FFHQ_TEMPLATE_3, FFHQ_TEMPLATE_5, face_template
from gfpgan.utils.device import resolve_device
from gfpgan.utils.img_util import imwrite

from .core import as_bgr_uint8, detect_faces, paste_faces

__all__ = [
    'FFHQ_TEMPLATE_5', 'RetinaFaceDetector', 'YuNetDetector', 'LandmarksDetector', 'build_detector', 'ParseNetParser',
    'DetectorModule', 'ParserModule', 'FaceRestoreHelper', 'required_weights', 'yunet_problem', 'FFHQ_TEMPLATE_3',
    'CROP_BORDER_VALUE', 'RETINAFACE_MODELS', 'YUNET_FILE', 'PARSENET_FILE', 'PARSE_FACE_CLASSES', 'BORDER_MODES',
    'as_detector_module', 'as_parser_module'
]  # (the detectors, parser, templates and their constants are gfpgan.faces' names, kept importable from here)


def _facexlib_helper_class():
    """facexlib's FaceRestoreHelper, the base class of this module's helper when facexlib is installed (importing it
    builds nothing); ``object`` without facexlib (or with one that does not import), so the core needs no facexlib."""
    try:
        from facexlib.utils.face_restoration_helper import FaceRestoreHelper as FacexlibHelper
    except Exception:  # not installed, or installed but broken: the project's helper stands alone
        return object
    return FacexlibHelper


def required_weights(det_model='retinaface_resnet50', use_parse=True):
    """(file name, what it is) of the pretrained catalogue files a FaceRestoreHelper with this detector and parsing
    loads (YuNet's file is a path the user gives: ``yunet_problem`` checks it)."""
    files = []
    if det_model in RETINAFACE_MODELS:
        files.append((RETINAFACE_MODELS[det_model][1], f'the face detector ({det_model})'))
    if use_parse:
        files.append((PARSENET_FILE, 'the face parser (ParseNet paste-back mask)'))
    return files


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
        self.face_template = face_template(face_size, crop_ratio, self.template_3points)
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
        self.input_img = as_bgr_uint8(img)

    def get_face_landmarks_5(self,
                             only_keep_largest=False,
                             only_center_face=False,
                             resize=None,
                             blur_ratio=0.01,
                             eye_dist_threshold=None):
        """Detect faces in the input (resized so its short side is ``resize`` for detection, if given) and
        keep their 5 landmarks; faces whose eyes are closer than ``eye_dist_threshold`` px are dropped.
        Returns the number of faces kept."""
        for face in detect_faces(self.input_img, self.face_det, resize, eye_dist_threshold, self.template_3points):
            self.all_landmarks_5.append(face.landmarks)
            self.det_faces.append(face.det_row)
        if not self.det_faces:
            return 0
        if only_keep_largest or only_center_face:
            h, w = self.input_img.shape[0:2]
            idx = select_index(np.stack(self.det_faces), h, w, 'largest' if only_keep_largest else 'center')
            self.det_faces, self.all_landmarks_5 = [self.det_faces[idx]], [self.all_landmarks_5[idx]]
        if self.pad_blur:
            self.pad_input_imgs = [self._pad_blur(landmarks, blur_ratio) for landmarks in self.all_landmarks_5]
        return len(self.all_landmarks_5)

    def _pad_blur(self, landmarks, blur_ratio):
        """The input blur-padded around a face whose crop leaves it (``gfpgan.faces.alignment.pad_blur``);
        ``landmarks`` are shifted into the padded image in place."""
        padded, landmarks[...] = pad_blur(self.input_img, landmarks, blur_ratio)
        return padded

    def align_warp_face(self, save_cropped_path=None, border_mode='constant'):
        """Warp every face onto the template: fills ``affine_matrices`` (2x3, input -> crop) and
        ``cropped_faces`` (face_size BGR uint8); with ``save_cropped_path``, writes them as ``<path>_NN.<ext>``."""
        if border_mode not in BORDER_MODES:
            raise ValueError(f"border_mode must be one of {', '.join(BORDER_MODES)}, got '{border_mode}'.")
        for idx, landmarks in enumerate(self.all_landmarks_5):
            matrix = estimate_alignment(landmarks, self.face_template)
            self.affine_matrices.append(matrix)
            source = self.pad_input_imgs[idx] if self.pad_blur else self.input_img
            crop = warp_face(source, matrix, self.face_size, border_mode)
            self.cropped_faces.append(crop)
            if save_cropped_path is not None:
                imwrite(crop, f'{os.path.splitext(save_cropped_path)[0]}_{idx:02d}.{self.save_ext}')

    def get_inverse_affine(self, save_inverse_affine_path=None):
        """Crop -> upscaled output matrices: the inverted affine times ``upscale_factor``."""
        for idx, matrix in enumerate(self.affine_matrices):
            inverse = inverse_affine(matrix, self.upscale_factor)
            self.inverse_affine_matrices.append(inverse)
            if save_inverse_affine_path is not None:
                torch.save(torch.from_numpy(inverse), f'{os.path.splitext(save_inverse_affine_path)[0]}_{idx:02d}.pth')

    def add_restored_face(self, face):
        self.restored_faces.append(face)

    def _parse_mask(self, face):
        """Soft face-region mask (crop size, float in [0, 1]) from the parser, blurred as facexlib does."""
        return soft_face_mask(self.face_parse, face)

    def hold(self, input_img, faces, restored=()):
        """Take one photo's state from core records (``gfpgan.restoration.core.Face``): what ``enhance`` leaves here,
        as after facexlib's own calls."""
        self.clean_all()
        self.input_img = input_img
        self.det_faces = [face.det_row for face in faces]
        self.all_landmarks_5 = [face.landmarks for face in faces]
        self.affine_matrices = [face.affine for face in faces]
        self.cropped_faces = [face.crop for face in faces]
        self.pad_input_imgs = [face.source for face in faces if face.source is not None]
        self.restored_faces = list(restored)

    def paste_faces_to_input_image(self, save_path=None, upsample_img=None):
        """The input upscaled by ``upscale_factor`` (``upsample_img`` resized to that size if given, else the input
        by Lanczos) with every restored face blended in through a soft mask: (H*up, W*up, C) uint8."""
        result = paste_faces(self.input_img, self.restored_faces, self.inverse_affine_matrices, self.upscale_factor,
                             upsample_img, self._parse_mask if self.use_parse else None)
        if save_path is not None:
            imwrite(result, f'{os.path.splitext(save_path)[0]}.{self.save_ext}')
        return result
