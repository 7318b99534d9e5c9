"""Face restoration pipeline: detect and align faces, restore them, paste them back."""
from .face_helper import (FFHQ_TEMPLATE_5, FaceRestoreHelper, LandmarksDetector, ParseNetParser, RetinaFaceDetector,
                          YuNetDetector, build_detector)
from .gfpganer import GFPGANer

__all__ = [
    'FFHQ_TEMPLATE_5', 'FaceRestoreHelper', 'GFPGANer', 'LandmarksDetector', 'ParseNetParser', 'RetinaFaceDetector',
    'YuNetDetector', 'build_detector'
]
