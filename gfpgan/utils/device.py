"""The device a command runs on."""
import torch

__all__ = ['resolve_device', 'conv_memory_format']


def resolve_device(device=None):
    """``None`` or ``'auto'`` -> CUDA when available, else the CPU; anything else as ``torch.device`` reads it."""
    if device is None or device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def conv_memory_format(device):
    """Layout for convolutional networks on ``device``: channels-last on the CPU, where oneDNN runs it faster (ParseNet
    about 20%, RRDBNet about 38% less time; same results to float rounding), the default elsewhere."""
    return torch.channels_last if torch.device(device).type == 'cpu' else torch.contiguous_format
