"""Pure-PyTorch StyleGAN2 ops: each with a reference implementation beside the fast one."""
from .fused_act import FusedLeakyReLU, fused_leaky_relu, fused_leaky_relu_ref
from .upfirdn2d import upfirdn2d, upfirdn2d_ref

__all__ = ['FusedLeakyReLU', 'fused_leaky_relu', 'fused_leaky_relu_ref', 'upfirdn2d', 'upfirdn2d_ref']
