"""GFPGANer: restore the faces of a photo with a GFPGAN generator — detect, align to the FFHQ template, restore
(in batches), blend with the input by the strength ``weight``, paste back onto the (optionally Real-ESRGAN
upsampled) photo. The original class's constructor and ``enhance`` signature, so existing code runs."""
import dataclasses
import os

import cv2
import numpy as np
import torch

from gfpgan.archs.presets import load_generator, network_face_size
from gfpgan.utils.device import conv_memory_format, resolve_device, to_memory_format
from gfpgan.utils.weights import resolve_weights

from .core import (Face, align_faces, as_bgr_uint8, blend_strength, detect_faces, inverse_affines, pad_faces,
                   paste_faces, restore_batch)
from .image_mode import restore_mode, split_alpha

__all__ = ['GFPGANer', 'Photo', 'blend_strength', 'split_alpha', 'restore_mode', 'load_photo', 'required_weights']


def load_photo(img):
    """``img`` itself if it is an array, else the photo at that path as cv2 reads it, unchanged (gray, BGR, BGRA;
    8- or 16-bit). ImageReadError (a ValueError) naming the file when it cannot be read or is no such photo."""
    from gfpgan.utils.img_util import ImageReadError, imdecode, read_image_bytes
    if isinstance(img, np.ndarray):
        return img
    if not isinstance(img, (str, bytes, os.PathLike)):
        raise TypeError(f'Expected an image array or a file path, got {type(img).__name__}.')
    path = os.fsdecode(img)
    photo = imdecode(read_image_bytes(path), cv2.IMREAD_UNCHANGED, path)
    if photo.dtype not in (np.uint8, np.uint16):
        raise ImageReadError(f"'{path}' holds {photo.dtype} samples; only 8- and 16-bit photos are supported.")
    return photo


def required_weights(model_path, det_model='retinaface_resnet50', use_parse=True, has_aligned=False):
    """(file name or path, what it is) of every pretrained file a GFPGANer of this configuration loads: the
    restorer, and for whole photos (not ``has_aligned``) the face helper's detector and parser. A preflight looks
    them all up before anything is built."""
    from .face_helper import required_weights as helper_weights
    model_path = os.fspath(model_path)
    if model_path.startswith(('https://', 'http://')):
        model_path = os.path.basename(model_path)
    files = [(model_path, 'the GFPGAN model')]
    if not has_aligned:
        files += helper_weights(det_model, use_parse)
    return files


@dataclasses.dataclass
class Photo:
    """One photo between detection and paste-back: ``bgr`` (H, W, 3) uint8 and ``mode`` from ``split_alpha``,
    ``input_img`` the contiguous BGR uint8 the faces were found in, ``faces`` core ``Face`` records with crops."""
    bgr: np.ndarray
    mode: dict
    input_img: np.ndarray
    faces: list

    @property
    def crops(self):
        """The aligned faces, in order."""
        return [face.crop for face in self.faces]


