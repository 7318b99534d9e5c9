"""scripts/evaluate.py and scripts/test_gfpgan.py end to end on tiny generated folders (PSNR / SSIM, which need no
weights; the network metrics have their own tests in tests/metrics/)."""
import csv
import json

import cv2
import numpy as np
import pytest
import torch
import yaml
from skimage import data as skdata

from gfpgan.archs import build_network
from gfpgan.errors import run_cli
from gfpgan.metrics import calculate_psnr, calculate_ssim
from gfpgan.metrics.cli import evaluate_main, checkpoint_test_main
from gfpgan.metrics.report import pick_examples
from gfpgan.utils.checkpoint import save_network

TINY = 'options/train_gfpgan_tiny.yml'


def face(size=64, shift=0):
    return np.roll(cv2.resize(skdata.astronaut()[:, :, ::-1], (size, size), interpolation=cv2.INTER_AREA), shift, 1)


@pytest.fixture
def folders(tmp_path):
    """gt/f<i>.png, lq/f<i>.png and restored/f<i>_00.png with noise growing with i, plus one restored-only image."""
    rng = np.random.default_rng(0)
    for name in ('gt', 'lq', 'restored'):
        (tmp_path / name).mkdir()
    for i in range(7):
        gt = face(shift=3 * i)
        cv2.imwrite(str(tmp_path / 'gt' / f'f{i}.png'), gt)
        cv2.imwrite(str(tmp_path / 'lq' / f'f{i}.png'), cv2.GaussianBlur(gt, (5, 5), 2))
        noisy = np.clip(gt + rng.normal(0, 2 + 3 * i, gt.shape), 0, 255).astype(np.uint8)
        cv2.imwrite(str(tmp_path / 'restored' / f'f{i}_00.png'), noisy)
    cv2.imwrite(str(tmp_path / 'restored' / 'stray_00.png'), face())
    return tmp_path


def run(*args):
    return run_cli(evaluate_main, [*args, '--no-progress'])


def run_test_gfpgan(argv):
    return run_cli(checkpoint_test_main, argv)


def test_evaluate_writes_tables_and_pictures(folders, capsys):
    out = folders / 'eval'
    code = run('--restored', str(folders / 'restored'), '--gt', str(folders / 'gt'), '--lq', str(folders / 'lq'),
               '--suffix', '_00', '--metrics', 'psnr,ssim', '--out', str(out), '--report-count', '2')
    assert code == 0
    printed = capsys.readouterr().out
    assert '| PSNR (dB) |' in printed and '| SSIM |' in printed
    assert '1 image(s) restored only, not evaluated: stray' in printed
    with open(out / 'per_image.csv') as f:
        rows = {row['name']: row for row in csv.DictReader(f)}
    assert sorted(rows) == [f'f{i}' for i in range(7)]
    for name, row in rows.items():  # the values are the metric functions' own
        img = cv2.imread(str(folders / 'restored' / f'{name}_00.png'))
        ref = cv2.imread(str(folders / 'gt' / f'{name}.png'))
        assert float(row['psnr']) == pytest.approx(calculate_psnr(img, ref), abs=1e-9)
        assert float(row['ssim']) == pytest.approx(calculate_ssim(img, ref), abs=1e-9)
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['images'] == 7 and summary['unmatched'] == {'restored only': ['stray']}
    assert summary['metrics']['psnr']['mean'] == pytest.approx(np.mean([float(r['psnr']) for r in rows.values()]))
    # noise grows with the index: PSNR ranks f0 best and f6 worst
    assert summary['report']['best'] == ['f0', 'f1'] and summary['report']['worst'] == ['f5', 'f6']
    grid = cv2.imread(str(out / 'report.png'))
    assert grid.shape[1] == 3 * 256 and grid.shape[0] == 6 * (256 + 28)  # input | restored | reference, 6 rows
    page = (out / 'report.html').read_text()
    assert 'report.png' in page and '../restored/f0_00.png' in page


