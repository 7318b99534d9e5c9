"""gfpgan/metrics/fid.py and scripts/calculate_fid_stats.py: the Fréchet distance against closed forms, statistics
files in both formats, the FID Inception (random weights) against pytorch-fid's own module, offline errors."""
import os
import zipfile

import cv2
import numpy as np
import pytest
import torch

from gfpgan.metrics import fid
from gfpgan.metrics.fid import (FID_WEIGHTS_FILE, FIDInception, calculate_fid_folder, feature_statistics,
                                folder_statistics, frechet_distance, image_features, load_fid_statistics,
                                save_fid_statistics)
from gfpgan.utils.weights import WeightsNotFoundError
from scriptload import load_script


def _random_spd(rng, dims, rank=None):
    a = rng.standard_normal((dims, rank or dims + 4))
    return a @ a.T / a.shape[1]


def _sqrt_psd(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


# ------------------------------------------------------------------------------------------------- Fréchet distance
def test_frechet_distance_of_diagonal_gaussians_is_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.standard_normal(8), rng.standard_normal(8)
    var1, var2 = rng.uniform(0.1, 3, 8), rng.uniform(0.1, 3, 8)
    expected = np.sum((mu1 - mu2)**2) + np.sum((np.sqrt(var1) - np.sqrt(var2))**2)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected, rel=1e-10)


def test_frechet_distance_of_random_spd_matches_an_eigendecomposition():
    rng = np.random.default_rng(1)
    mu1, mu2 = rng.standard_normal(16), rng.standard_normal(16)
    s1, s2 = _random_spd(rng, 16), _random_spd(rng, 16)
    root1 = _sqrt_psd(s1)  # Tr sqrt(s1 s2) = Tr sqrt(s1^1/2 s2 s1^1/2), a symmetric PSD matrix
    expected = np.sum((mu1 - mu2)**2) + np.trace(s1 + s2 - 2 * _sqrt_psd(root1 @ s2 @ root1))
    result = frechet_distance(mu1, s1, mu2, s2)
    assert isinstance(result, float)
    assert result == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu2, s2, mu1, s1) == pytest.approx(result, rel=1e-9)
    as_tensors = frechet_distance(*(torch.from_numpy(a).float() for a in (mu1, s1, mu2, s2)))
    assert as_tensors == pytest.approx(expected, rel=1e-5)


def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(2).standard_normal((50, 16))
    mu, sigma = feature_statistics(features)
    assert frechet_distance(mu, sigma, mu, sigma) == 0.0
    assert abs(frechet_distance(mu, sigma, mu, sigma.copy() * (1 + 1e-12))) < 1e-8  # through sqrtm
    few = feature_statistics(features[:5])  # fewer samples than dimensions: a singular covariance
    assert abs(frechet_distance(*few, few[0], few[1] * (1 + 1e-12))) < 1e-6


def test_non_finite_root_is_retried_with_an_offset(monkeypatch):
    rng = np.random.default_rng(3)
    mu, s1, s2 = rng.standard_normal(6), _random_spd(rng, 6), _random_spd(rng, 6)
    real_sqrtm, calls = fid.linalg.sqrtm, []

    def flaky_sqrtm(matrix):
        calls.append(matrix)
        return np.full_like(matrix, np.nan) if len(calls) == 1 else real_sqrtm(matrix)

    monkeypatch.setattr(fid.linalg, 'sqrtm', flaky_sqrtm)
    result = frechet_distance(mu, s1, mu, s2, eps=1e-3)
    offset = np.eye(6) * 1e-3
    np.testing.assert_allclose(calls[1], (s1 + offset) @ (s2 + offset))
    expected = np.trace(s1 + s2) - 2 * np.trace(real_sqrtm(calls[1]).real)
    assert len(calls) == 2 and result == pytest.approx(expected, rel=1e-10)


