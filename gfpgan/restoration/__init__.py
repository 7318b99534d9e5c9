"""Face restoration pipeline: detect and align faces, restore them, paste them back."""
from .face_helper import (FFHQ_TEMPLATE_5, DetectorModule, FaceRestoreHelper, LandmarksDetector, ParseNetParser,
                          ParserModule, RetinaFaceDetector, YuNetDetector, build_detector)
from .gfpganer import GFPGANer

__all__ = [
    'FFHQ_TEMPLATE_5', 'DetectorModule', 'FaceRestoreHelper', 'GFPGANer', 'LandmarksDetector', 'ParseNetParser',
    'ParserModule', 'RetinaFaceDetector', 'YuNetDetector', 'build_detector'
]
