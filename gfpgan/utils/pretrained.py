"""The catalogue of pretrained files the project can use: release URL, SHA-256 and size, and what needs each.

``resolve_weights`` looks a file name up here, so every known file found on disk or downloaded is hash-checked
without its caller passing anything; ``scripts/download_pretrained.py`` fetches the files of a use from it.

SHA-256 sources: the releases publish none. The digests below are the ones independent public package recipes and
model lists agree on for these exact release files; torchvision's and pytorch-fid's file names carry a digest prefix
that is checked instead where the full digest is not recorded. ``None``: no digest known; such a file is checked
only for its size and for being a loadable checkpoint of the right layout.
"""
import os
from collections import namedtuple

from .hashing import sha256sum

__all__ = ['PretrainedFile', 'PRETRAINED', 'USES', 'pretrained_files', 'check_file']

PretrainedFile = namedtuple('PretrainedFile', 'url sha256 size uses optional what')
PretrainedFile.__doc__ = """A pretrained file: ``uses`` ⊆ USES; ``optional`` ones are fetched only on request."""

USES = ('inference', 'training', 'finetune', 'evaluation')

_GFPGAN = 'https://github.com/TencentARC/GFPGAN/releases/download'
_FACEXLIB = 'https://github.com/xinntao/facexlib/releases/download'
_ESRGAN = 'https://github.com/xinntao/Real-ESRGAN/releases/download'
_TORCHVISION = 'https://download.pytorch.org/models'


def _entry(url, sha256, size, uses=(), optional=False, what=''):
    return PretrainedFile(url, sha256, size, tuple(uses), optional, what)


