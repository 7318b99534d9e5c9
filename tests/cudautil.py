"""Shared by the CUDA tests (``pytest -m cuda``; they skip without a CUDA device): the device, the skip markers,
full float32 precision (no TF32) for comparisons against float64 references, and relative error measures.

``GFPGAN_CUDA_TESTS_DEVICE=cpu`` runs the CUDA tests that can run on the CPU there instead (float32 against float64,
bfloat16 autocast, ...), which checks the tests themselves on a machine without a GPU; what only CUDA has (NCCL,
float16 networks) still skips.
"""
import os

import pytest
import torch

from gfpgan.utils.device import backend_flags

DEVICE = os.environ.get('GFPGAN_CUDA_TESTS_DEVICE', 'cuda')
HAS_CUDA = torch.cuda.is_available()
requires_cuda = pytest.mark.skipif(DEVICE == 'cuda' and not HAS_CUDA, reason='needs a CUDA device')
requires_real_cuda = pytest.mark.skipif(not HAS_CUDA, reason='needs a CUDA device')
CUDA_TESTS = [pytest.mark.cuda, requires_cuda]  # pytestmark of every CUDA test file


def ieee_float32():
    """float32 convolutions and matmuls in full precision inside the block. cuDNN convolutions run in TF32 (10-bit
    mantissa, ~5e-4 relative) by default on Ampere and later, which a float64 comparison at 1e-4 would catch."""
    return backend_flags(tf32=False)


def relative_errors(out, ref):
    """(max, mean) of |out - ref| over max|ref|, in float64 on the CPU."""
    out, ref = out.detach().double().cpu(), ref.detach().double().cpu()
    scale = ref.abs().max().item() or 1.0
    diff = (out - ref).abs()
    return diff.max().item() / scale, diff.mean().item() / scale
