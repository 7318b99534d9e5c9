"""Background upsampler: tiling exactness, odd sizes, image modes and dtypes, outscale, offline errors."""
import numpy as np
import pytest
import torch

from gfpgan.archs.rrdbnet_arch import RRDBNet
from gfpgan.restoration.background import RealESRGANUpsampler, tiled_forward
from gfpgan.utils.weights import WeightsNotFoundError

NUM_BLOCK = 1


def small_net(seed=0):
    torch.manual_seed(seed)
    return RRDBNet(3, 3, scale=2, num_feat=8, num_block=NUM_BLOCK, num_grow_ch=4).eval()


def receptive_radius_bound(num_block):
    """Input pixels an x2 RRDBNet output pixel can see on each side: the body runs at half the input
    resolution with 2 + 15 * num_block chained 3x3 convs (conv_first, 5 per dense block, 3 dense blocks per RRDB,
    conv_body); the four 3x3 convs after the nearest upsamplings and the pixel-unshuffle grid add < 2 body pixels."""
    return 2 * (2 + 15 * num_block + 2)


@pytest.fixture(scope='module')
def net():
    return small_net()


@pytest.fixture(scope='module')
def image():
    return torch.rand(1, 3, 77, 91, generator=torch.Generator().manual_seed(1))


def test_receptive_radius_bound_holds(net):
    x = torch.rand(1, 3, 128, 128, requires_grad=True)
    for out_pos in (128, 129):
        x.grad = None
        net(x)[0, :, out_pos, out_pos].sum().backward()
        rows = (x.grad.abs().sum(1)[0] > 0).any(1).nonzero()[:, 0]
        centre = out_pos // 2
        radius = max(centre - rows.min().item(), rows.max().item() - centre)
        assert radius <= receptive_radius_bound(NUM_BLOCK) == 38
    assert radius >= 36  # the bound is tight: the measured radius is 38 for one block


@pytest.mark.parametrize('tile', [32, 20, 17])
def test_tiling_is_exact_with_a_pad_covering_the_receptive_field(net, image, tile):
    with torch.no_grad():
        full = net(torch.nn.functional.pad(image, (0, 1, 0, 1), mode='reflect'))[:, :, :154, :182]
    out = tiled_forward(net, image, 2, tile, tile_pad=receptive_radius_bound(NUM_BLOCK))
    assert out.shape == (1, 3, 154, 182)
    # measured max |difference| 6e-8 (float32 rounding of convolutions on different tile sizes)
    assert (out - full).abs().max().item() < 1e-5


def test_tiling_with_a_small_pad_is_approximate_but_bounded(net, image):
    full = tiled_forward(net, image, 2, 0)
    err_small = (tiled_forward(net, image, 2, 17, tile_pad=3) - full).abs().max().item()
    err_none = (tiled_forward(net, image, 2, 32, tile_pad=0) - full).abs().max().item()
    # measured: pad 3 (rounded up to 4) -> 0.014, pad 0 -> 0.085, with outputs up to 0.084 in magnitude
    assert 1e-5 < err_small < 0.05
    assert err_small < err_none


def test_tile_zero_and_big_tile_run_the_whole_image(net, image):
    whole = tiled_forward(net, image, 2, 0)
    assert torch.equal(tiled_forward(net, image, 2, 1000), whole)


@pytest.mark.parametrize('size', [(1, 1), (7, 3), (33, 64)])
def test_odd_sizes(net, size):
    x = torch.rand(1, 3, *size)
    assert tiled_forward(net, x, 2, 0).shape == (1, 3, size[0] * 2, size[1] * 2)
    assert tiled_forward(net, x, 2, 5, 2).shape == (1, 3, size[0] * 2, size[1] * 2)


def make_upsampler(**kwargs):
    kwargs.setdefault('tile', 16)
    return RealESRGANUpsampler(scale=2, device='cpu', net=small_net(), **kwargs)