PRETRAINED = {
    # GFPGAN restorers (the -v releases; presets.RELEASES maps versions to these names)
    'GFPGANv1.4.pth':
    _entry(
        f'{_GFPGAN}/v1.3.0/GFPGANv1.4.pth',
        'e2cd4703ab14f4d01fd1383a8a8b266f9a5833dacee8e6a79d3bf21a1b6be5ad',
        348632874, ('inference', 'finetune'),
        what='GFPGANv1Clean v1.4, channel_multiplier 2'),
    'GFPGANv1.3.pth':
    _entry(
        f'{_GFPGAN}/v1.3.0/GFPGANv1.3.pth',
        'c953a88f2727c85c3d9ae72e2bd4846bbaf59fe6972ad94130e23e7017524a70',
        348632874, ('inference', ),
        what='GFPGANv1Clean v1.3, channel_multiplier 2'),
    'GFPGANCleanv1-NoCE-C2.pth':
    _entry(
        f'{_GFPGAN}/v0.2.0/GFPGANCleanv1-NoCE-C2.pth',
        '29e25ee90c170f4231163f4c83df6b59c968b73f3ce00cb884015ae005db083c',
        None, ('inference', ),
        what='GFPGANv1Clean v1.2, channel_multiplier 2'),
    'GFPGANv1.pth':
    _entry(
        f'{_GFPGAN}/v0.1.0/GFPGANv1.pth', None, None, ('inference', ), what='GFPGANv1 (paper), channel_multiplier 1'),
    'RestoreFormer.pth':
    _entry(
        f'{_GFPGAN}/v1.3.4/RestoreFormer.pth', None, None, ('inference', ),
        what='RestoreFormer (VQ-VAE with multi-head cross-attention), default arguments'),
    # restoration helpers
    'RealESRGAN_x2plus.pth':
    _entry(
        f'{_ESRGAN}/v0.2.1/RealESRGAN_x2plus.pth',
        '49fafd45f8fd7aa8d31ab2a22d14d91b536c34494a5cfe31eb5d89c2fa266abb',
        67061725, ('inference', ),
        what='Real-ESRGAN x2 background upsampler (RRDBNet)'),
    'RealESRGAN_x4plus.pth':
    _entry(f'{_ESRGAN}/v0.1.0/RealESRGAN_x4plus.pth',
           '4fa0d38905f75ac06eb49a7951b426670021be3018265fd191d2125df9d682f1', None, ('inference', ), True,
           'Real-ESRGAN x4 upsampler (RRDBNet)'),
    'detection_Resnet50_Final.pth':
    _entry(
        f'{_FACEXLIB}/v0.1.0/detection_Resnet50_Final.pth',
        '6d1de9c2944f2ccddca5f5e010ea5ae64a39845a86311af6fdf30841b0a5a16d',
        109497761, ('inference', 'finetune'),
        what='RetinaFace ResNet-50 face detector (facexlib)'),
    'detection_mobilenet0.25_Final.pth':
    _entry(f'{_FACEXLIB}/v0.1.0/detection_mobilenet0.25_Final.pth',
           '2979b33ffafda5d74b6948cd7a5b9a7a62f62b949cef24e95fd15d2883a65220', 1789735, ('inference', ), True,
           'RetinaFace MobileNet-0.25 face detector (facexlib)'),
    'parsing_parsenet.pth':
    _entry(
        f'{_FACEXLIB}/v0.2.2/parsing_parsenet.pth',
        '3d558d8d0e42c20224f13cf5a29c79eba2d59913419f945545d8cf7b72920de2',
        85331193, ('inference', ),
        what='ParseNet face parsing, the paste-back mask (facexlib)'),
    'face_detection_yunet_2023mar.onnx':
    _entry(
        'https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx',
        '8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4', 232589, ('inference', ), True,
        "YuNet face detector for OpenCV's FaceDetectorYN (--det_model yunet)"),
    # training
    'StyleGAN2_512_Cmul1_FFHQ_B12G4_scratch_800k.pth':
    _entry(
        f'{_GFPGAN}/v0.1.0/StyleGAN2_512_Cmul1_FFHQ_B12G4_scratch_800k.pth',
        None,
        204535545, ('training', ),
        what='StyleGAN2 FFHQ 512 prior, channel_multiplier 1 (decoder_load_path)'),
    'arcface_resnet18.pth':
    _entry(
        f'{_GFPGAN}/v0.1.0/arcface_resnet18.pth',
        None,
        None, ('training', 'finetune', 'evaluation'),
        what='ArcFace ResNet-18: identity loss and the Deg. metric'),
    'FFHQ_eye_mouth_landmarks_512.pth':
    _entry(
        f'{_GFPGAN}/v0.1.0/FFHQ_eye_mouth_landmarks_512.pth',
        None,
        None, ('training', ),
        what='eye / mouth boxes of FFHQ at 512 (component_path)'),
    'vgg19-dcbb9e9d.pth':
    _entry(
        f'{_TORCHVISION}/vgg19-dcbb9e9d.pth',
        'dcbb9e9d',
        None, ('training', 'finetune'),
        what='torchvision VGG19: perceptual and style losses'),
    # evaluation
    'vgg16-397923af.pth':
    _entry(f'{_TORCHVISION}/vgg16-397923af.pth', '397923af', None, ('evaluation', ), what='torchvision VGG16: LPIPS'),
    'alexnet-owt-7be5be79.pth':
    _entry(f'{_TORCHVISION}/alexnet-owt-7be5be79.pth', '7be5be79', None, ('evaluation', ), True,
           'torchvision AlexNet: LPIPS --lpips-net alex'),
    'pt_inception-2015-12-05-6726825d.pth':
    _entry(
        'https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth',
        '6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2',
        95628359, ('evaluation', ),
        what="pytorch-fid's InceptionV3: FID"),
    'niqe_pris_params.npz':
    _entry(
        'https://github.com/XPixelGroup/BasicSR/raw/master/basicsr/metrics/niqe_pris_params.npz',
        '2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296',
        None, ('evaluation', ),
        what="BasicSR's NIQE pristine model"),
    'alignment_WFLW_4HG.pth':
    _entry(
        f'{_FACEXLIB}/v0.1.0/alignment_WFLW_4HG.pth',
        'bbfd137307a4c7debd5c283b9b0ce539466cee417ac0a155e184d857f9f2899c',
        193670248, ('evaluation', ),
        what='AWing FAN, 98 landmarks (facexlib): LMD'),
}


def pretrained_files(use=None, include_optional=False):
    """Names of the catalogue's files needed for ``use`` (one of USES; None: all), optional ones on request."""
    if use is not None and use not in USES:
        raise ValueError(f"Unknown use '{use}'; choose one of {', '.join(USES)}.")
    return [
        name for name, entry in PRETRAINED.items()
        if (use is None or use in entry.uses) and (include_optional or not entry.optional)
    ]


def check_file(path, name=None):
    """Whether the file at ``path`` is the catalogue's ``name`` (default: its file name): (ok, reason), reason
    naming the size or digest that differs, or saying that no digest is known."""
    entry = PRETRAINED[name or os.path.basename(path)]
    size = os.path.getsize(path)
    if entry.size is not None and size != entry.size:
        return False, f'{size} bytes, the release file has {entry.size}'
    if entry.sha256 is None:
        return True, 'no published SHA-256 to check against'
    digest = sha256sum(path)
    if not digest.startswith(entry.sha256):
        return False, f'SHA-256 {digest[:16]}..., the release file has {entry.sha256[:16]}...'
    return True, 'SHA-256 verified'
