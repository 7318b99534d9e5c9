"""upfirdn2d and the fused leaky ReLU: fast vs reference implementations, gradients, double backward."""
import itertools
import math

import pytest
import torch
from torch.nn import functional as F

from gfpgan.archs.ops import fused_leaky_relu, fused_leaky_relu_ref, upfirdn2d, upfirdn2d_ref
from gfpgan.archs.stylegan2_arch import make_resample_kernel

DEVICES = ['cpu'] + (['cuda'] if torch.cuda.is_available() else [])

# (up, down, pad, kernel taps) covering the StyleGAN2 uses and odd corners (negative pads, odd kernels)
CASES = [
    (2, 1, (2, 1), (1, 3, 3, 1)),  # ToRGB skip upsampling
    (1, 1, (1, 1), (1, 3, 3, 1)),  # smoothing after the transposed conv
    (1, 1, (2, 2), (1, 3, 3, 1)),  # smoothing before a strided 3x3 conv
    (1, 2, (1, 1), (1, 3, 3, 1)),  # FIR downsampling
    (2, 2, (1, 1), (1, 3, 3, 1)),
    (3, 1, (2, 2), (1, 2, 1)),
    (1, 3, (0, 0), (1, 1, 1)),
    (2, 1, (-1, 2, 0, 1), (1, 3, 3, 1)),  # crop on one side, separate x/y pads
    (1, 1, (-2, -1), (1, 4, 6, 4, 1)),
    (4, 2, (3, 4), (1, 3, 3, 1)),
]


def _kernel(taps, up):
    return make_resample_kernel(list(taps)) * up**2


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('up,down,pad,taps', CASES)
def test_upfirdn2d_fast_equals_reference(device, up, down, pad, taps):
    torch.manual_seed(0)
    x = torch.randn(2, 3, 11, 9, device=device)
    k = _kernel(taps, up).to(device)
    ref = upfirdn2d_ref(x, k, up, down, pad)
    out = upfirdn2d(x, k, up, down, pad)
    assert out.shape == ref.shape
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)


def test_upfirdn2d_reference_definition_on_a_known_case():
    # 1-D view: zero insertion [a, 0, b, 0], pad 1 left / 1 right, kernel [1, 2] -> true convolution
    x = torch.tensor([[[[1.0, 3.0]]]])
    k = torch.tensor([[1.0, 2.0]])
    out = upfirdn2d_ref(x, k, up=2, down=1, pad=(1, 1, 0, 0))
    # row 0: padded z = [0, 1, 0, 3, 0, 0]; y[n] = 2 * z[n] + 1 * z[n + 1]; row 1 is all inserted zeros
    assert out.shape == (1, 1, 2, 5)
    assert out[0, 0, 0].tolist() == [1.0, 2.0, 3.0, 6.0, 0.0]
    assert out[0, 0, 1].tolist() == [0.0] * 5


def test_upfirdn2d_output_size_and_asymmetric_kernel():
    x = torch.randn(1, 2, 7, 5, dtype=torch.float64)
    k = torch.arange(1.0, 7.0, dtype=torch.float64).view(2, 3)  # non-symmetric, non-square
    for up, down, pad in itertools.product((1, 2), (1, 2), [(1, 2, 0, 1), (0, 0, 1, 1)]):
        ref = upfirdn2d_ref(x, k, up, down, pad)
        out = upfirdn2d(x, k, up, down, pad)
        h = (7 * up + pad[2] + pad[3] - 2) // down + 1
        w = (5 * up + pad[0] + pad[1] - 3) // down + 1
        assert ref.shape == (1, 2, h, w)
        torch.testing.assert_close(out, ref)


@pytest.mark.parametrize('impl', ['ref', 'fast'])
@pytest.mark.parametrize('up,down,pad', [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (2, 2))])
def test_upfirdn2d_double_backward(impl, up, down, pad):
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    k = _kernel((1, 3, 3, 1), up).double()

    def f(inp):
        return upfirdn2d(inp, k, up, down, pad, impl=impl)

    assert torch.autograd.gradcheck(f, (x, ))
    assert torch.autograd.gradgradcheck(f, (x, ))


def test_upfirdn2d_rejects_bad_arguments():
    x = torch.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match='2-D kernel'):
        upfirdn2d(x, torch.ones(4), 1, 1, (0, 0))
    with pytest.raises(ValueError, match='factors'):
        upfirdn2d(x, torch.ones(2, 2), 0, 1, (0, 0))
    with pytest.raises(ValueError, match='impl'):
        upfirdn2d(x, torch.ones(2, 2), impl='cuda_ext')


@pytest.mark.parametrize('device', DEVICES)
def test_fused_leaky_relu_fast_equals_reference(device):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 4, 3, device=device)
    b = torch.randn(5, device=device)
    ref = F.leaky_relu(x + b.view(1, 5, 1, 1), 0.2) * math.sqrt(2)
    torch.testing.assert_close(fused_leaky_relu_ref(x, b), ref, rtol=0, atol=0)
    with torch.no_grad():
        fast = fused_leaky_relu(x, b)
    torch.testing.assert_close(fast, ref, rtol=0, atol=0)
    assert not torch.equal(x, fast)  # the input is not modified in place
    x2 = torch.randn(3, 5, device=device)  # EqualLinear outputs: (B, C)
    torch.testing.assert_close(fused_leaky_relu(x2, b), fused_leaky_relu_ref(x2, b))


def test_fused_leaky_relu_double_backward():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(fused_leaky_relu, (x, b))
    assert torch.autograd.gradgradcheck(fused_leaky_relu, (x, b))


def test_r1_penalty_through_the_discriminator_is_differentiable():
    """R1 = |d D(x) / d x|^2 needs the double backward through every op of the discriminator."""
    from gfpgan.archs import StyleGAN2Discriminator
    torch.manual_seed(0)
    net = StyleGAN2Discriminator(out_size=16, channel_multiplier=1, narrow=1 / 32)
    x = torch.randn(2, 3, 16, 16, requires_grad=True)
    grad, = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    penalty = grad.pow(2).sum()
    penalty.backward()
    weights = {n: p for n, p in net.named_parameters() if n.endswith('weight')}
    assert all(p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0 for p in weights.values())