def test_evaluate_refuses_bad_requests_with_one_sentence(folders, capsys):
    restored, gt = str(folders / 'restored'), str(folders / 'gt')
    restored = [restored, '--suffix', '_00']
    inception = str(folders / 'inception.pth')  # found, never loaded: the run stops before
    (folders / 'inception.pth').write_bytes(b'stand-in')
    cases = [
        (['--restored', *restored, '--metrics', 'psnr'], 'compare with ground truth: give --gt'),
        (['--restored', *restored, '--gt', gt, '--metrics', 'psnr,sharpness'], "unknown metric 'sharpness'"),
        (['--restored', *restored, '--gt', gt, '--metrics', 'fid', '--inception', inception], 'fid needs --fid-ref'),
        (['--restored', *restored, '--gt', gt, '--out', restored[0], '--metrics', 'psnr'], 'one of the evaluated'),
        (['--restored', restored[0], '--gt', gt, '--metrics', 'psnr'], 'No image name is shared'),  # no --suffix
        (['--restored', str(folders / 'missing'), '--metrics', 'psnr,ssim', '--gt', gt], 'does not exist'),
        (['--restored', *restored, '--gt', gt, '--metrics', 'lmd', '--landmark-weights', str(folders / 'my_fan.pth')],
         'my_fan.pth'),
        (['--restored', *restored, '--gt', gt, '--metrics', 'psnr', '--sort-by', 'lpips'], "--sort-by: 'lpips'"),
    ]
    for args, message in cases:
        out = [] if '--out' in args else ['--out', str(folders / 'e')]
        assert run(*args, *out) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1 and err.startswith('error: '), (args, err)
        assert not (folders / 'e').exists()


def test_evaluate_reports_size_mismatch(folders, capsys):
    cv2.imwrite(str(folders / 'gt' / 'f3.png'), face(size=32))
    code = run('--restored', str(folders / 'restored'), '--gt', str(folders / 'gt'), '--suffix', '_00', '--metrics',
               'psnr', '--out', str(folders / 'e'))
    assert code == 2
    assert "is 64x64 but its reference" in capsys.readouterr().err


def test_pick_examples_orders_by_the_metric_direction():
    rows = {
        n: {
            'psnr': v,
            'lpips': v / 100
        }
        for n, v in zip('abcdefghi', [30, 20, 25, 40, float('inf'), 10, 35, 15, 22])
    }
    picks = pick_examples(rows, 'psnr', 2)
    assert picks['best'] == ['e', 'd'] and picks['worst'] == ['h', 'f']
    assert pick_examples(rows, 'lpips', 1)['best'] == ['f']  # lower is better
    with pytest.raises(ValueError, match="Cannot rank images by 'niqe'"):
        pick_examples(rows, 'niqe')