@pytest.mark.parametrize('shape,dtype,mode', [
    ((21, 30), np.uint8, 'L'),
    ((21, 30, 1), np.uint8, 'L'),
    ((21, 30, 3), np.uint8, 'RGB'),
    ((21, 30, 3), np.uint16, 'RGB'),
    ((21, 30, 4), np.uint8, 'RGBA'),
    ((21, 30, 4), np.uint16, 'RGBA'),
])
def test_enhance_keeps_mode_and_dtype(shape, dtype, mode):
    rng = np.random.default_rng(0)
    img = rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)
    out, img_mode = make_upsampler().enhance(img)
    assert img_mode == mode
    assert out.dtype == dtype
    expected = (42, 60) if mode == 'L' else (42, 60, shape[2])
    assert out.shape == expected


def test_sixteen_bit_uses_the_full_range():
    img = np.full((10, 12, 3), 40000, np.uint16)
    out8, _ = make_upsampler().enhance((img // 257).astype(np.uint8))
    out16, _ = make_upsampler().enhance(img)
    np.testing.assert_allclose(out16.astype(np.float64) / 65535, out8.astype(np.float64) / 255, atol=2 / 255)


class NearestX2(torch.nn.Module):
    """A stand-in x2 network that repeats pixels and counts its calls."""
    scale = 2

    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return torch.nn.functional.interpolate(x, scale_factor=2, mode='nearest')


def test_constant_alpha_is_resized_and_varying_alpha_goes_through_the_network():
    net = NearestX2()
    up = RealESRGANUpsampler(scale=2, tile=0, device='cpu', net=net)
    img = np.random.default_rng(0).integers(0, 256, size=(12, 14, 4), dtype=np.uint8)
    img[:, :, 3] = 200
    out, _ = up.enhance(img)
    assert (out[:, :, 3] == 200).all() and net.calls == 1
    np.testing.assert_array_equal(out[:, :, :3], img[:, :, :3].repeat(2, 0).repeat(2, 1))
    img[:6, :, 3] = 0
    out, _ = up.enhance(img)
    assert net.calls == 3
    np.testing.assert_array_equal(out[:, :, 3], img[:, :, 3].repeat(2, 0).repeat(2, 1))


def test_outscale_resizes_with_lanczos():
    img = np.zeros((21, 30, 3), np.uint8)
    up = make_upsampler()
    assert up.enhance(img, outscale=3.5)[0].shape == (73, 105, 3)
    assert up.enhance(img, outscale=2)[0].shape == (42, 60, 3)
    assert up.enhance(np.zeros((21, 30), np.uint8), outscale=1)[0].shape == (21, 30)


def test_pre_pad_and_tiling_do_not_change_the_size_and_match_untiled():
    img = np.random.default_rng(1).integers(0, 256, size=(25, 19, 3), dtype=np.uint8)
    whole, _ = make_upsampler(tile=0).enhance(img)
    tiled, _ = make_upsampler(tile=8, tile_pad=40).enhance(img)
    padded, _ = make_upsampler(tile=0, pre_pad=4).enhance(img)
    assert whole.shape == tiled.shape == padded.shape == (50, 38, 3)
    assert np.abs(whole.astype(int) - tiled).max() <= 1
    # pre_pad only changes what the network sees near the bottom/right border
    assert np.abs(whole[:30, :20].astype(int) - padded[:30, :20]).max() <= 1


def test_bf16_runs_on_cpu():
    img = np.random.default_rng(2).integers(0, 256, size=(8, 10, 3), dtype=np.uint8)
    out, _ = make_upsampler(bf16=True, tile=0).enhance(img)
    ref, _ = make_upsampler(tile=0).enhance(img)
    assert out.shape == ref.shape and np.abs(out.astype(int) - ref).max() <= 8


def test_bad_inputs_are_refused():
    up = make_upsampler()
    with pytest.raises(ValueError, match='uint8 or uint16'):
        up.enhance(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match=r'\(H, W, 3\)'):
        up.enhance(np.zeros((4, 4, 2), np.uint8))
    with pytest.raises(ValueError, match='at most one'):
        RealESRGANUpsampler(half=True, bf16=True, net=small_net())


def test_missing_weights_offline_names_the_file(isolated_weights):
    with pytest.raises(WeightsNotFoundError) as info:
        RealESRGANUpsampler(scale=2, device='cpu')
    message = str(info.value)
    assert 'RealESRGAN_x2plus.pth' in message
    assert 'https://github.com/xinntao/Real-ESRGAN/releases/download/v0.2.1/RealESRGAN_x2plus.pth' in message
    assert '\n' not in message
