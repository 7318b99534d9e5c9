"""The one metric system: Metric classes registered once by short name, with what they need, built the same way by
validation (``build_metric``) and by the evaluation command; BasicSR's function names stay registered."""
import numpy as np
import pytest

from gfpgan.metrics import (FID, NIQE, PSNR, SSIM, IdentityAngle, LandmarkDistance, LPIPSMetric, build_metric,
                            calculate_metric, calculate_psnr, calculate_ssim, default_better, metric_class,
                            metric_classes)
from gfpgan.metrics.evaluation import required_files
from gfpgan.registry import METRIC_REGISTRY


def test_each_metric_class_is_registered_once_with_what_it_needs():
    classes = metric_classes()
    assert classes == {'psnr': PSNR, 'ssim': SSIM, 'lpips': LPIPSMetric, 'deg': IdentityAngle,
                       'lmd': LandmarkDistance, 'niqe': NIQE, 'fid': FID}
    assert [n for n, c in classes.items() if c.higher_is_better] == ['psnr', 'ssim']
    assert [n for n, c in classes.items() if not c.needs_reference] == ['niqe', 'fid']
    assert [n for n, c in classes.items() if not c.per_image] == ['fid']
    for name in ('calculate_psnr', 'calculate_ssim', 'calculate_lpips', 'calculate_identity_angle', 'calculate_niqe',
                 'calculate_lmd'):
        assert name in METRIC_REGISTRY  # options files written for the original
    with pytest.raises(KeyError, match="Unknown metric 'psnrr'; choose from psnr, ssim, lpips, deg, lmd, niqe, fid"):
        metric_class('psnrr')


def test_validation_builds_classes_and_basicsr_functions_alike():
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    ref = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    opt = {'crop_border': 2, 'test_y_channel': True}
    expected = calculate_psnr(img, ref, **opt)
    assert build_metric({'type': 'psnr', **opt})(img, ref) == expected
    assert build_metric({'type': 'calculate_psnr', **opt})(img, ref) == expected
    assert calculate_metric({'img': img, 'img2': ref}, {'type': 'ssim', **opt}) == calculate_ssim(img, ref, **opt)
    with pytest.raises(ValueError, match="'fid' is computed over a whole set"):
        build_metric({'type': 'fid', 'reference': 'stats.pth'})
    assert default_better('lpips') == 'lower' and default_better('psnr') == 'higher'
    assert default_better('calculate_lpips') == 'higher'  # BasicSR's default for its function names


def test_required_files_come_from_the_metric_classes():
    files, packages = required_files(['psnr', 'lpips', 'deg', 'niqe', 'fid'],
                                     {'lpips': {'net': 'alex'}, 'deg': {'weights': 'my_arcface.pth'}})
    assert files['psnr'] == [] and files['lpips'] == [('alexnet-owt-7be5be79.pth', 'the LPIPS alex backbone')]
    assert files['deg'] == [('my_arcface.pth', 'the ArcFace network of the Deg. metric')]
    assert files['niqe'][0][0] == 'niqe_pris_params.npz' and files['fid'][0][0].startswith('pt_inception')
    assert packages == [('lpips', 'The LPIPS metric'), ('pytorch_fid', 'The FID metric')]
