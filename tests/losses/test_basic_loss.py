"""Pixel losses against their formulas: every reduction, BasicSR's weighted mean, Charbonnier, build_loss."""
import pytest
import torch

from gfpgan.losses import CharbonnierLoss, L1Loss, MSELoss, build_loss, weight_reduce_loss
from gfpgan.registry import LOSS_REGISTRY

ELEMENTWISE = {
    L1Loss: lambda d: d.abs(),
    MSELoss: lambda d: d**2,
    CharbonnierLoss: lambda d: torch.sqrt(d**2 + 1e-12),
}


def _pair(seed=0, shape=(2, 3, 4, 5)):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g), torch.randn(shape, generator=g)


@pytest.mark.parametrize('cls', list(ELEMENTWISE))
def test_reductions_and_loss_weight(cls):
    pred, target = _pair()
    elem = ELEMENTWISE[cls](pred - target)
    torch.testing.assert_close(cls(0.5, 'none')(pred, target), 0.5 * elem)
    torch.testing.assert_close(cls(0.5, 'mean')(pred, target), 0.5 * elem.sum() / elem.numel())
    torch.testing.assert_close(cls(0.5, 'sum')(pred, target), 0.5 * elem.sum())
    torch.testing.assert_close(cls()(pred, target), elem.mean())  # defaults: weight 1, mean


@pytest.mark.parametrize('cls', list(ELEMENTWISE))
def test_weighted_reductions(cls):
    pred, target = _pair(1)
    elem = ELEMENTWISE[cls](pred - target)
    g = torch.Generator().manual_seed(2)
    w_full = torch.rand(2, 3, 4, 5, generator=g)
    w_one = torch.rand(2, 1, 4, 5, generator=g)
    # a full weight: mean over its mass
    torch.testing.assert_close(cls(2.0)(pred, target, w_full), 2.0 * (elem * w_full).sum() / w_full.sum())
    # a one-channel weight counts once per channel it is broadcast over
    torch.testing.assert_close(cls(2.0)(pred, target, w_one), 2.0 * (elem * w_one).sum() / (3 * w_one.sum()))
    torch.testing.assert_close(cls(2.0, 'sum')(pred, target, w_one), 2.0 * (elem * w_one).sum())
    torch.testing.assert_close(cls(2.0, 'none')(pred, target, w_one), 2.0 * elem * w_one)
    # a 0/1 mask averages over the masked elements only
    mask = torch.zeros(2, 1, 4, 5)
    mask[:, :, :2] = 1
    torch.testing.assert_close(cls()(pred, target, mask), elem[:, :, :2].mean())


def test_charbonnier_value_and_eps():
    pred = torch.tensor([[[[0.0, 3.0]]]])
    target = torch.tensor([[[[0.0, -1.0]]]])
    assert CharbonnierLoss().eps == 1e-12
    torch.testing.assert_close(CharbonnierLoss(reduction='none')(pred, target), torch.tensor([[[[1e-6, 4.0]]]]))
    torch.testing.assert_close(CharbonnierLoss(eps=0.25, reduction='sum')(pred, target), torch.tensor(0.5 + 16.25**0.5))
    # the gradient d / sqrt(d^2 + eps) of the mean over 2 elements
    x = torch.tensor([[[[0.0, 0.1]]]], requires_grad=True)
    CharbonnierLoss(eps=1e-2)(x, torch.zeros(1, 1, 1, 2)).backward()
    torch.testing.assert_close(x.grad, torch.tensor([[[[0.0, 0.1 / 0.02**0.5 / 2]]]]))


def test_bad_reduction_and_weight_shape():
    for cls in ELEMENTWISE:
        with pytest.raises(ValueError, match="reduction must be one of none, mean, sum, got 'avg'"):
            cls(reduction='avg')
    pred, target = _pair()
    with pytest.raises(ValueError, match='1 or 3 channels'):
        L1Loss()(pred, target, torch.ones(2, 2, 4, 5))
    with pytest.raises(ValueError, match='dimensions'):
        L1Loss()(pred, target, torch.ones(2, 4, 5))
    with pytest.raises(ValueError, match='reduction must be one of'):
        weight_reduce_loss(pred, None, 'max')


def test_build_loss():
    for name in ('L1Loss', 'MSELoss', 'CharbonnierLoss', 'PerceptualLoss', 'GANLoss', 'MultiScaleGANLoss',
                 'IdentityLoss'):
        assert name in LOSS_REGISTRY
    opt = {'type': 'L1Loss', 'loss_weight': 0.1, 'reduction': 'sum'}
    loss = build_loss(opt)
    assert isinstance(loss, L1Loss) and loss.loss_weight == 0.1 and loss.reduction == 'sum'
    assert opt == {'type': 'L1Loss', 'loss_weight': 0.1, 'reduction': 'sum'}  # options are not consumed
    assert build_loss({'type': 'CharbonnierLoss', 'eps': 1e-6}).eps == 1e-6
    with pytest.raises(ValueError, match="'type' key"):
        build_loss({'loss_weight': 1.0})
    with pytest.raises(KeyError, match="No loss named 'L3Loss'; registered loss types are: CharbonnierLoss"):
        build_loss({'type': 'L3Loss'})
    with pytest.raises(TypeError):
        build_loss({'type': 'L1Loss', 'eps': 1.0})
