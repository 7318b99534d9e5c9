"""Degradations: kernels have the right shape and sigma, each function does what it says on known images, and
randomness comes only from the rng argument."""
import math

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata
from torchvision.transforms import functional as TF

from gfpgan.data import degradations as deg


@pytest.fixture(scope='module')
def face():
    """scikit-image's astronaut photo, 128x128, RGB float32 in [0, 1]."""
    return cv2.resize(skdata.astronaut(), (128, 128), interpolation=cv2.INTER_AREA).astype(np.float32) / 255


def moments(kernel):
    """Sum and the 2x2 covariance of a kernel seen as a distribution over (x, y) offsets."""
    grid = deg.mesh_grid(kernel.shape[0])
    mean = np.einsum('ij,ijk->k', kernel, grid)
    centred = grid - mean
    return kernel.sum(), mean, np.einsum('ij,ijk,ijl->kl', kernel, centred, centred)


# ---------------------------------------------------------------------------------------------------- kernels
def test_mesh_grid_is_centred():
    grid = deg.mesh_grid(5)
    assert grid.shape == (5, 5, 2)
    assert grid[2, 2].tolist() == [0, 0] and grid[0, 4].tolist() == [2, -2]  # (x, y) of the top-right tap
    with pytest.raises(ValueError, match='odd'):
        deg.mesh_grid(4)


@pytest.mark.parametrize('sigma', [0.8, 2.0, 3.5])
def test_isotropic_gaussian_is_normalised_symmetric_with_its_sigma(sigma):
    k = deg.bivariate_gaussian(41, sigma)
    total, mean, cov = moments(k)
    assert total == pytest.approx(1, abs=1e-12)
    np.testing.assert_allclose(mean, 0, atol=1e-12)
    np.testing.assert_allclose(k, k.T, atol=1e-15)
    np.testing.assert_allclose(k, k[::-1], atol=1e-15)
    np.testing.assert_allclose(cov, np.diag([sigma**2] * 2), rtol=1e-3, atol=1e-6)


def test_anisotropic_gaussian_has_the_rotated_covariance():
    sx, sy, theta = 4.0, 1.5, 0.6
    k = deg.bivariate_gaussian(41, sx, sy, theta, isotropic=False)
    total, mean, cov = moments(k)
    assert total == pytest.approx(1)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)  # point symmetric
    assert not np.allclose(k, k.T)  # but not mirror symmetric once rotated
    np.testing.assert_allclose(cov, deg.sigma_matrix2(sx, sy, theta), rtol=2e-3, atol=1e-3)
    main_axis = np.linalg.eigh(cov)[1][:, 1]
    assert abs(abs(math.atan2(main_axis[1], main_axis[0])) -
               theta) < 1e-3 or abs(abs(math.atan2(main_axis[1], main_axis[0])) - (math.pi - theta)) < 1e-3


def test_generalized_and_plateau_kernels():
    gauss = deg.bivariate_gaussian(21, 2.0)
    np.testing.assert_allclose(deg.bivariate_generalized_gaussian(21, 2.0, beta=1), gauss, atol=1e-15)
    flat = deg.bivariate_generalized_gaussian(21, 2.0, beta=4)
    peaked = deg.bivariate_generalized_gaussian(21, 2.0, beta=0.5)
    centre = 10
    # larger beta: flatter top and a sharper fall-off; smaller beta: peakier with heavier tails
    assert flat[centre, centre + 1] / flat[centre, centre] > gauss[centre, centre + 1] / gauss[centre, centre]
    assert peaked[centre, 0] > gauss[centre, 0]
    plateau = deg.bivariate_plateau(21, 2.0, 1.0, 0.3, beta=2, isotropic=False)
    assert plateau.sum() == pytest.approx(1) and (plateau > 0).all()
    np.testing.assert_allclose(plateau, plateau[::-1, ::-1], atol=1e-15)


def test_random_mixed_kernels_draws_from_the_requested_families():
    rng = np.random.default_rng(0)
    for _ in range(20):
        k = deg.random_mixed_kernels(['iso'], [1], 41, (1, 3), (1, 3), rng=rng)
        _, _, cov = moments(k)
        np.testing.assert_allclose(k, k.T, atol=1e-15)
        assert 1**2 * 0.99 <= cov[0, 0] <= 3**2 * 1.01
    anisotropic = [deg.random_mixed_kernels(['aniso'], [1], 21, (0.5, 4), (0.5, 4), rng=rng) for _ in range(10)]
    assert any(not np.allclose(k, k.T, atol=1e-6) for k in anisotropic)
    for kind in deg.KERNEL_TYPES:
        k = deg.random_mixed_kernels([kind], [1], 21, rng=rng)
        assert k.shape == (21, 21) and k.sum() == pytest.approx(1)


