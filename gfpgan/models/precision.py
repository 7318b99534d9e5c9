"""Mixed-precision training: the autocast dtype of a run and its gradient scalers (``train.mixed_precision``).

- ``none`` (default): plain float32, the original's arithmetic; autocast and scalers are no-ops.
- ``bf16``: the networks' forward passes and the losses run under bfloat16 autocast; the weights, the optimizer
  states, the EMA and the lazy R1 penalty stay float32. bfloat16 has float32's range, so no loss scaling.
- ``fp16``: float16 autocast, a ``GradScaler`` per optimizer (each loss scale adapts to its own network), and the
  StyleGAN2-ADA safeguards built into the networks (``gfpgan.archs.arch_util``: float16 only at the four highest
  resolutions, activations clamped to +-256, modulation computed in float32).

The model computes its losses from the network outputs cast to float32 (a no-op in float32 runs), so reductions
and the GAN / pixel criteria keep float32 precision whatever the networks ran in.
"""
import contextlib

import torch

__all__ = ['MIXED_PRECISION', 'MixedPrecision']

MIXED_PRECISION = {'none': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


class MixedPrecision:
    """Autocast and gradient scaling for one training run on ``device``."""

    def __init__(self, mode='none', device='cpu'):
        if mode not in MIXED_PRECISION:
            raise ValueError(f"train.mixed_precision must be one of {', '.join(MIXED_PRECISION)}, got {mode!r}.")
        self.mode = mode
        self.dtype = MIXED_PRECISION[mode]
        self.device_type = torch.device(device).type

    @property
    def enabled(self):
        return self.dtype is not None

    def autocast(self):
        """Context for forward passes and losses: autocast to the run's dtype, or nothing in float32."""
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self):
        """A gradient scaler for one optimizer: active in fp16, a pass-through otherwise."""
        return torch.amp.GradScaler(self.device_type, enabled=self.mode == 'fp16')

    def __repr__(self):
        return f'MixedPrecision({self.mode!r}, {self.device_type!r})'
