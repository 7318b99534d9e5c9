"""The device a command runs on."""
import torch

__all__ = ['resolve_device']


def resolve_device(device=None):
    """``None`` or ``'auto'`` -> CUDA when available, else the CPU; anything else as ``torch.device`` reads it."""
    if device is None or device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)
