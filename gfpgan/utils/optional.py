"""Packages only some features need (lmdb, lpips, pytorch-fid, facexlib): imported where they are used, so the core
(networks, training, disk datasets, GFPGANer with stand-in detectors) works without them."""
import importlib

from gfpgan.errors import GFPGANError

__all__ = ['OPTIONAL_PACKAGES', 'MissingPackageError', 'import_optional']

#: import name -> pip package name
OPTIONAL_PACKAGES = {'lmdb': 'lmdb', 'lpips': 'lpips', 'pytorch_fid': 'pytorch-fid', 'facexlib': 'facexlib',
                     'dlib': 'dlib-bin'}


class MissingPackageError(GFPGANError, ImportError):
    """An optional package a feature needs is not installed (an ImportError, so ``except ImportError`` sees it)."""


def import_optional(module, feature, package=None):
    """``importlib.import_module(module)``; when its top-level package is not installed, MissingPackageError with
    one sentence naming ``feature`` (what was asked for), the package and the pip command.

    ``package`` is the pip name (default: from OPTIONAL_PACKAGES, else the top-level module name). An ImportError
    raised inside an installed package (a broken install, a missing dependency of its own) is not hidden: the
    message says which module failed.
    """
    top = module.split('.')[0]
    package = package or OPTIONAL_PACKAGES.get(top, top)
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if getattr(err, 'name', None) == top:
            raise MissingPackageError(f"{feature} needs the '{package}' package, which is not installed: "
                                      f'pip install {package}') from err
        raise MissingPackageError(f"{feature} needs the '{package}' package, which is installed but does not import "
                                  f'({type(err).__name__}: {err}); reinstall it with pip install {package}') from err
