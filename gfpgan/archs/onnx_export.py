"""ONNX export of a GFPGANv1Clean generator with a dynamic batch axis: the modulated convolution in its
input-scaling form (one graph for every batch size), the restored-image wrapper, the export and the onnxruntime
check (scripts/export_onnx.py is the command line)."""
import contextlib
import warnings

import torch
from torch.nn import functional as F

from . import stylegan2_base

__all__ = ['modulated_conv2d_input_scaled', 'batch_independent_modulated_conv', 'RestoredImage', 'export',
           'max_difference']


def modulated_conv2d_input_scaled(x, weight, style, demodulate, eps, padding):
    """Same result as ``stylegan2_base.modulated_conv2d`` (to float32 rounding) with a weight shared by the
    batch: conv(x * style, weight) * demod. x: (B, C_in, H, W); weight: (1, C_out, C_in, k, k); style: (B, C_in)."""
    b, c = style.shape
    out = F.conv2d(x * style.reshape(b, c, 1, 1), weight[0], padding=padding)
    if demodulate:
        demod = torch.rsqrt((weight * style.reshape(b, 1, c, 1, 1)).pow(2).sum([2, 3, 4]) + eps)
        out = out * demod.reshape(b, -1, 1, 1)
    return out


@contextlib.contextmanager
def batch_independent_modulated_conv():
    """Within the block, StyleGAN2 modulated convs run in their input-scaling form (exportable with a dynamic batch)."""
    original = stylegan2_base.modulated_conv2d
    stylegan2_base.modulated_conv2d = modulated_conv2d_input_scaled
    try:
        yield
    finally:
        stylegan2_base.modulated_conv2d = original


class RestoredImage(torch.nn.Module):
    """GFPGANv1Clean's restored image only, with the stored noise: (B, 3, S, S) -> (B, 3, S, S), both in [-1, 1]."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net(x, return_rgb=False, randomize_noise=False)[0]


def export(net, path, size, opset=17):
    """Write ``net`` (a GFPGANv1Clean) to ``path`` as ONNX with a dynamic batch axis (TorchScript-based exporter)."""
    model = RestoredImage(net).eval()
    dummy = torch.zeros(1, 3, size, size)
    # autograd stays on while tracing: under no_grad the networks add skips in place, which the tracer records wrongly
    with torch.enable_grad(), batch_independent_modulated_conv(), warnings.catch_warnings():
        # the input-shape checks are Python conditions; the tracer warns that they become constants, as intended
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        # the TorchScript-based exporter is chosen on purpose (the torch.export-based default needs onnxscript)
        warnings.filterwarnings('ignore', category=DeprecationWarning, module=r'torch\.onnx.*')
        warnings.filterwarnings('ignore', message='.*legacy TorchScript-based ONNX export.*')
        torch.onnx.export(
            model, (dummy, ),
            path,
            input_names=['input'],
            output_names=['output'],
            dynamic_axes={
                'input': {
                    0: 'batch'
                },
                'output': {
                    0: 'batch'
                }
            },
            opset_version=opset,
            do_constant_folding=True,
            dynamo=False)


def max_difference(net, path, size, batch=2, seed=0):
    """Largest |onnxruntime - PyTorch| on a random (batch, 3, size, size) input in [-1, 1]."""
    import onnxruntime
    x = torch.rand(batch, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    with torch.no_grad():
        expected = net(x, return_rgb=False, randomize_noise=False)[0].numpy()
    session = onnxruntime.InferenceSession(path, providers=['CPUExecutionProvider'])
    got = session.run(['output'], {'input': x.numpy()})[0]
    if got.shape != expected.shape:
        raise RuntimeError(f'ONNX output has shape {got.shape}, PyTorch {expected.shape}.')
    return float(abs(got - expected).max())
