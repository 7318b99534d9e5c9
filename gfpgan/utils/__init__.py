"""Helpers shared by several layers: checkpoint I/O, pretrained-weight resolution, atomic file writing,
image I/O and tensor conversion."""
from .checkpoint import (CheckpointError, atomic_save, describe_state_dict, extract_state_dict, load_checkpoint_file,
                         load_network, save_network)
from .fileio import atomic_write
from .img_util import ImageReadError, decode_image, imdecode, img2tensor, imwrite, read_image, tensor2img
from .weights import WeightsNotFoundError, resolve_weights

__all__ = [
    'CheckpointError', 'atomic_save', 'describe_state_dict', 'extract_state_dict', 'load_checkpoint_file',
    'load_network', 'save_network', 'WeightsNotFoundError', 'resolve_weights', 'atomic_write', 'ImageReadError',
    'imdecode', 'decode_image', 'read_image', 'img2tensor', 'tensor2img', 'imwrite'
]