def test_random_mixed_kernels_follows_kernel_prob_and_is_reproducible():
    picks = [
        np.allclose(k, k.T) for k in (
            deg.random_mixed_kernels(['iso', 'aniso'], [0.8, 0.2], 21, (1, 3), (1, 3), rng=np.random.default_rng(i))
            for i in range(400))
    ]
    assert 0.7 < np.mean(picks) < 0.9
    a = deg.random_mixed_kernels(['iso', 'aniso'], [0.5, 0.5], 41, (0.1, 10), (0.1, 10), rng=np.random.default_rng(3))
    b = deg.random_mixed_kernels(['iso', 'aniso'], [0.5, 0.5], 41, (0.1, 10), (0.1, 10), rng=np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_kernel_option_errors_are_clear():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match='kernel_list'):
        deg.random_mixed_kernels(['gauss'], [1], rng=rng)
    with pytest.raises(ValueError, match='kernel_prob'):
        deg.random_mixed_kernels(['iso', 'aniso'], [1], rng=rng)
    with pytest.raises(ValueError, match='sigma_x_range'):
        deg.random_mixed_kernels(['iso'], [1], 21, (5, 1), rng=rng)
    with pytest.raises(ValueError, match='odd'):
        deg.random_mixed_kernels(['iso'], [1], 20, rng=rng)


# ---------------------------------------------------------------------------------------------------- filtering
@pytest.mark.parametrize(
    'kernel',
    [
        deg.bivariate_gaussian(41, 0.1),
        deg.bivariate_gaussian(41, 1.2),
        deg.bivariate_gaussian(41, 9.0),
        deg.bivariate_gaussian(41, 7.0, 0.4, 0.9, isotropic=False),
        deg.bivariate_gaussian(41, 2.0, 6.0, 0.0, isotropic=False),
        deg.bivariate_plateau(21, 3.0, 1.0, -1.0, beta=1.5, isotropic=False),
        np.random.default_rng(1).uniform(0, 1, (15, 15)),  # not symmetric: correlation, not convolution
        np.random.default_rng(2).uniform(0, 1, (5, 5)),
    ],
    ids=['iso0.1', 'iso1.2', 'iso9', 'aniso-thin', 'aniso-axis', 'plateau', 'random15', 'random5'])
def test_filter2d_matches_opencv(face, kernel):
    kernel = kernel / kernel.sum()
    expected = cv2.filter2D(face, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    out = deg.filter2d(face, kernel)
    assert out.shape == face.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, atol=2e-6)


def test_filter2d_on_images_smaller_than_the_kernel():
    img = np.random.default_rng(0).uniform(0, 1, (12, 9, 3)).astype(np.float32)
    kernel = deg.bivariate_gaussian(41, 6.0, 2.0, 0.5, isotropic=False)
    np.testing.assert_allclose(deg.filter2d(img, kernel), cv2.filter2D(img, -1, kernel), atol=2e-6)


