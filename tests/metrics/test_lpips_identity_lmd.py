"""LPIPS, identity angle and landmark distance: metric properties with random networks, the exact input protocol,
weight loading from files made here, shared networks for validation, and clear errors (offline included)."""
import os

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata
from torch.nn import functional as F

from gfpgan.archs.arcface_arch import ResNetArcFace
from gfpgan.metrics import identity_angle as identity_module
from gfpgan.metrics import landmark_distance as lmd_module
from gfpgan.metrics import lpips_metric as lpips_module
from gfpgan.metrics.identity_angle import IdentityAngle, calculate_identity_angle, embedding_angle
from gfpgan.metrics.landmark_distance import (FANLandmarkDetector, LandmarkDistance, calculate_lmd,
                                              landmarks_from_heatmaps)
from gfpgan.metrics.lpips_metric import LPIPSMetric, calculate_lpips
from gfpgan.registry import METRIC_REGISTRY
from gfpgan.utils.checkpoint import save_network
from gfpgan.utils.weights import PRETRAINED_DIR


@pytest.fixture(scope='module')
def face():
    """skimage's astronaut as a 64x64 BGR uint8 image."""
    rgb = cv2.resize(skdata.astronaut(), (64, 64), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb[..., ::-1])


@pytest.fixture(scope='module')
def random_lpips():
    torch.manual_seed(0)
    return LPIPSMetric(pretrained=False, device='cpu')


@pytest.fixture(scope='module')
def random_identity():
    torch.manual_seed(0)
    return IdentityAngle(pretrained=False, device='cpu')


@pytest.fixture
def fresh_caches():
    """The per-(configuration, device) network caches of the registered functions, empty before and after."""
    caches = [lpips_module._shared_metric, identity_module._shared_metric, lmd_module._shared_metric]
    for cache in caches:
        cache.cache_clear()
    yield
    for cache in caches:
        cache.cache_clear()


