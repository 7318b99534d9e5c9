"""Helpers shared by several layers: checkpoint I/O and pretrained-weight resolution."""
from .checkpoint import (CheckpointError, atomic_save, describe_state_dict, extract_state_dict, load_checkpoint_file,
                         load_network, save_network)
from .weights import WeightsNotFoundError, resolve_weights

__all__ = [
    'CheckpointError', 'atomic_save', 'describe_state_dict', 'extract_state_dict', 'load_checkpoint_file',
    'load_network', 'save_network', 'WeightsNotFoundError', 'resolve_weights'
]