def test_trim_kernel_keeps_the_centre_and_the_mass():
    k = deg.bivariate_gaussian(41, 1.0)
    t = deg.trim_kernel(k)
    assert t.shape[0] == t.shape[1] and t.shape[0] % 2 == 1 and t.shape[0] < 41
    assert t[t.shape[0] // 2, t.shape[0] // 2] == k[20, 20]
    assert k.sum() - t.sum() <= deg.KERNEL_TRIM_TOLERANCE
    wide = deg.bivariate_gaussian(41, 10.0)
    assert deg.trim_kernel(wide).shape == (41, 41)


# ---------------------------------------------------------------------------------------------------- resampling
def test_downsampled_size_floors_like_the_original():
    assert deg.downsampled_size(512, 512, 3.3) == (155, 155)
    assert deg.downsampled_size(512, 512, 0.8) == (639, 639)  # float floor division, as the original: 512 // 0.8
    assert deg.downsampled_size(8, 8, 100) == (1, 1)


def test_resize_bilinear(face):
    small = deg.resize_bilinear(face, (32, 48))
    assert small.shape == (32, 48, 3)
    flat = np.full((40, 40, 3), 0.25, np.float32)
    np.testing.assert_allclose(deg.resize_bilinear(flat, (13, 77)), 0.25, atol=1e-7)


# ---------------------------------------------------------------------------------------------------- noise, JPEG
def test_gaussian_noise_has_sigma_in_255_units():
    img = np.full((256, 256, 3), 0.5, np.float32)
    before = img.copy()
    out = deg.add_gaussian_noise(img, 10, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(img, before)  # input untouched
    assert out.dtype == np.float32
    assert (out - img).std() * 255 == pytest.approx(10, rel=0.02)
    assert abs((out - img).mean()) * 255 < 0.1
    gray = deg.add_gaussian_noise(img, 10, rng=np.random.default_rng(0), gray_noise=True)
    np.testing.assert_array_equal(gray[..., 0], gray[..., 2])
    clipped = deg.add_gaussian_noise(np.zeros((64, 64, 3), np.float32), 50, rng=np.random.default_rng(0))
    assert clipped.min() == 0 and clipped.max() <= 1
    rounded = deg.add_gaussian_noise(img, 5, rng=np.random.default_rng(0), rounds=True)
    np.testing.assert_allclose(rounded * 255, np.round(rounded * 255), atol=1e-4)


def test_random_gaussian_noise_draws_sigma_from_the_range():
    img = np.full((128, 128, 3), 0.5, np.float32)
    sigmas = [(deg.random_add_gaussian_noise(img, (0, 20), rng=np.random.default_rng(i)) - img).std() * 255
              for i in range(30)]
    assert 0 <= min(sigmas) and max(sigmas) <= 20.5 and np.std(sigmas) > 3


def test_jpeg_matches_an_opencv_round_trip_of_the_bgr_image(face):
    out = deg.jpeg_compress(face, 70)
    bgr = cv2.cvtColor(np.rint(face * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)
    ok, enc = cv2.imencode('.jpg', bgr, [cv2.IMWRITE_JPEG_QUALITY, 70])
    expected = cv2.cvtColor(cv2.imdecode(enc, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
    np.testing.assert_array_equal(out, expected)
    errors = [np.abs(deg.jpeg_compress(face, q) - face).mean() for q in (10, 60, 95)]
    assert errors[0] > errors[1] > errors[2] > 0
    np.testing.assert_array_equal(deg.jpeg_compress(face, 70.9), out)  # integer quality, truncated
    with pytest.raises(ValueError, match='quality'):
        deg.jpeg_compress(face, 101)


def test_random_jpeg_quality_truncates_like_the_original():
    rng = np.random.default_rng(0)
    qualities = {deg.random_jpeg_quality((60, 100), rng=rng) for _ in range(3000)}
    assert qualities == set(range(60, 100))


# ---------------------------------------------------------------------------------------------------- colour
def test_rgb_shift_and_grayscale(face):
    shifted = deg.rgb_shift(face, (0.1, -0.2, 0.0))
    inside = (face[..., 0] < 0.85) & (face[..., 1] > 0.25)
    np.testing.assert_allclose(
        (shifted - face)[inside][:, :2], np.broadcast_to([0.1, -0.2], (inside.sum(), 2)), atol=1e-6)
    assert shifted.min() >= 0 and shifted.max() <= 1
    shift = deg.random_rgb_shift(np.full((4, 4, 3), 0.5, np.float32), 20 / 255, rng=np.random.default_rng(0))
    assert np.all(np.abs(shift[0, 0] - 0.5) <= 20 / 255 + 1e-7) and len(set(shift[0, 0].tolist())) == 3
    gray = deg.rgb_to_grayscale(face)
    np.testing.assert_array_equal(gray[..., 0], gray[..., 1])
    np.testing.assert_allclose(gray[..., 0], face @ np.array([0.299, 0.587, 0.114], np.float32), atol=1e-5)


@pytest.mark.parametrize('name,factor', [('brightness', 1.4), ('brightness', 0.6), ('contrast', 0.5), ('contrast', 1.5),
                                         ('saturation', 0.0), ('saturation', 1.5), ('hue', 0.1), ('hue', -0.1),
                                         ('hue', 0.5)])
def test_colour_adjustments_match_torchvision(face, name, factor):
    ours = getattr(deg, f'adjust_{name}')(face, factor)
    theirs = getattr(TF, f'adjust_{name}')(torch.from_numpy(face).permute(2, 0, 1), factor).permute(1, 2, 0).numpy()
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, atol=2e-5)


def test_random_color_jitter(face):
    np.testing.assert_array_equal(deg.random_color_jitter(face, rng=np.random.default_rng(0)), face)
    ranges = ((0.5, 1.5), (0.5, 1.5), (0, 1.5), (-0.1, 0.1))
    a = deg.random_color_jitter(face, *ranges, rng=np.random.default_rng(5))
    b = deg.random_color_jitter(face, *ranges, rng=np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - face).mean() > 1e-3 and a.min() >= 0 and a.max() <= 1
    # with one adjustment and a degenerate range, the jitter is that adjustment
    np.testing.assert_allclose(
        deg.random_color_jitter(face, None, None, (0.3, 0.3), None, rng=np.random.default_rng(1)),
        deg.adjust_saturation(face, 0.3))


def test_quantize():
    img = np.array([[[0.0, 0.5, 1.2]], [[-0.1, 0.2, 0.999]]], np.float32)
    q = deg.quantize(img)
    np.testing.assert_allclose(q * 255, np.round(q * 255), atol=1e-4)
    assert q.min() == 0 and q.max() == 1


def test_functions_use_only_their_rng(face):
    """Same seed, same output, whatever happened to the global generators in between; the global numpy state is
    never consumed."""
    state = np.random.get_state()
    outs = []
    for _ in range(2):
        rng = np.random.default_rng(11)
        k = deg.random_mixed_kernels(['iso', 'aniso'], [0.5, 0.5], 21, (0.1, 5), (0.1, 5), rng=rng)
        x = deg.filter2d(face, k)
        x = deg.random_add_gaussian_noise(x, (0, 20), rng=rng)
        x = deg.random_jpeg_compress(x, (60, 100), rng=rng)
        x = deg.random_color_jitter(x, (0.5, 1.5), (0.5, 1.5), (0, 1.5), (-0.1, 0.1), rng=rng)
        outs.append(x)
        np.random.rand(10)
        np.random.set_state(state)
    np.testing.assert_array_equal(*outs)
    assert all(a == b if not isinstance(a, np.ndarray) else (a == b).all()
               for a, b in zip(np.random.get_state(), state))


# ------------------------------------------------------------------------------------- sampled, then applied
def test_sampled_then_applied_equals_the_random_functions(face):
    """Each sample_* + applier pair gives the random_* result to the bit and leaves the rng where it leaves it."""
    for i, kind in enumerate(deg.KERNEL_TYPES):
        a, b = np.random.default_rng(i), np.random.default_rng(i)
        params = deg.sample_mixed_kernel([kind], [1], (0.2, 4), (0.2, 4), rng=a)
        assert params['kernel_type'] == kind and ('beta' in params) == (kind not in ('iso', 'aniso'))
        assert np.array_equal(
            deg.mixed_kernel(21, **params), deg.random_mixed_kernels([kind], [1], 21, (0.2, 4), (0.2, 4), rng=b))
        assert a.uniform() == b.uniform()

    a, b = np.random.default_rng(5), np.random.default_rng(5)
    params = deg.sample_gaussian_noise(face.shape, (0, 20), gray_prob=0.5, rng=a)
    assert np.array_equal(
        deg.apply_gaussian_noise(face, params), deg.random_add_gaussian_noise(face, (0, 20), 0.5, rng=b))
    assert a.uniform() == b.uniform()

    a, b = np.random.default_rng(6), np.random.default_rng(6)
    ranges = ((0.5, 1.5), None, (0, 1.5), (-0.1, 0.1))
    adjustments = deg.sample_color_jitter(*ranges, rng=a)
    assert sorted(name for name, _ in adjustments) == ['brightness', 'hue', 'saturation']
    assert np.array_equal(deg.color_jitter(face, adjustments), deg.random_color_jitter(face, *ranges, rng=b))
    assert np.array_equal(deg.rgb_shift(face, deg.sample_rgb_shift(0.1, rng=a)), deg.random_rgb_shift(face, 0.1, rng=b))


def test_rng_state_round_trip():
    rng = np.random.default_rng(3)
    state = deg.rng_state(rng)
    first = rng.standard_normal(5)
    np.testing.assert_array_equal(deg.rng_from_state(state).standard_normal(5), first)
    with pytest.raises(ValueError, match='Not the state of a numpy random generator'):
        deg.rng_from_state({'bit_generator': 'Generator'})
