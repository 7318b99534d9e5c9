"""NIQE against BasicSR 1.4.2 (values stored by tests/data/niqe/make_reference.py), MATLAB imresize
properties, the pristine-model fit, parameter files and errors.

BasicSR's half-scale image comes out of MKL's float32 ``mv``, whose last bits depend on the CPU code path;
NIQE's table look-up of the AGGD shape magnifies them (BasicSR disagrees with itself by up to ~6e-4
between MKL code paths). So the stages that do not go through that resize are compared exactly, the resize
to float32 rounding, and the final NIQE to 1e-3.
"""
import importlib.util
import json
import os

import cv2
import numpy as np
import pytest

import gfpgan.metrics.niqe as niqe_module
from gfpgan.metrics.matlab_resize import imresize, resize_weights_indices
from gfpgan.metrics.niqe import (NIQE_PARAMS_FILE, calculate_niqe, fit_niqe_params, load_niqe_params,
                                 matlab_gaussian_window, niqe, niqe_block_features, save_niqe_params)
from gfpgan.registry import METRIC_REGISTRY
from gfpgan.utils.weights import WeightsNotFoundError

NIQE_DATA = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'data', 'niqe')


def _load_recipes():
    """tests/data/niqe/make_reference.py as a module: its image recipes (BasicSR is imported only by its main)."""
    spec = importlib.util.spec_from_file_location('niqe_make_reference', os.path.join(NIQE_DATA, 'make_reference.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RECIPES = _load_recipes()
with open(os.path.join(NIQE_DATA, 'basicsr_reference.json')) as _f:
    REF = json.load(_f)


@pytest.fixture(scope='module')
def fitted():
    """The pristine model the reference values were computed with, refitted here."""
    return fit_niqe_params([RECIPES.skimage_bgr(name) for name in REF['fit_images']],
                           sharpness_threshold=REF['fit_threshold'])


@pytest.fixture(scope='module')
def images():
    return {name: RECIPES.eval_image(name) for name in REF['images']}


def _prepared(img, crop_border=0, convert_to='y'):
    """The rounded float32 Y (or gray) image that calculate_niqe hands to the niqe core."""
    return niqe_module._to_niqe_image(img, crop_border, 'HWC', convert_to)


# ---------------------------------------------------------------- MATLAB imresize


@pytest.mark.parametrize('case', REF['imresize'], ids=lambda c: f"{c['shape']}x{c['scale']}")
def test_imresize_matches_basicsr(case):
    x = RECIPES.resize_input(tuple(case['shape']), case['seed'])
    expected = np.array(case['output'], dtype=np.float32)
    out = imresize(x, case['scale'], antialiasing=case['antialiasing'])
    assert out.dtype == np.float32 and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=2e-6)  # last-bit float32 rounding only
    out64 = imresize(x.astype(np.float64), case['scale'], antialiasing=case['antialiasing'])
    assert out64.dtype == np.float64
    np.testing.assert_allclose(out64, expected, rtol=0, atol=2e-6)


def test_imresize_known_matlab_behaviour():
    # output size is ceil(scale * size); a constant stays constant (rows of weights sum to one)
    const = np.full((13, 7), 0.25)
    for scale, aa in ((0.5, True), (0.3, True), (2, True), (1.7, False), (0.75, False)):
        out = imresize(const, scale, antialiasing=aa)
        assert out.shape == (int(np.ceil(13 * scale)), int(np.ceil(7 * scale)))
        np.testing.assert_allclose(out, 0.25, atol=1e-15)
    # cubic convolution reproduces linear functions away from the mirrored border: halving a ramp x_i = i
    # samples it at the centres of pixel pairs, 2k + 0.5 (0-based); doubling it at k / 2 - 0.25
    ramp = np.tile(np.arange(40.0)[:, None], (1, 3))
    np.testing.assert_allclose(imresize(ramp, 0.5)[3:-3, 0], 2 * np.arange(3, 17) + 0.5, atol=1e-12)
    np.testing.assert_allclose(imresize(ramp, 2)[4:-4, 0], np.arange(4, 76) / 2 - 0.25, atol=1e-12)
    # the antialiased half-scale kernel: 8 taps of scale * cubic(scale * d), d = +-0.5 ... +-3.5
    weights, indices = resize_weights_indices(16, 8, 0.5)
    np.testing.assert_allclose(weights[3], np.array([-3, -9, 29, 111, 111, 29, -9, -3]) / 256)
    assert indices[3].tolist() == list(range(3, 11))
    assert indices[0].tolist() == [2, 1, 0, 0, 1, 2, 3, 4]  # symmetric border: the edge pixel repeats
    # mirroring makes the resize commute with flips; channels are resized independently
    x = np.random.default_rng(0).random((12, 10, 2))
    np.testing.assert_allclose(imresize(x[::-1, ::-1], 0.5), imresize(x, 0.5)[::-1, ::-1], atol=1e-14)
    np.testing.assert_allclose(imresize(x, 0.5)[..., 1], imresize(x[..., 1], 0.5), atol=1e-14)
    with pytest.raises(ValueError, match='positive scale'):
        imresize(x, 0)
    with pytest.raises(ValueError, match=r'\(H, W\)'):
        imresize(np.zeros(5), 0.5)


# ---------------------------------------------------------------- agreement with BasicSR


def test_fit_matches_a_fit_from_basicsr_features(fitted):
    assert fitted['mu_pris_param'].shape == (1, 36) and fitted['cov_pris_param'].shape == (36, 36)
    np.testing.assert_allclose(fitted['gaussian_window'], matlab_gaussian_window())
    np.testing.assert_allclose(fitted['mu_pris_param'][0], REF['fit']['mu'], rtol=1e-4)
    np.testing.assert_allclose(np.diag(fitted['cov_pris_param']), REF['fit']['cov_diagonal'], rtol=1e-3)


def test_y_image_and_block_features_match_basicsr(images):
    """Exact up to the half-scale resize: Y, MSCN and the 18 full-resolution features."""
    for name, img in images.items():
        entry = REF['images'][name]
        y = _prepared(img)
        assert y.dtype == np.float32
        assert y.astype(np.float64).sum() == entry['y_sum']
        assert (y.astype(np.float64)**2).sum() == entry['y_sum_squares']
        features, _ = niqe_block_features(y, matlab_gaussian_window())
        mean = np.nanmean(features, axis=0)
        expected = np.array(entry['mean_features'])
        np.testing.assert_allclose(mean[:18], expected[:18], rtol=1e-8, err_msg=name)
        np.testing.assert_allclose(mean[18:], expected[18:], rtol=2e-3, err_msg=name)


def test_niqe_matches_basicsr(images, fitted):
    for name, img in images.items():
        for key, expected in REF['images'][name].items():
            if not isinstance(expected, dict):
                continue
            convert_to, crop = key.split('_crop')
            value = calculate_niqe(img, int(crop), convert_to=convert_to, params=fitted)
            assert value == pytest.approx(expected['niqe_fitted'], rel=1e-3), (name, key)


def test_published_model_matches_basicsr(images):
    """Only where the user has put BasicSR's niqe_pris_params.npz (experiments/pretrained_models/ or the cache)."""
    try:
        params = load_niqe_params()
    except WeightsNotFoundError:
        pytest.skip(f'{NIQE_PARAMS_FILE} is not available offline')
    for name, img in images.items():
        for key, expected in REF['images'][name].items():
            if isinstance(expected, dict) and expected['niqe_official'] is not None:
                convert_to, crop = key.split('_crop')
                value = calculate_niqe(img, int(crop), convert_to=convert_to, params=params)
                assert value == pytest.approx(expected['niqe_official'], rel=1e-3), (name, key)


# ---------------------------------------------------------------- behaviour


def test_niqe_grows_with_blur_and_noise(images, fitted):
    img = images['astronaut']
    blurred = [calculate_niqe(cv2.GaussianBlur(img, (0, 0), s), params=fitted) for s in (1, 2, 3)]
    rng = np.random.default_rng(1)
    noisy = [
        calculate_niqe(np.clip(img + rng.normal(0, s, img.shape), 0, 255).astype(np.uint8), params=fitted)
        for s in (5, 15, 30)
    ]
    sharp = calculate_niqe(img, params=fitted)
    assert sharp < blurred[0] < blurred[1] < blurred[2]
    assert sharp < noisy[0] < noisy[1] < noisy[2]


def test_arguments_and_core_agree(images, fitted):
    img = images['chelsea'][:200, :300]
    value = calculate_niqe(img, params=fitted)
    assert METRIC_REGISTRY.get('calculate_niqe') is calculate_niqe
    assert calculate_niqe(img.transpose(2, 0, 1), input_order='CHW', params=fitted) == value
    y = _prepared(img)
    assert niqe(y, fitted['mu_pris_param'], fitted['cov_pris_param'], fitted['gaussian_window']) == value
    assert calculate_niqe(y, input_order='HW', params=fitted) == value
    assert calculate_niqe(y.astype(np.uint8), params=fitted) == value  # a gray (H, W) image is used as is
    assert calculate_niqe(img, crop_border=3, params=fitted) == calculate_niqe(img[3:-3, 3:-3], params=fitted)
    assert calculate_niqe(img, unused_option=1, params=fitted) == value  # extra val.metrics keys are ignored
    # float64 input is computed in float64: the same up to float32 rounding (and the shape look-up)
    y64 = y.astype(np.float64)
    core64 = niqe(y64, fitted['mu_pris_param'], fitted['cov_pris_param'], fitted['gaussian_window'])
    assert core64 == pytest.approx(value, rel=1e-3)


def test_params_save_load_roundtrip(tmp_path, fitted, images):
    path = tmp_path / 'models' / 'my_niqe.npz'
    assert save_niqe_params(path, fitted) == path
    loaded = load_niqe_params(path)
    for key, value in fitted.items():
        np.testing.assert_array_equal(loaded[key], value)
    with np.load(path, allow_pickle=False) as data:  # the layout of BasicSR's file
        assert sorted(data.files) == ['cov_pris_param', 'gaussian_window', 'mu_pris_param']
    img = images['chelsea'][:200, :200]
    assert calculate_niqe(img, params=str(path)) == calculate_niqe(img, params=fitted)
    assert [p.name for p in path.parent.iterdir()] == ['my_niqe.npz']  # no temporary file left behind


def test_default_params_missing_offline_is_one_clear_sentence(isolated_weights):
    niqe_module._default_params.cache_clear()
    with pytest.raises(WeightsNotFoundError) as err:
        calculate_niqe(np.zeros((96, 96, 3), np.uint8))
    message = str(err.value)
    assert NIQE_PARAMS_FILE in message and 'experiments/pretrained_models' in message
    assert 'github.com/XPixelGroup/BasicSR' in message


def test_errors_are_clear(fitted):
    img = np.random.default_rng(0).integers(0, 256, (100, 100, 3)).astype(np.uint8)
    with pytest.raises(ValueError, match='96x96'):
        calculate_niqe(img[:95], params=fitted)
    with pytest.raises(ValueError, match='96x96'):
        calculate_niqe(img, crop_border=3, params=fitted)
    with pytest.raises(ValueError, match='input_order'):
        calculate_niqe(img, input_order='NHWC', params=fitted)
    with pytest.raises(ValueError, match='convert_to'):
        calculate_niqe(img, convert_to='rgb', params=fitted)
    with pytest.raises(ValueError, match='shape'):
        calculate_niqe(np.zeros((100, 100, 4)), params=fitted)
    with pytest.raises(ValueError, match="'HW'"):
        calculate_niqe(img, input_order='HW', params=fitted)
    with pytest.raises(ValueError, match='crop_border'):
        calculate_niqe(img, crop_border=-1, params=fitted)
    with pytest.raises(ValueError, match='2-D'):
        niqe(np.zeros((100, 100, 1)), fitted['mu_pris_param'], fitted['cov_pris_param'], fitted['gaussian_window'])
    with pytest.raises(ValueError, match='flat'):
        calculate_niqe(np.full((100, 100, 3), 128, np.uint8), params=fitted)
    with pytest.raises(ValueError, match='gaussian_window'):
        calculate_niqe(img, params={k: v for k, v in fitted.items() if k != 'gaussian_window'})
    with pytest.raises(ValueError, match='wrong shapes'):
        calculate_niqe(img, params={**fitted, 'cov_pris_param': np.eye(18)})
    with pytest.raises(ValueError, match='at least 2'):
        fit_niqe_params([img], sharpness_threshold=0.75)
    with pytest.raises(ValueError, match='sharpness_threshold'):
        fit_niqe_params([img], sharpness_threshold=1.5)