def test_imaginary_part_is_dropped_when_negligible_and_refused_otherwise(monkeypatch):
    rng = np.random.default_rng(4)
    mu, s1, s2 = np.zeros(4), _random_spd(rng, 4), _random_spd(rng, 4)
    exact = frechet_distance(mu, s1, mu, s2)
    root = fid.linalg.sqrtm(s1 @ s2).real
    monkeypatch.setattr(fid.linalg, 'sqrtm', lambda m: root + 1e-9j)
    assert frechet_distance(mu, s1, mu, s2) == pytest.approx(exact, rel=1e-10)
    monkeypatch.setattr(fid.linalg, 'sqrtm', lambda m: root + 0.5j)
    with pytest.raises(ValueError, match='imaginary'):
        frechet_distance(mu, s1, mu, s2)


@pytest.mark.parametrize('shapes, message', [
    (((4, ), (4, 4), (5, ), (5, 5)), 'different sizes'),
    (((4, 1), (4, 4), (4, ), (4, 4)), r'mean of the first set must be a \(D,\) vector'),
    (((4, ), (4, 3), (4, ), (4, 4)), r'covariance of the first set must be \(4, 4\)'),
    (((4, ), (4, 4), (4, ), (3, 3)), r'covariance of the second set must be \(4, 4\)'),
])
def test_frechet_distance_shape_errors(shapes, message):
    arrays = [np.eye(*s) if len(s) == 2 else np.zeros(s) for s in shapes]
    with pytest.raises(ValueError, match=message):
        frechet_distance(*arrays)


def test_feature_statistics():
    features = np.random.default_rng(5).standard_normal((10, 3)).astype(np.float32)
    mu, sigma = feature_statistics(features)
    assert mu.dtype == sigma.dtype == np.float64 and mu.shape == (3, ) and sigma.shape == (3, 3)
    np.testing.assert_allclose(mu, features.astype(np.float64).mean(0))
    np.testing.assert_allclose(sigma, np.cov(features.astype(np.float64).T))
    with pytest.raises(ValueError, match='at least 2'):
        feature_statistics(features[:1])
    with pytest.raises(ValueError, match=r'\(N, D\)'):
        feature_statistics(features[0])


# ------------------------------------------------------------------------------------------------- statistics files
@pytest.fixture
def stats():
    rng = np.random.default_rng(6)
    return rng.standard_normal(8), _random_spd(rng, 8)


@pytest.mark.parametrize('name', ['stats.pth', 'stats.npz'])
def test_statistics_round_trip(tmp_path, stats, name):
    path = tmp_path / 'sub' / name
    save_fid_statistics(path, *stats, num_images=100)
    mu, sigma = load_fid_statistics(path)
    np.testing.assert_array_equal(mu, stats[0])
    np.testing.assert_array_equal(sigma, stats[1])
    assert mu.dtype == sigma.dtype == np.float64
    assert os.listdir(tmp_path / 'sub') == [name]  # atomic write: no temporary file left


def test_saved_torch_file_is_the_community_format(tmp_path, stats):
    save_fid_statistics(tmp_path / 'stats.pth', *stats, num_images=100)
    raw = torch.load(tmp_path / 'stats.pth', weights_only=True)  # no allowlist needed
    assert raw['mean'].dtype == torch.float64 and raw['cov'].shape == (8, 8) and raw['num_images'] == 100
    save_fid_statistics(tmp_path / 'stats.npz', *stats)
    with np.load(tmp_path / 'stats.npz') as data:
        assert set(data.files) == {'mu', 'sigma'}


