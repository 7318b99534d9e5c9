"""Patches that let the official gfpgan 1.3.8 / basicsr 1.4.2 run on a current CPU-only PyTorch, for the scripts
that regenerate tests/data/official_outputs/ in the official code's environment (never imported by the tests).

- BasicSR's fused bias + leaky ReLU has no CPU path: it is given its defining formula.
- torch.optim.Adam refuses the original's integer beta 0 ``(0**1, 0.99**1)``: betas are cast to float.
"""
import torch
import torch.nn.functional as F


def fused_leaky_relu_cpu(input, bias, negative_slope=0.2, scale=2**0.5):
    rest_dim = [1] * (input.ndim - bias.ndim - 1)
    return F.leaky_relu(input + bias.view(1, bias.shape[0], *rest_dim), negative_slope=negative_slope) * scale


def patch_fused_act(*modules):
    for module in modules:
        module.fused_leaky_relu = fused_leaky_relu_cpu


def patch_adam_betas():
    init = torch.optim.Adam.__init__

    def adam_init(self, params, lr=1e-3, betas=(0.9, 0.999), **kwargs):
        init(self, params, lr, betas=tuple(float(b) for b in betas), **kwargs)

    torch.optim.Adam.__init__ = adam_init
