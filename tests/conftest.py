"""Test-wide settings: no downloads ever, deterministic threads, repo root importable, the ``cuda`` marker."""
import os
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

os.environ['GFPGAN_NO_DOWNLOAD'] = '1'  # any attempt to fetch weights fails at once instead of hitting the network
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture
def isolated_weights(tmp_path, monkeypatch):
    """Run in an empty folder with empty gfpgan / torch caches and empty package ``weights/`` folders (the gfpgan
    package's and facexlib's, moved into the folder): nothing pretrained can be found."""
    import gfpgan.utils.weights as weights
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(weights, 'gfpgan_package_weights_dir', lambda: str(tmp_path / 'site' / 'gfpgan' / 'weights'))
    monkeypatch.setattr(weights, 'facexlib_weights_dir', lambda: str(tmp_path / 'site' / 'facexlib' / 'weights'))
    monkeypatch.setenv('GFPGAN_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    return tmp_path


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects anything
def pytest_collection_modifyitems(config, items):
    """Every test whose id mentions CUDA (a CUDA-parametrised case, a CUDA prefetcher test) is marked ``cuda``
    too, so ``pytest -m cuda`` runs all the tests that exercise a GPU."""
    for item in items:
        if 'cuda' in item.nodeid.lower() and item.get_closest_marker('cuda') is None:
            item.add_marker(pytest.mark.cuda)