def test_test_gfpgan_restores_a_folder_and_evaluates_it(tmp_path, capsys):
    for name in ('lq', 'gt'):
        (tmp_path / name).mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / 'gt' / f'{i}.png'), face(shift=5 * i))
        cv2.imwrite(str(tmp_path / 'lq' / f'{i}.png'), cv2.GaussianBlur(face(size=128, shift=10 * i), (7, 7), 3))
    with open(TINY) as f:
        network_g = yaml.safe_load(f)['network_g']
    torch.manual_seed(0)
    net = build_network(network_g)
    save_network(net, tmp_path / 'net_g.pth', ema_net=net)
    out = tmp_path / 'results'

    def args(output):
        return [
            '--model',
            str(tmp_path / 'net_g.pth'), '--opt', TINY, '--input',
            str(tmp_path / 'lq'), '--gt',
            str(tmp_path / 'gt'), '--output',
            str(output), '--metrics', 'psnr,ssim', '--no-progress'
        ]

    assert run_test_gfpgan(args(out)) == 0
    restored = sorted(p.name for p in (out / 'restored').iterdir())
    assert restored == ['0.png', '1.png', '2.png']
    first = cv2.imread(str(out / 'restored' / '0.png'))
    assert first.shape == (64, 64, 3)  # 128 px inputs resized to the network's 64
    summary = json.loads((out / 'summary.json').read_text())
    assert summary['images'] == 3 and set(summary['metrics']) == {'psnr', 'ssim'}
    # the same seed restores the same faces
    assert run_test_gfpgan(args(tmp_path / 'again')) == 0
    assert np.array_equal(first, cv2.imread(str(tmp_path / 'again' / 'restored' / '0.png')))
    capsys.readouterr()
    bad = [
        '--model',
        str(tmp_path / 'net_g.pth'), '--input',
        str(tmp_path / 'lq'), '--output',
        str(tmp_path / 'x'), '--metrics', 'niqe', '--no-progress'
    ]  # the released 512 architecture cannot load the tiny weights
    assert run_test_gfpgan(bad) == 2
    err = capsys.readouterr().err
    assert err.startswith('error: ') and 'Traceback' not in err and len(err.strip().splitlines()) == 1


def test_evaluate_the_paper_metrics_with_given_weight_files(folders, capsys):
    """The default metric set (psnr, ssim, lpips, deg, niqe) through the command line, with random-weight stand-ins
    for the release files: every metric is computed for every image."""
    import torchvision.models.vgg as tv_vgg

    from gfpgan.archs.arcface_arch import IRBlock, ResNetArcFace
    from gfpgan.metrics.niqe import fit_niqe_params, save_niqe_params
    torch.manual_seed(0)
    vgg = {f'features.{k}': v for k, v in tv_vgg.make_layers(tv_vgg.cfgs['D']).state_dict().items()}
    torch.save(vgg, folders / 'vgg16.pth')
    save_network(ResNetArcFace(IRBlock, [2, 2, 2, 2], use_se=False), folders / 'arcface.pth')
    textures = [cv2.resize(getattr(skdata, n)(), (256, 256)) for n in ('brick', 'grass', 'gravel', 'camera')]
    save_niqe_params(folders / 'niqe.npz', fit_niqe_params([np.dstack([t] * 3) for t in textures]))
    for i in range(7):  # NIQE needs 96x96 blocks: 192 px faces
        for name, path in (('gt', f'f{i}.png'), ('restored', f'f{i}_00.png')):
            img = cv2.imread(str(folders / name / path))
            cv2.imwrite(str(folders / name / path), cv2.resize(img, (192, 192), interpolation=cv2.INTER_CUBIC))
    (folders / 'restored' / 'stray_00.png').unlink()
    out = folders / 'eval'
    code = run('--restored', str(folders / 'restored'), '--gt', str(folders / 'gt'), '--suffix', '_00',
               '--out', str(out), '--lpips-weights', str(folders / 'vgg16.pth'), '--arcface',
               str(folders / 'arcface.pth'), '--niqe-params', str(folders / 'niqe.npz'))
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / 'summary.json').read_text())
    assert list(summary['metrics']) == ['psnr', 'ssim', 'lpips', 'deg', 'niqe']
    with open(out / 'per_image.csv') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and all(np.isfinite(float(r[m])) for r in rows for m in ('lpips', 'deg', 'niqe'))
    assert summary['report']['sorted_by'] == 'lpips'
    assert 0 <= summary['metrics']['deg']['mean'] <= 180 and summary['metrics']['lpips']['mean'] > 0