def _rename_numpy_module(path, old, new):
    """Rewrite the pickle of a torch file as if written under another numpy (1.x names numpy.core.multiarray)."""
    with zipfile.ZipFile(path) as archive:
        entries = [(info.filename, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, 'w', zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            archive.writestr(name, data.replace(old, new) if name.endswith('data.pkl') else data)


def test_loads_basicsr_statistics_of_numpy_arrays(tmp_path, stats):
    """BasicSR's inception_FFHQ_512.pth: {'name', 'size', 'mean', 'cov'} with numpy arrays, numpy 1.x or 2.x."""
    path = tmp_path / 'inception_FFHQ_512.pth'
    torch.save({'name': 'FFHQ', 'size': 512, 'mean': stats[0], 'cov': stats[1].astype(np.float32)}, path)
    for _ in range(2):
        mu, sigma = load_fid_statistics(path)
        np.testing.assert_array_equal(mu, stats[0])
        np.testing.assert_array_equal(sigma, stats[1].astype(np.float32))
        _rename_numpy_module(path, b'numpy._core.multiarray', b'numpy.core.multiarray')


def test_statistics_file_errors(tmp_path, stats):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_fid_statistics(tmp_path / 'missing.pth')
    torch.save({'params': {'w': torch.zeros(1)}}, tmp_path / 'net.pth')
    with pytest.raises(ValueError, match=r"holds keys \['params'\], not FID statistics: expected a torch file"):
        load_fid_statistics(tmp_path / 'net.pth')
    np.savez(tmp_path / 'other.npz', a=np.zeros(2))
    with pytest.raises(ValueError, match=r"holds \['a'\], not FID statistics"):
        load_fid_statistics(tmp_path / 'other.npz')
    (tmp_path / 'text.pth').write_text('not a torch file')
    with pytest.raises(ValueError, match='Cannot read FID statistics'):
        load_fid_statistics(tmp_path / 'text.pth')
    torch.save({'mean': torch.zeros(3), 'cov': torch.zeros(2, 2)}, tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match=r'covariance of .*bad.pth.* must be \(3, 3\)'):
        load_fid_statistics(tmp_path / 'bad.pth')
    with pytest.raises(ValueError, match='NaN'):
        save_fid_statistics(tmp_path / 'nan.pth', np.full(3, np.nan), np.eye(3))


# ------------------------------------------------------------------------------------------------- the network
@pytest.fixture(scope='module')
def random_weights(tmp_path_factory):
    """A random FID Inception in the release file's layout (torchvision Inception3 keys, fc included)."""
    torch.manual_seed(1)
    inception = fid._fid_inception_v3()
    with torch.no_grad():
        for module in inception.modules():
            if isinstance(module, torch.nn.Conv2d):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity='relu')
            if isinstance(module, torch.nn.BatchNorm2d):  # buffers off their defaults, so loading them is tested
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.1)
    path = tmp_path_factory.mktemp('weights') / 'random_inception.pth'
    torch.save(inception.state_dict(), path)
    return path


