"""The device a command runs on, the layout of convolutional networks there, and TF32."""
import contextlib

import torch

__all__ = ['resolve_device', 'conv_memory_format', 'set_tf32', 'backend_flags', 'to_memory_format']


def resolve_device(device=None):
    """``None`` or ``'auto'`` -> CUDA when available, else the CPU; anything else as ``torch.device`` reads it."""
    if device is None or device == 'auto':
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    return torch.device(device)


def conv_memory_format(device, dtype=torch.float32):
    """Layout for convolutional networks running in ``dtype`` on ``device``: channels-last on the CPU, where oneDNN
    runs it faster (ParseNet about 20%, RRDBNet about 38% less time; same results to float rounding), and on CUDA in
    float16 / bfloat16, the tensor cores' native layout (cuDNN would otherwise transpose around each convolution);
    the default layout for float32 on CUDA."""
    if torch.device(device).type == 'cpu' or dtype in (torch.float16, torch.bfloat16):
        return torch.channels_last
    return torch.contiguous_format


def set_tf32(enabled):
    """TF32 for float32 matrix products and cuDNN convolutions on Ampere and newer GPUs (a 10-bit mantissa, several
    times faster). Training sets it from ``train.tf32``, off by default: float32 runs then compute true float32, the
    precision the faithfulness promise is about (PyTorch's own default leaves cuDNN convolutions on TF32). With
    ``mixed_precision: bf16`` only the few float32 layers and losses are affected. Through the ``allow_tf32``
    flags, which set cuDNN's convolutions and RNNs alike."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def _tf32_switches():
    """The TF32 switches this torch reads back: the ``allow_tf32`` flags or, once code set cuDNN's convolutions and
    RNNs apart through their ``fp32_precision`` (torch >= 2.9 then refuses to read ``allow_tf32``), those."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    try:
        cudnn.allow_tf32, matmul.allow_tf32
        return [(cudnn, 'allow_tf32'), (matmul, 'allow_tf32')]
    except RuntimeError:
        return [(cudnn.conv, 'fp32_precision'), (cudnn.rnn, 'fp32_precision'), (matmul, 'fp32_precision')]


@contextlib.contextmanager
def backend_flags(tf32=None, cudnn_benchmark=None):
    """TF32 (``set_tf32``) and cuDNN's algorithm search set inside the block (None: left as they are), the previous
    settings restored after it."""
    switches = _tf32_switches()
    saved = [getattr(obj, name) for obj, name in switches], torch.backends.cudnn.benchmark
    try:
        if tf32 is not None:
            set_tf32(tf32)
        if cudnn_benchmark is not None:
            torch.backends.cudnn.benchmark = cudnn_benchmark
        yield
    finally:
        values, torch.backends.cudnn.benchmark = saved
        for (obj, name), value in zip(switches, values):
            setattr(obj, name, value)


@torch.no_grad()
def to_memory_format(module, memory_format=torch.channels_last):
    """Store every 4-D parameter and buffer of ``module`` (conv weights) in ``memory_format``, in place; returns
    ``module``. ``module.to(memory_format=...)`` refuses networks that also hold 5-D tensors, as StyleGAN2's
    modulated convs do (their (1, C_out, C_in, k, k) weights are modulated per sample, then reshaped, so they stay
    as they are)."""
    for tensor in list(module.parameters()) + list(module.buffers()):
        if tensor.ndim == 4:
            tensor.data = tensor.data.contiguous(memory_format=memory_format)
    return module