def _noisy(img, sigma, seed):
    noise = np.random.default_rng(seed).normal(0, sigma, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


# ------------------------------------------------------------------------------------------------------- LPIPS
def test_lpips_zero_symmetric_and_batched(random_lpips, face):
    other = _noisy(face, 20, 0)
    assert random_lpips(face, face) == pytest.approx(0.0, abs=1e-7)
    d = random_lpips(face, other)
    assert d > 0
    assert random_lpips(other, face) == pytest.approx(d, rel=1e-5)
    # distance(): (B, 3, H, W) RGB in [-1, 1] -> (B,), the same numbers as the per-image call
    x = torch.from_numpy(np.stack([face, other])[..., ::-1].transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1
    y = torch.from_numpy(np.stack([other, other])[..., ::-1].transpose(0, 3, 1, 2).copy()).float() / 127.5 - 1
    batch = random_lpips.distance(x, y)
    assert batch.shape == (2, )
    assert batch[0].item() == pytest.approx(d, rel=1e-5)
    assert batch[1].item() == pytest.approx(0.0, abs=1e-7)


def test_lpips_grows_with_blur(random_lpips, face):
    # random non-negative linear weights keep LPIPS a weighted sum of squared feature differences; on the 64x64
    # astronaut the distance rises several-fold at every step for seed 0 (as for seeds 1 and 2, checked once)
    values = [random_lpips(face, cv2.GaussianBlur(face, (0, 0), sigma)) for sigma in (0.5, 1.0, 2.0, 4.0)]
    assert values[0] > 0
    assert all(a < b for a, b in zip(values, values[1:])), values


def test_lpips_rejects_bad_inputs(random_lpips, face):
    with pytest.raises(ValueError, match=r'\(H, W, 3\) BGR uint8'):
        random_lpips(face.astype(np.float32), face)
    with pytest.raises(ValueError, match=r'\(H, W, 3\) BGR uint8'):
        random_lpips(face[..., 0], face[..., 0])
    with pytest.raises(ValueError, match='one shape'):
        random_lpips(face, face[:32])
    with pytest.raises(ValueError, match='at least 16 pixels'):
        random_lpips(face[:8, :8], face[:8, :8])
    x = torch.zeros(1, 3, 32, 32)
    with pytest.raises(ValueError, match=r'\(B, 3, H, W\)'):
        random_lpips.distance(x[:, :1], x[:, :1])
    with pytest.raises(ValueError, match=r'in \[-1, 1\]'):
        random_lpips.distance(x + 2, x)
    with pytest.raises(ValueError, match="must be one of"):
        LPIPSMetric(net='squeeze', pretrained=False)


def _torchvision_vgg16_features(seed):
    """A random torchvision VGG16 ``features`` state_dict (keys features.<i>.weight/bias), the classifier left out."""
    import torchvision.models.vgg as tv_vgg
    torch.manual_seed(seed)
    features = tv_vgg.make_layers(tv_vgg.cfgs['D'])
    return {f'features.{k}': v for k, v in features.state_dict().items()}


def test_lpips_loads_backbone_file_and_registered_function_shares_the_network(tmp_path, face, fresh_caches):
    import lpips
    backbone = _torchvision_vgg16_features(seed=3)
    path = str(tmp_path / 'my_vgg16.pth')
    torch.save(backbone, path)
    assert METRIC_REGISTRY.get('calculate_lpips') is calculate_lpips
    other = _noisy(face, 20, 1)
    d = calculate_lpips(face, other, weights=path, device='cpu')
    assert calculate_lpips(other, face, weights=path, device='cpu', crop_border=0) == pytest.approx(d, rel=1e-5)
    info = lpips_module._shared_metric.cache_info()
    assert (info.misses, info.hits, info.currsize) == (1, 1, 1)  # built once, reused

    metric = lpips_module._shared_metric('vgg', path, 'cpu')
    own = metric.model.net.state_dict()
    slices = {
        '0': 1,
        '2': 1,
        '5': 2,
        '7': 2,
        '10': 3,
        '12': 3,
        '14': 3,
        '17': 4,
        '19': 4,
        '21': 4,
        '24': 5,
        '26': 5,
        '28': 5
    }  # lpips' slices keep torchvision's feature indices
    assert len(own) == 2 * len(slices)
    for index, k in slices.items():
        for param in ('weight', 'bias'):
            torch.testing.assert_close(
                own[f'slice{k}.{index}.{param}'], backbone[f'features.{index}.{param}'], rtol=0, atol=0)
    linear = torch.load(
        os.path.join(os.path.dirname(lpips.__file__), 'weights', 'v0.1', 'vgg.pth'),
        map_location='cpu',
        weights_only=True)
    for key, value in linear.items():
        torch.testing.assert_close(metric.model.state_dict()[key], value, rtol=0, atol=0)
    assert not any(p.requires_grad for p in metric.model.parameters()) and not metric.model.training


# ---------------------------------------------------------------------------------------------- identity angle
def test_identity_angle_properties(random_identity, face):
    other = np.ascontiguousarray(face[:, ::-1])
    assert random_identity(face, face) == pytest.approx(0.0, abs=1e-3)
    angle = random_identity(face, other)
    assert 0 < angle <= 180
    assert random_identity(other, face) == pytest.approx(angle, rel=1e-5)
    # sizes may differ (both go to 128x128): then the embeddings are computed one at a time
    emb, big = random_identity.embedding(face), cv2.resize(other, (96, 96), interpolation=cv2.INTER_LINEAR)
    assert emb.shape == (512, ) and emb.dtype == np.float32
    angle_big = random_identity(face, big)
    assert 0 < angle_big <= 180
    assert angle_big == pytest.approx(embedding_angle(emb, random_identity.embedding(big)), rel=1e-5)


def test_identity_angle_uses_the_training_input(random_identity, face):
    """RGB in [-1, 1] -> gray (0.2989, 0.5870, 0.1140) -> bilinear 128x128 -> ArcFace, as GFPGANModel feeds it."""
    other = _noisy(face, 30, 2)

    def reference_embedding(img):
        rgb = torch.from_numpy(img[..., ::-1].copy()).permute(2, 0, 1).float()[None] / 255. * 2 - 1
        gray = 0.2989 * rgb[:, :1] + 0.5870 * rgb[:, 1:2] + 0.1140 * rgb[:, 2:]
        with torch.no_grad():
            return random_identity.net(F.interpolate(gray, (128, 128), mode='bilinear', align_corners=False))[0]

    e1, e2 = reference_embedding(face), reference_embedding(other)
    expected = torch.rad2deg(torch.arccos(F.cosine_similarity(e1.double(), e2.double(), dim=0))).item()
    assert random_identity(face, other) == pytest.approx(expected, abs=1e-3)


def test_embedding_angle_known_values():
    assert embedding_angle([1, 0], [0, 2]) == pytest.approx(90)
    assert embedding_angle([1, 1], [-3, -3]) == pytest.approx(180)
    assert embedding_angle([1, 2, 3], [2, 4, 6]) == pytest.approx(0, abs=1e-6)
    with pytest.raises(ValueError, match='zero'):
        embedding_angle([0, 0], [1, 0])
    with pytest.raises(ValueError, match='one size'):
        embedding_angle([1, 0], [1, 0, 0])


def test_identity_angle_rejects_bad_inputs(random_identity, face):
    with pytest.raises(ValueError, match=r'\(H, W, 3\) BGR uint8'):
        random_identity(face / 255., face)
    with pytest.raises(ValueError, match=r'\(H, W, 3\) BGR uint8'):
        random_identity.embedding(face[None])


def test_registered_identity_angle_loads_the_file_once(isolated_weights, face, fresh_caches):
    torch.manual_seed(5)
    net = ResNetArcFace('IRBlock', [2, 2, 2, 2], use_se=False).eval()
    os.makedirs(PRETRAINED_DIR)
    save_network(net, os.path.join(PRETRAINED_DIR, 'arcface_resnet18.pth'))
    assert METRIC_REGISTRY.get('calculate_identity_angle') is calculate_identity_angle
    other = _noisy(face, 30, 3)
    angle = calculate_identity_angle(face, other, device='cpu')
    assert calculate_identity_angle(face, face) == pytest.approx(0.0, abs=1e-3)  # device None -> the CPU here
    assert 0 < angle <= 180
    info = identity_module._shared_metric.cache_info()
    assert (info.misses, info.currsize) == (1, 1)
    metric = identity_module._shared_metric(None, 'cpu')
    for key, value in net.state_dict().items():
        torch.testing.assert_close(metric.net.state_dict()[key], value, rtol=0, atol=0)


# ----------------------------------------------------------------------------------------------------- LMD
_BASE = np.array([[10.0, 12.0], [30.0, 40.0], [50.0, 20.0]])


def _shifted_detector(img):
    """Fixed points, each moved by (3, 4) times the value of its own pixel in the first row (channel 0)."""
    return _BASE + np.array([3.0, 4.0]) * img[0, :3, 0, None]


def test_lmd_known_distance_symmetry_and_zero():
    a = np.zeros((16, 16, 3), np.uint8)
    b = a.copy()
    b[0, :3, 0] = (1, 2, 0)  # shifts (3, 4), (6, 8), (0, 0): distances 5, 10, 0
    lmd = LandmarkDistance(detector=_shifted_detector)
    assert lmd(a, b) == pytest.approx(5.0)
    assert lmd(b, a) == pytest.approx(5.0)
    assert lmd(a, a) == 0.0
    torch_lmd = LandmarkDistance(detector=lambda img: torch.from_numpy(_shifted_detector(img)))
    assert torch_lmd(a, b) == pytest.approx(5.0)


def test_lmd_rejects_bad_detections_and_inputs():
    a = np.zeros((16, 16, 3), np.uint8)
    b = a.copy()
    b[0, 0, 0] = 1
    counts = LandmarkDistance(detector=lambda img: np.zeros((98 if img[0, 0, 0] else 68, 2)))
    with pytest.raises(ValueError, match='same number of landmarks.*68 and 98'):
        counts(a, b)
    with pytest.raises(ValueError, match=r'finite \(K, 2\) points'):
        LandmarkDistance(detector=lambda img: np.zeros((5, 3)))(a, a)
    with pytest.raises(ValueError, match=r'finite \(K, 2\) points'):
        LandmarkDistance(detector=lambda img: np.full((5, 2), np.nan))(a, a)
    with pytest.raises(ValueError, match='callable'):
        LandmarkDistance(detector='awing_fan')
    lmd = LandmarkDistance(detector=_shifted_detector)
    with pytest.raises(ValueError, match='one shape'):
        lmd(a, a[:8])
    with pytest.raises(ValueError, match=r'\(H, W, 3\) BGR uint8'):
        lmd(a.astype(np.float32), a)


def test_landmarks_from_heatmaps_decoding():
    heat = np.zeros((3, 64, 64))
    heat[0, 20, 10] = 1.0
    heat[0, 20, 11] = 0.5  # right neighbour higher: x + 0.25
    heat[0, 19, 10] = 0.3  # upper neighbour higher: y - 0.25
    heat[1, 5, 7] = 1.0  # a lone peak: the cell centre
    heat[2, 63, 0] = 1.0  # a corner: not moved, no wrap-around, no index error
    heat[2, 62, 1] = 0.5
    heat[2, 62, 0] = 0.2
    points = landmarks_from_heatmaps(heat)
    np.testing.assert_allclose(points, [[10.75, 20.25], [7.5, 5.5], [0.5, 63.5]])
    with pytest.raises(ValueError, match=r'\(K, h, w\)'):
        landmarks_from_heatmaps(heat[0])


class _PeakHeatmaps(torch.nn.Module):
    """Stands in for FAN: records its input and returns 98 + 1 heatmaps of 64x64 with lone peaks at known cells."""

    def forward(self, x):
        self.seen = x
        heat = torch.zeros(1, 99, 64, 64)
        heat[0, :98, 32, 16] = 1.0
        heat[0, 0, 0, 0] = 2.0
        heat[0, 98, 5, 5] = 9.0  # the boundary channel is not a landmark
        return [torch.zeros_like(heat), heat], [None, None]


def test_fan_adapter_feeds_rgb_256_and_scales_points_back():
    fake = _PeakHeatmaps()
    detector = FANLandmarkDetector.__new__(FANLandmarkDetector)  # the real FAN is too slow here: see the next test
    detector.device, detector.model = torch.device('cpu'), fake
    img = np.random.default_rng(4).integers(0, 256, (96, 128, 3), dtype=np.uint8)  # H 96, W 128
    points = detector(img)
    assert points.shape == (98, 2)
    expected_input = cv2.resize(img, (256, 256), interpolation=cv2.INTER_LINEAR)[..., ::-1] / 255.
    np.testing.assert_allclose(fake.seen[0].permute(1, 2, 0).numpy(), expected_input, atol=1e-6)
    np.testing.assert_allclose(points[0], [0.5 * 2, 0.5 * 1.5])  # a corner peak: the cell centre
    np.testing.assert_allclose(points[1:], np.tile([16.5 * 2, 32.5 * 1.5], (97, 1)))


def test_fan_detector_matches_the_release_layout():
    """facexlib's FAN as the release file needs it (4 hourglass modules, 98 + 1 heatmaps), frozen; its forward pass
    is not run here (several seconds on a CPU), the adapter around it is tested above."""
    torch.manual_seed(0)
    detector = FANLandmarkDetector(pretrained=False, device='cpu')
    state = detector.model.state_dict()
    assert tuple(state['l3.weight'].shape) == (99, 256, 1, 1) and 'l4.weight' not in state
    assert not detector.model.training and not any(p.requires_grad for p in detector.model.parameters())


# ------------------------------------------------------------------------------------------------- offline
def test_offline_errors_name_the_missing_file(isolated_weights, face, fresh_caches):
    cases = [
        (lambda: LPIPSMetric(), 'vgg16-397923af.pth'),
        (lambda: LPIPSMetric(net='alex'), 'alexnet-owt-7be5be79.pth'),
        (lambda: IdentityAngle(), 'arcface_resnet18.pth'),
        (lambda: LandmarkDistance(), 'alignment_WFLW_4HG.pth'),
        (lambda: calculate_lpips(face, face), 'vgg16-397923af.pth'),
        (lambda: calculate_identity_angle(face, face), 'arcface_resnet18.pth'),
        (lambda: calculate_lmd(face, face), 'alignment_WFLW_4HG.pth'),
    ]
    for build, filename in cases:
        with pytest.raises(FileNotFoundError) as err:
            build()
        message = str(err.value)
        assert f"'{filename}' was not found" in message and PRETRAINED_DIR in message, message
