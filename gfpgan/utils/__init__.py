"""Helpers shared by several layers: checkpoint I/O, pretrained-weight resolution, atomic file writing,
image I/O and tensor conversion.

As in the original package (whose ``gfpgan/utils.py`` held GFPGANer), ``from gfpgan.utils import GFPGANer`` works;
it is looked up on first use, since gfpgan.restoration itself imports this package.
"""
from .checkpoint import (CheckpointError, atomic_save, describe_state_dict, extract_state_dict, load_checkpoint_file,
                         load_network, save_network)
from .fileio import atomic_write
from .img_util import ImageReadError, decode_image, imdecode, img2tensor, imwrite, read_image, tensor2img
from .weights import WeightsNotFoundError, load_file_from_url, resolve_weights

__all__ = [
    'CheckpointError', 'atomic_save', 'describe_state_dict', 'extract_state_dict', 'load_checkpoint_file',
    'load_network', 'save_network', 'WeightsNotFoundError', 'resolve_weights', 'atomic_write', 'ImageReadError',
    'imdecode', 'decode_image', 'read_image', 'img2tensor', 'tensor2img', 'imwrite', 'load_file_from_url'
]


def __getattr__(name):
    if name == 'GFPGANer':
        from gfpgan.restoration.gfpganer import GFPGANer
        return GFPGANer
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')


def __dir__():
    return sorted(set(globals()) | {'GFPGANer'})
