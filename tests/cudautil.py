"""Shared by the CUDA tests (``pytest -m cuda``; they skip without a CUDA device): the device, the skip markers,
full float32 precision (no TF32) for comparisons against float64 references, and relative error measures.

``GFPGAN_CUDA_TESTS_DEVICE=cpu`` runs the CUDA tests that can run on the CPU there instead (float32 against float64,
bfloat16 autocast, ...), which checks the tests themselves on a machine without a GPU; what only CUDA has (NCCL,
float16 networks) still skips.
"""
import contextlib
import os

import pytest
import torch

DEVICE = os.environ.get('GFPGAN_CUDA_TESTS_DEVICE', 'cuda')
HAS_CUDA = torch.cuda.is_available()
requires_cuda = pytest.mark.skipif(DEVICE == 'cuda' and not HAS_CUDA, reason='needs a CUDA device')
requires_real_cuda = pytest.mark.skipif(not HAS_CUDA, reason='needs a CUDA device')
CUDA_TESTS = [pytest.mark.cuda, requires_cuda]  # pytestmark of every CUDA test file


@contextlib.contextmanager
def ieee_float32():
    """float32 convolutions and matmuls in full precision inside the block. cuDNN convolutions run in TF32 (10-bit
    mantissa, ~5e-4 relative) by default on Ampere and later, which a float64 comparison at 1e-4 would catch.

    Through the ``allow_tf32`` flags, which set cuDNN's convolutions and RNNs alike (setting only the convolutions'
    ``fp32_precision`` makes torch refuse later reads of ``allow_tf32``); the per-operation flags where those were
    already set apart."""
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    try:
        saved = cudnn.allow_tf32, matmul.allow_tf32
    except RuntimeError:
        flags = [(cudnn.conv, 'fp32_precision'), (cudnn.rnn, 'fp32_precision'), (matmul, 'fp32_precision')]
        saved = [getattr(obj, name) for obj, name in flags]
        for obj, name in flags:
            setattr(obj, name, 'ieee')
        try:
            yield
        finally:
            for (obj, name), value in zip(flags, saved):
                setattr(obj, name, value)
        return
    cudnn.allow_tf32, matmul.allow_tf32 = False, False
    try:
        yield
    finally:
        cudnn.allow_tf32, matmul.allow_tf32 = saved


def relative_errors(out, ref):
    """(max, mean) of |out - ref| over max|ref|, in float64 on the CPU."""
    out, ref = out.detach().double().cpu(), ref.detach().double().cpu()
    scale = ref.abs().max().item() or 1.0
    diff = (out - ref).abs()
    return diff.max().item() / scale, diff.mean().item() / scale
