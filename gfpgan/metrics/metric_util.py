"""Small checks shared by the network-based metrics."""
import numpy as np

from gfpgan.utils.device import resolve_device

__all__ = ['resolve_device', 'check_bgr_uint8', 'package_problem']


def package_problem(module, feature):
    """None when the optional package of ``module`` is installed (looked up, not imported), else the sentence
    ``import_optional`` would raise: a preflight check."""
    import importlib.util

    from gfpgan.utils.optional import OPTIONAL_PACKAGES
    top = module.split('.')[0]
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    package = OPTIONAL_PACKAGES.get(top, top)
    return None if found else f"{feature} needs the '{package}' package, which is not installed: pip install {package}"


def check_bgr_uint8(img, name):
    """Raise ValueError unless ``img`` is a (H, W, 3) uint8 array (the BGR images metrics take)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
        got = f'{img.dtype} array of shape {img.shape}' if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f'{name} expects (H, W, 3) BGR uint8 images, got a {got}.')
