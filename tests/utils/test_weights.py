"""Pretrained-file resolution: local path, experiments/pretrained_models, caches, then URL (atomic,
hash-checked); one clear sentence when nothing works."""
import hashlib
import os

import pytest

from gfpgan.utils.weights import PRETRAINED_DIR, WeightsNotFoundError, download_file, resolve_weights


def test_resolution_order(isolated_weights):
    tmp = isolated_weights
    assert resolve_weights(__file__) == __file__  # an existing path is used as is
    (tmp / 'cache').mkdir()
    (tmp / 'cache' / 'w.pth').write_bytes(b'cache')
    assert resolve_weights('w.pth') == os.path.join(str(tmp / 'cache'), 'w.pth')
    os.makedirs(PRETRAINED_DIR)
    (tmp / PRETRAINED_DIR / 'w.pth').write_bytes(b'local')
    assert resolve_weights('some/where/w.pth') == os.path.join(PRETRAINED_DIR, 'w.pth')


def test_offline_error_names_file_folder_and_url(isolated_weights):
    with pytest.raises(WeightsNotFoundError) as err:
        resolve_weights('GFPGANv1.4.pth', url='https://example.invalid/GFPGANv1.4.pth')
    message = str(err.value)
    assert "'GFPGANv1.4.pth' was not found" in message
    assert 'experiments/pretrained_models/' in message and 'https://example.invalid/GFPGANv1.4.pth' in message
    assert 'GFPGAN_NO_DOWNLOAD' in message  # the tests forbid downloads: nothing was fetched


def test_a_file_with_the_wrong_hash_is_not_used(isolated_weights):
    os.makedirs(PRETRAINED_DIR)
    (isolated_weights / PRETRAINED_DIR / 'w.pth').write_bytes(b'corrupt')
    good = hashlib.sha256(b'good').hexdigest()
    with pytest.raises(WeightsNotFoundError, match='does not have the expected SHA-256.*corrupt'):
        resolve_weights('w.pth', sha256=good, url='https://example.invalid/w.pth')
    (isolated_weights / PRETRAINED_DIR / 'w.pth').write_bytes(b'good')
    assert resolve_weights('w.pth', sha256=good[:8]).endswith('w.pth')  # a hash prefix is enough


def test_download_is_atomic_and_verified(isolated_weights, monkeypatch):
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD')
    (isolated_weights / 'server').mkdir()
    src = isolated_weights / 'server' / 'remote.bin'
    src.write_bytes(b'x' * 5000)
    url = src.as_uri()  # a local file:// URL: the download path without a network
    dst = isolated_weights / 'cache' / 'remote.bin'
    with pytest.raises(OSError, match='SHA-256 mismatch'):
        download_file(url, str(dst), sha256='0' * 64, progress=False)
    assert not dst.exists() and os.listdir(dst.parent) == []  # nothing partial left behind
    download_file(url, str(dst), sha256=hashlib.sha256(b'x' * 5000).hexdigest(), progress=False)
    assert dst.read_bytes() == b'x' * 5000
    # and through resolve_weights, into the cache
    assert resolve_weights('remote.bin', url=url, progress=False) == str(dst)


def test_the_folders_of_the_original_and_facexlib_come_first(isolated_weights):
    """gfpgan/weights/ (cwd), the gfpgan package's weights/, facexlib's weights/, experiments/pretrained_models/, then
    the caches: a file an existing install downloaded is found and nothing is fetched again."""
    import gfpgan.utils.weights as weights
    tmp = isolated_weights
    site = tmp / 'site'
    folders = [
        tmp / 'cache', tmp / PRETRAINED_DIR, site / 'facexlib' / 'weights', site / 'gfpgan' / 'weights',
        tmp / 'gfpgan' / 'weights'
    ]
    for folder in folders:  # from the last searched to the first: each new copy takes over
        folder.mkdir(parents=True)
        (folder / 'w.pth').write_bytes(b'x')
        assert os.path.samefile(resolve_weights('w.pth'), folder / 'w.pth')
        assert os.path.samefile(resolve_weights('elsewhere/w.pth'), folder / 'w.pth')
    assert weights.default_search_dirs()[:4] == [
        os.path.join('gfpgan', 'weights'),
        str(site / 'gfpgan' / 'weights'),
        str(site / 'facexlib' / 'weights'), PRETRAINED_DIR
    ]


def test_a_known_file_in_facexlib_weights_is_used_and_hash_checked(isolated_weights):
    """facexlib's own download of the detector is used (its catalogue digest checked); a corrupt copy there is not."""
    folder = isolated_weights / 'site' / 'facexlib' / 'weights'
    folder.mkdir(parents=True)
    (folder / 'detection_Resnet50_Final.pth').write_bytes(b'not the release file')
    with pytest.raises(WeightsNotFoundError, match='facexlib.*does not have the expected SHA-256'):
        resolve_weights('detection_Resnet50_Final.pth')


def test_facexlib_weights_dir_is_found_without_importing_facexlib(monkeypatch):
    import importlib.util
    import sys

    import gfpgan.utils.weights as weights
    spec = importlib.util.find_spec('facexlib')
    if spec is None:
        assert weights.facexlib_weights_dir() is None
        return
    monkeypatch.delitem(sys.modules, 'facexlib', raising=False)
    expected = os.path.join(os.path.dirname(spec.origin), 'weights')
    assert weights.facexlib_weights_dir() == expected
    assert 'facexlib' not in sys.modules
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *args: None)
    assert weights.facexlib_weights_dir() is None
    package = os.path.dirname(os.path.dirname(os.path.abspath(weights.__file__)))  # .../gfpgan
    assert weights.gfpgan_package_weights_dir() == os.path.join(package, 'weights')
