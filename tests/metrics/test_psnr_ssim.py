"""PSNR and SSIM: known values, the BasicSR arguments, clear errors."""
import cv2
import numpy as np
import pytest

from gfpgan.metrics import calculate_metric, calculate_psnr, calculate_ssim


def test_psnr_of_a_known_error():
    a = np.full((16, 16, 3), 100, np.uint8)
    b = a.copy()
    b[0, 0, 0] = 110  # one error of 10 over 768 values: mse = 100 / 768
    assert calculate_psnr(a, b) == pytest.approx(10 * np.log10(255**2 / (100 / 768)))
    assert calculate_psnr(a, a) == float('inf')
    assert calculate_psnr(a, b, crop_border=1) == float('inf')  # the error sits in the cropped border
    assert calculate_psnr(a.transpose(2, 0, 1), b.transpose(2, 0, 1), input_order='CHW') == calculate_psnr(a, b)


def test_psnr_of_a_known_noise_level_and_on_the_y_channel():
    rng = np.random.default_rng(0)
    a = np.full((256, 256, 3), 128, np.uint8)
    noise = np.rint(rng.normal(0, 10, a.shape))  # sigma 10 (+ rounding: variance 100 + 1/12), nothing clipped
    b = (a + noise).astype(np.uint8)
    assert calculate_psnr(a, b) == pytest.approx(10 * np.log10(255**2 / (100 + 1 / 12)), abs=0.05)
    # BT.601 as MATLAB's rgb2ycbcr: pure red (BGR 0, 0, 255) has Y = 16 + 65.481, black Y = 16
    red, black = np.zeros((8, 8, 3), np.uint8), np.zeros((8, 8, 3), np.uint8)
    red[..., 2] = 255
    assert calculate_psnr(red, black, test_y_channel=True) == pytest.approx(20 * np.log10(255 / 65.481))


def test_ssim_is_one_for_identical_images_and_drops_with_noise():
    rng = np.random.default_rng(0)
    img = cv2.GaussianBlur(rng.integers(0, 256, (48, 48, 3)).astype(np.uint8), (5, 5), 1)
    assert calculate_ssim(img, img) == pytest.approx(1.0)
    light = np.clip(img + rng.normal(0, 5, img.shape), 0, 255).astype(np.uint8)
    heavy = np.clip(img + rng.normal(0, 40, img.shape), 0, 255).astype(np.uint8)
    assert 1 > calculate_ssim(img, light) > calculate_ssim(img, heavy) > 0
    y = calculate_ssim(img, light, test_y_channel=True)
    assert 0 < y < 1


def test_calculate_metric_dispatches_by_type_and_errors_are_clear():
    a = np.zeros((8, 8, 3), np.uint8)
    b = np.full((8, 8, 3), 255, np.uint8)
    assert calculate_metric({'img': a, 'img2': b}, {'type': 'calculate_psnr', 'crop_border': 0}) == pytest.approx(0)
    with pytest.raises(ValueError, match='one shape'):
        calculate_psnr(a, b[:4])
    with pytest.raises(KeyError, match='calculate_sharpness'):
        calculate_metric({'img': a, 'img2': b}, {'type': 'calculate_sharpness'})
