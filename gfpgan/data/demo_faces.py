"""Compatibility names for code written before the demo face set moved: the builder is ``gfpgan.demo``, the
weight-free detector ``gfpgan.faces.haar``. ``DemoFacesError`` here is the detector's base error, which the demo's
own error extends, so that an old ``except DemoFacesError`` still catches both."""
from gfpgan.demo import (CASCADE_SOURCE, INSTALLED_PHOTOS, PACKAGE_SOURCES, PackageSource, Photo, align_face,
                         build_demo_faces, collect_photos, default_cache_dir, fetch_package, load_haar_cascades,
                         pip_download, read_member)
from gfpgan.faces.haar import HaarDetectorError as DemoFacesError
from gfpgan.faces.haar import (DetectedFace, HaarCascade, detect_faces_haar, eye_centre_by_gradients, find_faces,
                               group_rectangles, landmarks5_from_eyes)

__all__ = [
    'DemoFacesError', 'HaarCascade', 'group_rectangles', 'eye_centre_by_gradients', 'load_haar_cascades',
    'DetectedFace', 'find_faces', 'detect_faces_haar', 'landmarks5_from_eyes', 'align_face', 'Photo', 'PackageSource',
    'CASCADE_SOURCE', 'INSTALLED_PHOTOS', 'PACKAGE_SOURCES', 'default_cache_dir', 'pip_download', 'fetch_package',
    'read_member', 'collect_photos', 'build_demo_faces'
]