@pytest.fixture(scope='module')
def face_folder(tmp_path_factory):
    """Two small images of different sizes (mixed sizes in a batch); few, as each costs a 299 x 299 forward."""
    folder = tmp_path_factory.mktemp('faces')
    rng = np.random.default_rng(7)
    for name, (h, w) in [('b.png', (20, 24)), ('a.png', (13, 17))]:
        img = cv2.resize(rng.integers(0, 256, (4, 4, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(str(folder / name), img)
    (folder / 'notes.txt').write_text('not an image')
    return folder


@pytest.mark.slow
def test_matches_pytorch_fid_inception(random_weights, monkeypatch):
    """Same state_dict layout and same features as pytorch-fid's InceptionV3 given the same weights."""
    from pytorch_fid import inception as pf
    monkeypatch.setattr(pf, 'load_state_dict_from_url', lambda *a, **k: torch.load(random_weights, weights_only=True))
    reference = pf.InceptionV3([3]).eval()
    ours = FIDInception(weights=random_weights)
    assert ours.weights_path == str(random_weights)
    assert list(ours.state_dict()) == list(reference.state_dict())
    x = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = reference(x)[0].flatten(1)
        got = ours(x)
    assert got.shape == (1, 2048)
    assert 0.01 < got.abs().mean() < 10  # He init keeps features at a real network's scale
    torch.testing.assert_close(got, expected, rtol=0, atol=0)


@pytest.mark.slow
def test_features_and_folder_fid(face_folder):
    torch.manual_seed(0)
    model = FIDInception(pretrained=False)
    paths = sorted(str(p) for p in face_folder.glob('*.png'))
    batched = image_features(paths, model, batch_size=2, device='cpu', progress=False)  # mixed sizes in one batch
    assert batched.shape == (2, 2048) and batched.dtype == np.float32 and np.isfinite(batched).all()
    single = image_features([cv2.imread(paths[1])], model, batch_size=1, device='cpu', progress=False)  # BGR uint8
    np.testing.assert_allclose(single[0], batched[1], rtol=1e-4, atol=1e-6)
    assert np.abs(batched[0] - batched[1]).max() > 1e-4  # different images, different features

    mu, sigma = folder_statistics(face_folder, model, device='cpu', progress=False)
    ref_mu, ref_sigma = feature_statistics(batched)
    np.testing.assert_allclose(mu, ref_mu, rtol=1e-6)
    np.testing.assert_allclose(sigma, ref_sigma, rtol=1e-4, atol=1e-12)
    assert calculate_fid_folder(face_folder, face_folder, model, device='cpu', progress=False) == pytest.approx(0)


def test_folder_and_input_errors(tmp_path):
    model = torch.nn.Identity()
    with pytest.raises(FileNotFoundError, match='holds no images'):
        folder_statistics(tmp_path, model)  # checked before any network is built
    with pytest.raises(FileNotFoundError, match='does not exist'):
        calculate_fid_folder(tmp_path / 'missing', tmp_path)
    with pytest.raises(ValueError, match='no images'):
        image_features([], model)
    with pytest.raises(ValueError, match='BGR uint8'):
        image_features([np.zeros((4, 4, 3), np.float32)], model, progress=False)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        FIDInception(pretrained=False)(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match='pretrained=False'):
        FIDInception(weights='x.pth', pretrained=False)


def test_offline_error_names_the_weights_file(isolated_weights):
    with pytest.raises(WeightsNotFoundError, match=FID_WEIGHTS_FILE) as info:
        FIDInception()
    assert 'https://github.com/mseitzer/pytorch-fid/releases' in str(info.value)
    with pytest.raises(WeightsNotFoundError, match='my_inception.pth'):
        FIDInception(weights='my_inception.pth')


# ------------------------------------------------------------------------------------------------- the script
@pytest.mark.slow
def test_script_writes_statistics_and_refuses_to_overwrite(face_folder, random_weights, tmp_path, capsys):
    script = load_script('calculate_fid_stats')
    out = tmp_path / 'stats' / 'faces.pth'
    argv = [str(face_folder), str(out), '--weights', str(random_weights), '--device', 'cpu', '--batch-size', '2']
    assert script.main(argv + ['--quiet']) == 0
    printed = capsys.readouterr().out
    assert f'Wrote {out}' in printed and '2 images' in printed
    mu, sigma = load_fid_statistics(out)
    assert mu.shape == (2048, ) and sigma.shape == (2048, 2048) and np.isfinite(sigma).all()
    assert torch.load(out, weights_only=True)['num_images'] == 2
    before = out.read_bytes()
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    assert exit_info.value.code == 2 and 'pass --force' in capsys.readouterr().err
    assert out.read_bytes() == before


@pytest.mark.parametrize('case, message', [
    ('missing', 'does not exist'),
    ('empty', 'holds no images'),
    ('batch', '--batch-size must be at least 1'),
    ('weights', FID_WEIGHTS_FILE),
])
def test_script_bad_input_exits_2_with_one_sentence(isolated_weights, face_folder, case, message, capsys):
    script = load_script('calculate_fid_stats')
    (isolated_weights / 'empty').mkdir()
    folder = {'missing': 'nowhere', 'empty': 'empty'}.get(case, str(face_folder))
    argv = [folder, 'out.pth', '--device', 'cpu'] + (['--batch-size', '0'] if case == 'batch' else [])
    with pytest.raises(SystemExit) as exit_info:
        script.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert not os.path.exists('out.pth')


def test_script_help_describes_every_option(capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script('calculate_fid_stats').main(['--help'])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for option in ('input', 'output', '--weights', '--batch-size', '--device', '--workers', '--recursive', '--force',
                   '--quiet', '.npz', "{'mean', 'cov'}"):
        assert option in text