class GFPGANer:
    """Restore faces in photos (an adapter over ``gfpgan.restoration.core``: each photo is a ``Photo`` record).

    Args (the original's first six):
        model_path: checkpoint path, release file name or URL (resolved: path, experiments/pretrained_models/,
            caches, then the URL).
        upscale: output scale of the whole photo.
        arch: 'clean' (v1.2-v1.4), 'bilinear', 'original' (GFPGANv1.pth) or 'RestoreFormer' (RestoreFormer.pth);
            None (default): the network a checkpoint trained here carries, else 'clean'.
        channel_multiplier: 2 for the clean releases, 1 for v1 (RestoreFormer has none and ignores it).
        bg_upsampler: an object with ``enhance(img, outscale=...) -> (img, mode)`` (e.g. RealESRGANUpsampler) or None
            (the photo is resized with Lanczos).
        device: torch device or None (CUDA when available).
        det_model / detector: facexlib RetinaFace name, or a detector object (``detect(img)``) such as YuNet.
        use_parse / parser: the face-parsing paste mask (ParseNet) or a stand-in.
        half / bf16: run the generator in float16 (CUDA) or bfloat16 autocast.
        batch_size: faces restored per forward pass; None: 8 on CUDA, 1 on the CPU (where larger batches were
            measured slower per face: 0.34-0.41 faces/s at 8 against 0.54-0.56 at 1 on 2 cores).
        net: an already built generator (tests, custom architectures); ``model_path`` is then optional.
        face_size: the aligned face size; None: the network's ``out_size`` (512 for the releases).
        opt: the network options (a training options file, whose ``network_g`` is used, or that section as a dict)
            instead of the architecture the checkpoint carries or ``arch`` names.
    """

    def __init__(self,
                 model_path=None,
                 upscale=2,
                 arch=None,
                 channel_multiplier=2,
                 bg_upsampler=None,
                 device=None,
                 det_model='retinaface_resnet50',
                 detector=None,
                 use_parse=True,
                 parser=None,
                 half=False,
                 bf16=False,
                 batch_size=None,
                 net=None,
                 face_size=None,
                 opt=None):
        from .face_helper import FaceRestoreHelper
        self.upscale = upscale
        self.bg_upsampler = bg_upsampler
        self.device = resolve_device(device)
        self.batch_size = max(1, int(batch_size or (8 if self.device.type == 'cuda' else 1)))
        self.dtype = torch.float16 if half else torch.bfloat16 if bf16 else None
        if half and self.device.type != 'cuda':
            raise ValueError('half precision (--half) needs a CUDA device; use bf16 on the CPU.')
        if net is None:
            if model_path is None:
                raise ValueError('GFPGANer needs model_path (a checkpoint) or a built net.')
            model_path = os.fspath(model_path)
            if model_path.startswith(('https://', 'http://')):
                model_path = resolve_weights(os.path.basename(model_path), url=model_path)
            else:
                model_path = resolve_weights(model_path)
            net, options = load_generator(model_path, arch, channel_multiplier, opt)
            face_size = face_size or network_face_size(options)
        self.face_size = face_size = int(face_size or 512)
        self.gfpgan = net.eval().to(self.device)
        if half:
            self.gfpgan = self.gfpgan.half()
        # channels-last activations (the networks convert their input on the CPU themselves); on CUDA in float16 /
        # bfloat16 the convolution weights too, for the tensor cores
        self.memory_format = conv_memory_format(self.device, self.dtype)
        if self.device.type == 'cuda' and self.memory_format is torch.channels_last:
            to_memory_format(self.gfpgan)
        self.face_helper = FaceRestoreHelper(
            upscale,
            face_size=face_size,
            det_model=det_model,
            use_parse=use_parse,
            device=self.device,
            detector=detector,
            parser=parser)

    def restore_faces(self, faces, weight=1.0, randomize_noise=True):
        """Aligned (S, S, 3) BGR uint8 faces -> restored faces of the same form, ``batch_size`` at a time;
        ``randomize_noise`` False: the decoder's fixed noise (videos). A face whose forward pass fails (e.g. out of
        memory) is returned unchanged, as the original does."""
        restored = []
        for start in range(0, len(faces), self.batch_size):
            restored += restore_batch(self.gfpgan, faces[start:start + self.batch_size], self.device, self.dtype,
                                      self.memory_format, weight, randomize_noise)
        return restored

    def _prepare(self, img, has_aligned, only_center_face):
        """Detect and align the faces of one photo: a ``Photo`` record, so several photos can wait for one batch."""
        bgr, mode = split_alpha(load_photo(img))
        if has_aligned:
            crop = cv2.resize(bgr, (self.face_size, self.face_size), interpolation=cv2.INTER_LINEAR)
            return Photo(bgr, mode, bgr, [Face(None, None, None, crop=crop)])
        helper = self.face_helper
        input_img = as_bgr_uint8(bgr)
        faces = detect_faces(input_img, helper.face_det, eye_dist_threshold=5, three_points=helper.template_3points,
                             select='center' if only_center_face else None)
        if helper.pad_blur:
            faces = pad_faces(input_img, faces)
        faces = align_faces(input_img, faces, helper.face_template, helper.face_size)
        return Photo(bgr, mode, input_img, faces)

    def _finish(self, photo, restored, has_aligned, paste_back):
        """Paste one photo's restored faces back (the helper is left holding this photo, as after ``enhance``)."""
        helper = self.face_helper
        cropped = photo.crops
        helper.hold(photo.input_img, [] if has_aligned else photo.faces, restored)
        if has_aligned:
            helper.cropped_faces = cropped
        if has_aligned or not paste_back:
            return helper.cropped_faces, helper.restored_faces, None
        background = self.bg_upsampler.enhance(photo.bgr, outscale=self.upscale)[0] if self.bg_upsampler else None
        helper.inverse_affine_matrices = inverse_affines(photo.faces, helper.upscale_factor)
        face_mask = helper._parse_mask if helper.use_parse else None
        restored_img = paste_faces(photo.input_img, helper.restored_faces, helper.inverse_affine_matrices,
                                   helper.upscale_factor, background, face_mask)
        return helper.cropped_faces, helper.restored_faces, restore_mode(restored_img, photo.mode)

    def enhance_iter(self, items, has_aligned=False, only_center_face=False, paste_back=True, weight=1.0):
        """Restore many photos with faces batched across them: ``items`` yields (key, img) pairs; yields
        (key, result) in the same order, result being ``enhance``'s tuple, or the ValueError / cv2.error that
        photo raised (the others go on). Photos wait until ``batch_size`` faces (or photos) are gathered, so at
        most that many are held in memory."""
        pending, faces = [], 0

        def flush():
            ready = [photo for _, photo in pending if isinstance(photo, Photo)]
            restored = self.restore_faces([face for photo in ready for face in photo.crops], weight)
            for key, photo in pending:
                if not isinstance(photo, Photo):
                    yield key, photo
                    continue
                mine, restored = restored[:len(photo.crops)], restored[len(photo.crops):]
                try:
                    yield key, self._finish(photo, mine, has_aligned, paste_back)
                except (ValueError, cv2.error) as err:
                    yield key, err

        for key, img in items:
            try:
                photo = self._prepare(img, has_aligned, only_center_face)
                faces += len(photo.crops)
            except (ValueError, cv2.error) as err:
                photo = err
            pending.append((key, photo))
            if faces >= self.batch_size or len(pending) >= self.batch_size:
                yield from flush()
                pending, faces = [], 0
        if pending:
            yield from flush()

    def enhance(self, img, has_aligned=False, only_center_face=False, paste_back=True, weight=1.0):
        """Restore the faces of ``img`` (BGR, gray or BGRA; 8- or 16-bit; an array or a file path) with strength
        ``weight`` in [0, 1].

        Returns (cropped_faces, restored_faces, restored_img): the aligned input faces, their restorations, and the
        whole photo with the faces pasted back at ``upscale`` in the input's mode (None with ``has_aligned`` or
        without ``paste_back``). The original accepted ``weight`` and ignored it (always full restoration, which
        is weight 1 here, the default). ``enhance_iter`` batches faces across several photos."""
        photo = self._prepare(img, has_aligned, only_center_face)
        return self._finish(photo, self.restore_faces(photo.crops, weight), has_aligned, paste_back)
