"""Perceptual and style losses with a random-weight VGG: the layer-weighted criterion of separately computed
features, Gram matrices by loops, gradients into the input only."""
import pytest
import torch

from gfpgan.archs.vgg_arch import VGGFeatureExtractor
from gfpgan.losses import PerceptualLoss, build_loss, gram_matrix
from gfpgan.utils.weights import WeightsNotFoundError

LAYERS = {'conv1_2': 0.1, 'relu2_1': 0.5, 'conv3_4': 1.0}


def _images(seed=0, size=32):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(2, 3, size, size, generator=g) * 2 - 1, torch.rand(2, 3, size, size, generator=g) * 2 - 1


def _loss(**kwargs):
    torch.manual_seed(0)
    return PerceptualLoss(LAYERS, pretrained=False, **kwargs)


def _gram_loops(f):
    n, c, h, w = f.shape
    out = torch.zeros(n, c, c, dtype=torch.float64)
    for b in range(n):
        for i in range(c):
            for j in range(c):
                out[b, i, j] = sum(f[b, i, y, x].double() * f[b, j, y, x].double() for y in range(h) for x in range(w))
    return out / (c * h * w)


def test_gram_matrix_by_loops():
    f = torch.randn(2, 3, 2, 3, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(gram_matrix(f).double(), _gram_loops(f))
    assert torch.equal(PerceptualLoss._gram_mat(f), gram_matrix(f))
    channels_last = f.to(memory_format=torch.channels_last)  # not viewable as (n, c, h*w): still works
    torch.testing.assert_close(gram_matrix(channels_last), gram_matrix(f))


@pytest.mark.parametrize('criterion', ['l1', 'l2', 'fro'])
def test_equals_weighted_criterion_of_vgg_features(criterion):
    loss = _loss(range_norm=True, perceptual_weight=0.7, style_weight=30., criterion=criterion)
    extractor = VGGFeatureExtractor(list(LAYERS), range_norm=True, pretrained=False)
    extractor.load_state_dict(loss.vgg.state_dict())
    x, gt = _images()
    fx, fgt = extractor(x), extractor(gt)
    dist = {
        'l1': lambda a, b: (a - b).abs().mean(),
        'l2': lambda a, b: ((a - b)**2).mean(),
        'fro': lambda a, b: ((a - b)**2).sum().sqrt()
    }[criterion]
    percep = sum(dist(fx[k], fgt[k]) * w for k, w in LAYERS.items()) * 0.7
    style = sum(dist(gram_matrix(fx[k]), gram_matrix(fgt[k])) * w for k, w in LAYERS.items()) * 30.
    got_percep, got_style = loss(x, gt)
    torch.testing.assert_close(got_percep, percep)
    torch.testing.assert_close(got_style, style)
    assert got_style > 0 and got_percep > 0


def test_range_norm_and_input_norm():
    x, gt = _images(2)
    a = _loss(range_norm=True)(x, gt)[0]
    b = _loss(range_norm=False)((x + 1) / 2, (gt + 1) / 2)[0]
    torch.testing.assert_close(a, b)
    plain = _loss(use_input_norm=False)
    assert not hasattr(plain.vgg, 'mean')


def test_zero_weights_give_none_and_equal_inputs_give_zero():
    x, _ = _images(3)
    assert _loss(perceptual_weight=0, style_weight=0)(x, x) == (None, None)
    percep, style = _loss(perceptual_weight=1.0, style_weight=0.)(x, x)
    assert style is None and percep == 0
    percep, style = _loss(perceptual_weight=0., style_weight=5.)(x, x.clone())
    assert percep is None and style == 0


def test_gradients_reach_the_input_only():
    loss = _loss(style_weight=1.)
    x, gt = _images(4)
    x.requires_grad_(True)
    gt.requires_grad_(True)
    percep, style = loss(x, gt)
    (percep + style).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert gt.grad is None
    assert all(p.grad is None and not p.requires_grad for p in loss.parameters())


def test_options_and_errors(isolated_weights):
    with pytest.raises(ValueError, match="criterion must be one of l1, l2, fro, got 'l3'"):
        PerceptualLoss(LAYERS, criterion='l3', pretrained=False)
    with pytest.raises(ValueError, match='unknown layer names'):
        PerceptualLoss({'conv9_9': 1.0}, pretrained=False)
    with pytest.raises(WeightsNotFoundError, match='vgg19'):  # pretrained by default, never downloaded in tests
        PerceptualLoss({'conv1_1': 1.0})
    opt = {
        'type': 'PerceptualLoss',
        'layer_weights': {
            'conv1_2': 0.1,
            'conv2_2': 0.1
        },
        'vgg_type': 'vgg13',
        'style_weight': 50,
        'range_norm': True,
        'criterion': 'l1',
        'pretrained': False
    }
    loss = build_loss(opt)
    assert isinstance(loss, PerceptualLoss) and loss.style_weight == 50 and loss.vgg.range_norm
