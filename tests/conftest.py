"""Test-wide settings: no downloads ever, deterministic threads, repo root importable."""
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
    """Run in an empty folder with empty gfpgan / torch caches: nothing pretrained can be found."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('GFPGAN_CACHE', str(tmp_path / 'cache'))
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch_home'))
    return tmp_path