def test_evaluate_fid_against_a_folder_and_a_statistics_file(folders, monkeypatch, capsys):
    from gfpgan.metrics import fid as fid_module
    torch.manual_seed(0)
    # a small feature network in place of InceptionV3 (no release file here; a 2048-d sqrtm takes most of a minute)
    inception = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 8, 8), torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())
    monkeypatch.setattr(fid_module, 'FIDInception', lambda weights=None: inception)
    monkeypatch.setattr(fid_module, 'required_weights', lambda weights=None: [])  # nor its file
    mu, sigma = fid_module.folder_statistics(folders / 'gt', inception, progress=False)
    fid_module.save_fid_statistics(folders / 'gt_stats.pth', mu, sigma)
    values = []
    for reference in (folders / 'gt', folders / 'gt_stats.pth'):
        out = folders / f'eval_{reference.name}'
        assert run('--restored', str(folders / 'restored'), '--gt', str(folders / 'gt'), '--suffix', '_00', '--metrics',
                   'psnr,fid', '--fid-ref', str(reference), '--out', str(out)) == 0, capsys.readouterr().err
        values.append(json.loads((out / 'summary.json').read_text())['metrics']['fid']['mean'])
    assert values[0] == pytest.approx(values[1], rel=1e-6) and values[0] > 0
    assert '| FID |' in capsys.readouterr().out


def test_every_missing_metric_file_is_listed_before_anything_is_restored(isolated_weights, folders, capsys,
                                                                         monkeypatch):
    """test_gfpgan.py on a fresh machine: the five metric files in one list with one download command, the
    unwritable output folder too, before the network is built (today's cost: a whole test set restored first)."""
    from gfpgan.metrics import cli

    def never(*args):
        raise AssertionError('the network must not be built before the preflight passed')

    monkeypatch.setattr(cli, 'build_generator', never)
    (folders / 'model.pth').write_bytes(b'found, never loaded')
    (folders / 'stats.pth').write_bytes(b'found, never loaded')
    (folders / 'a_file').write_text('x')
    argv = ['--model', str(folders / 'model.pth'), '--input', str(folders / 'lq'), '--gt', str(folders / 'gt'),
            '--output', str(folders / 'a_file' / 'results'), '--metrics', 'psnr,lpips,deg,niqe,lmd,fid', '--fid-ref',
            str(folders / 'stats.pth'), '--no-progress']
    assert run_cli(cli.checkpoint_test_main, argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0] == 'error: 2 problems; nothing was started:' and len(lines) == 3 and 'Traceback' not in err
    assert "--output: cannot write to '" in lines[1] and 'is a file, not a folder' in lines[1]
    wanted = ['vgg16-397923af.pth', 'arcface_resnet18.pth', 'niqe_pris_params.npz', 'alignment_WFLW_4HG.pth',
              'pt_inception-2015-12-05-6726825d.pth']
    assert 'python scripts/download_pretrained.py --files ' + ' '.join(wanted) in lines[2]
    assert not (folders / 'a_file').is_dir()


def test_evaluate_debug_shows_the_traceback(folders, monkeypatch, capsys):
    argv = ['--restored', str(folders / 'missing'), '--metrics', 'psnr', '--gt', str(folders / 'gt'), '--out',
            str(folders / 'e')]
    assert run(*argv, '--debug') == 2
    err = capsys.readouterr().err
    assert 'Traceback' in err and err.strip().splitlines()[-1].startswith('error: ')
    monkeypatch.setenv('GFPGAN_DEBUG', '1')
    assert run(*argv) == 2
    assert 'Traceback' in capsys.readouterr().err


def test_a_full_disk_names_the_output_folder(folders, monkeypatch, capsys):
    import contextlib
    import errno

    from gfpgan.utils import fileio

    @contextlib.contextmanager
    def full(path, auto_mkdir=True):
        raise OSError(errno.ENOSPC, 'No space left on device')  # as a failed write of an open file: no name
        yield

    monkeypatch.setattr(fileio, 'atomic_write', full)
    out = folders / 'e'
    assert run('--restored', str(folders / 'restored'), '--gt', str(folders / 'gt'), '--suffix', '_00', '--metrics',
               'psnr', '--out', str(out)) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (f"error: Cannot use '{out}': no space left on the device: free some "
                                            'space or write somewhere else.')
