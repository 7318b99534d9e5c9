"""The pretrained catalogue: every file the code asks for is in it, its entries are consistent, the docs list
exactly its files, and resolve_weights checks a known file against its SHA-256 without being told."""
import glob
import os
import re

import pytest

from gfpgan.archs.presets import RELEASES
from gfpgan.data.components import RELEASE_URL
from gfpgan.metrics.fid import FID_WEIGHTS_FILE
from gfpgan.metrics.identity_angle import ARCFACE_WEIGHTS
from gfpgan.metrics.landmark_distance import FAN_WEIGHTS
from gfpgan.metrics.lpips_metric import BACKBONE_WEIGHTS
from gfpgan.metrics.niqe import NIQE_PARAMS_FILE
from gfpgan.restoration.background import RELEASE_UPSAMPLERS
from gfpgan.restoration.face_helper import PARSENET_FILE, RETINAFACE_MODELS
from gfpgan.utils.pretrained import PRETRAINED, USES, pretrained_files
from gfpgan.utils.weights import PRETRAINED_DIR, WeightsNotFoundError, resolve_weights

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_every_file_the_code_names_is_in_the_catalogue():
    named = {release['file'] for release in RELEASES.values()}
    named |= set(RELEASE_UPSAMPLERS.values()) | {file for _, file in RETINAFACE_MODELS.values()}
    named |= {PARSENET_FILE, FID_WEIGHTS_FILE, ARCFACE_WEIGHTS, FAN_WEIGHTS, NIQE_PARAMS_FILE}
    named |= set(BACKBONE_WEIGHTS.values()) | {os.path.basename(RELEASE_URL)}
    for option_file in glob.glob(os.path.join(ROOT, 'options', '*.yml')):
        with open(option_file) as f:
            named |= set(re.findall(r'experiments/pretrained_models/([\w.\-]+)', f.read()))
    assert named - set(PRETRAINED) == set()


def test_entries_are_consistent():
    for name, entry in PRETRAINED.items():
        assert entry.url.startswith('https://') and entry.url.endswith('/' + name)
        assert entry.uses and set(entry.uses) <= set(USES), name
        if entry.sha256 is not None:
            assert re.fullmatch(r'[0-9a-f]{8}|[0-9a-f]{64}', entry.sha256), name
        prefix = re.search(r'-([0-9a-f]{8})\.pth$', name)
        if prefix:  # torchvision / pytorch-fid names carry the first 8 hex digits of the digest
            assert entry.sha256.startswith(prefix.group(1)), name
    assert {'GFPGANv1.4.pth', 'RealESRGAN_x2plus.pth', 'parsing_parsenet.pth'} <= set(pretrained_files('inference'))
    assert 'detection_mobilenet0.25_Final.pth' not in pretrained_files('inference')  # optional
    assert 'detection_mobilenet0.25_Final.pth' in pretrained_files('inference', include_optional=True)
    with pytest.raises(ValueError, match='Unknown use'):
        pretrained_files('painting')


def test_the_pretrained_readme_lists_exactly_the_catalogue():
    with open(os.path.join(ROOT, PRETRAINED_DIR, 'README.md')) as f:
        rows = dict(re.findall(r'^\| `([^`]+)` \|.*?(https://\S+) \|$', f.read(), flags=re.M))
    assert sorted(rows) == sorted(PRETRAINED)
    for name, url in rows.items():
        assert url == PRETRAINED[name].url, name


def test_a_known_file_is_checked_against_its_catalogue_digest(isolated_weights):
    os.makedirs(PRETRAINED_DIR)
    (isolated_weights / PRETRAINED_DIR / 'GFPGANv1.4.pth').write_bytes(b'not the release')
    with pytest.raises(WeightsNotFoundError, match='does not have the expected SHA-256') as info:
        resolve_weights('GFPGANv1.4.pth')
    assert PRETRAINED['GFPGANv1.4.pth'].url in str(info.value)
    own = isolated_weights / 'my_finetuned' / 'GFPGANv1.4.pth'  # a path you give is yours: used as it is
    own.parent.mkdir()
    own.write_bytes(b'weights of my own')
    assert resolve_weights(str(own)) == str(own)
