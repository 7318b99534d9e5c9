"""The StyleGAN2 ops on CUDA (float32, both implementations) against their reference implementation on the CPU in
float64: forward, gradients and the double backward that R1 needs; gradgradcheck on CUDA in float64."""
import pytest
import torch

from cudautil import CUDA_TESTS, DEVICE, ieee_float32, relative_errors
from gfpgan.archs.ops import fused_leaky_relu, fused_leaky_relu_ref, upfirdn2d, upfirdn2d_ref
from gfpgan.archs.stylegan2_arch import make_resample_kernel

pytestmark = CUDA_TESTS

TOL = 1e-5  # max|cuda float32 - cpu float64| <= TOL * max|reference| (float32 rounding is ~1e-7 here)

# (up, down, pad, kernel taps): the StyleGAN2 uses and odd corners, as tests/archs/test_ops.py
CASES = [
    (2, 1, (2, 1), (1, 3, 3, 1)),
    (1, 1, (1, 1), (1, 3, 3, 1)),
    (1, 1, (2, 2), (1, 3, 3, 1)),
    (1, 2, (1, 1), (1, 3, 3, 1)),
    (2, 2, (1, 1), (1, 3, 3, 1)),
    (3, 1, (2, 2), (1, 2, 1)),
    (1, 3, (0, 0), (1, 1, 1)),
    (2, 1, (-1, 2, 0, 1), (1, 3, 3, 1)),
    (1, 1, (-2, -1), (1, 4, 6, 4, 1)),
    (4, 2, (3, 4), (1, 3, 3, 1)),
]


def _kernel(taps, up):
    return make_resample_kernel(list(taps)) * up**2


def _value_grad_gradgrad(f, inputs, upstream):
    """f(*inputs), the gradients of <f, upstream> w.r.t. ``inputs``, and the gradient w.r.t. ``upstream`` of the
    squared norm of those gradients (a double backward through the op's backward)."""
    out = f(*inputs)
    grads = torch.autograd.grad(out, inputs, grad_outputs=upstream, create_graph=True)
    second, = torch.autograd.grad(sum(g.pow(2).sum() for g in grads), upstream)
    return out, grads, second


def _assert_close(name, got, want, tol=TOL):
    err, _ = relative_errors(got, want)
    assert err <= tol, f'{name}: max|cuda - cpu float64| = {err:.3g} x max|ref| > {tol:g}'


@pytest.mark.parametrize('impl', ['fast', 'ref'])
@pytest.mark.parametrize('up,down,pad,taps', CASES)
def test_upfirdn2d_cuda_float32_equals_cpu_float64_reference(impl, up, down, pad, taps):
    torch.manual_seed(0)
    x32 = torch.randn(2, 3, 11, 9, device=DEVICE)
    k = _kernel(taps, up)
    with torch.no_grad(), ieee_float32():
        ref = upfirdn2d_ref(x32.double().cpu(), k.double(), up, down, pad)
        out = upfirdn2d(x32, k.to(DEVICE), up, down, pad, impl=impl)
    assert out.device.type == DEVICE and out.dtype == torch.float32 and out.shape == ref.shape
    _assert_close('forward', out, ref)

    upstream64 = torch.randn(ref.shape, dtype=torch.float64)
    x64 = x32.double().cpu().requires_grad_()
    want = _value_grad_gradgrad(lambda x: upfirdn2d_ref(x, k.double(), up, down, pad), (x64, ),
                                upstream64.requires_grad_())
    x = x32.clone().requires_grad_()
    with ieee_float32():
        got = _value_grad_gradgrad(lambda x: upfirdn2d(x, k.to(DEVICE), up, down, pad, impl=impl), (x, ),
                                   upstream64.detach().float().to(DEVICE).requires_grad_())
    _assert_close('gradient', got[1][0], want[1][0])
    _assert_close('double backward', got[2], want[2])


@pytest.mark.parametrize('up,down,pad', [(2, 1, (2, 1)), (1, 2, (1, 1)), (1, 1, (2, 2))])
def test_upfirdn2d_gradgradcheck_on_cuda(up, down, pad):
    torch.manual_seed(0)
    x = torch.randn(1, 2, 6, 5, dtype=torch.float64, device=DEVICE, requires_grad=True)
    k = _kernel((1, 3, 3, 1), up).double().to(DEVICE)

    def f(inp):
        return upfirdn2d(inp, k, up, down, pad)

    assert torch.autograd.gradcheck(f, (x, ))
    assert torch.autograd.gradgradcheck(f, (x, ))


@pytest.mark.parametrize('shape', [(2, 5, 4, 3), (3, 5)])
def test_fused_leaky_relu_cuda_float32_equals_cpu_float64_reference(shape):
    torch.manual_seed(0)
    x32 = torch.randn(shape, device=DEVICE)
    b32 = torch.randn(5, device=DEVICE)
    ref = fused_leaky_relu_ref(x32.double().cpu(), b32.double().cpu())
    with torch.no_grad():
        fast = fused_leaky_relu(x32, b32)  # the in-place inference path
    _assert_close('fast forward', fast, ref)
    assert not torch.equal(fast, x32)

    upstream64 = torch.randn(shape, dtype=torch.float64)
    want = _value_grad_gradgrad(fused_leaky_relu_ref, (x32.double().cpu().requires_grad_(),
                                                       b32.double().cpu().requires_grad_()),
                                upstream64.requires_grad_())
    got = _value_grad_gradgrad(fused_leaky_relu, (x32.clone().requires_grad_(), b32.clone().requires_grad_()),
                               upstream64.detach().float().to(DEVICE).requires_grad_())
    _assert_close('forward', got[0], want[0])
    _assert_close('gradient x', got[1][0], want[1][0])
    _assert_close('gradient bias', got[1][1], want[1][1])
    _assert_close('double backward', got[2], want[2])


def test_fused_leaky_relu_gradgradcheck_on_cuda():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, 4, dtype=torch.float64, device=DEVICE, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, device=DEVICE, requires_grad=True)
    assert torch.autograd.gradcheck(fused_leaky_relu, (x, b))
    assert torch.autograd.gradgradcheck(fused_leaky_relu, (x, b))
