"""Face geometry shared by data, models, metrics, restoration and the demo: templates (``templates``), eye/mouth
components and boxes (``components``), alignment and its inverse (``alignment``), detectors behind one ``detect``
interface and their registry (``detectors``; the Haar cascades themselves in ``haar``), FFHQ's own 68-point alignment
(``ffhq_alignment``), the face parser (``parsing``) and face selection (``selection``)."""
from .alignment import align_face, estimate_alignment, inverse_affine, pad_blur, similarity_transform, warp_face
from .components import (BOX_FRAME, COMPONENTS, boxes_from_landmarks5, boxes_from_landmarks68, component_locations,
                         ffhq_template_boxes, landmarks68_from_landmarks5)
from .detectors import (DETECTOR_REGISTRY, DlibDetector, HaarDetector, LandmarksDetector, RetinaFaceDetector,
                        YuNetDetector, build_detector)
from .ffhq_alignment import align_ffhq, ffhq_quad, transform_points
from .parsing import ParseNetParser
from .selection import center_index, largest_index, select_index
from .templates import FFHQ_TEMPLATE_3, FFHQ_TEMPLATE_5, MEAN_SHAPE_68, face_template

__all__ = [
    'align_face', 'estimate_alignment', 'inverse_affine', 'pad_blur', 'similarity_transform', 'warp_face', 'BOX_FRAME',
    'COMPONENTS', 'boxes_from_landmarks5', 'boxes_from_landmarks68', 'component_locations', 'ffhq_template_boxes',
    'landmarks68_from_landmarks5', 'DETECTOR_REGISTRY', 'HaarDetector', 'LandmarksDetector', 'RetinaFaceDetector',
    'YuNetDetector', 'build_detector', 'ParseNetParser', 'center_index', 'largest_index', 'select_index',
    'FFHQ_TEMPLATE_3', 'FFHQ_TEMPLATE_5', 'MEAN_SHAPE_68', 'face_template', 'DlibDetector', 'align_ffhq', 'ffhq_quad',
    'transform_points'
]
