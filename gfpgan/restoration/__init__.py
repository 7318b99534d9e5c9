"""Face restoration: the stateless core (``core``: detect, align, restore a batch, paste back; ``image_mode``), the
background upsampler, and the adapters over them (``GFPGANer``, the facexlib-compatible ``FaceRestoreHelper``)."""
from .face_helper import (FFHQ_TEMPLATE_5, DetectorModule, FaceRestoreHelper, LandmarksDetector, ParseNetParser,
                          ParserModule, RetinaFaceDetector, YuNetDetector, build_detector)
from .core import Face, align_faces, detect_faces, paste_faces, restore_batch
from .gfpganer import GFPGANer

__all__ = [
    'FFHQ_TEMPLATE_5', 'DetectorModule', 'FaceRestoreHelper', 'GFPGANer', 'LandmarksDetector', 'ParseNetParser',
    'ParserModule', 'RetinaFaceDetector', 'YuNetDetector', 'build_detector', 'Face', 'align_faces', 'detect_faces',
    'paste_faces', 'restore_batch'
]
