"""Adversarial losses and regularisers against their formulas and analytic gradients."""
import math

import pytest
import torch
from torch import nn

from gfpgan.losses import GANLoss, MultiScaleGANLoss, build_loss, g_path_regularize, gradient_penalty_loss, r1_penalty


def _softplus(x):
    return torch.log1p(torch.exp(x))


def _bce(x, y):  # binary cross-entropy of logits x to targets y, element-wise
    p = torch.sigmoid(x)
    return -(y * torch.log(p) + (1 - y) * torch.log(1 - p))


# (gan_type, target_is_real, is_disc) -> unweighted value of logits x, with real label 0.9 and fake label 0.2
FORMULAS = {
    'vanilla':
    lambda x, real, disc: _bce(x, torch.full_like(x, 0.9 if real else 0.2)).mean(),
    'lsgan':
    lambda x, real, disc: ((x - (0.9 if real else 0.2))**2).mean(),
    'wgan':
    lambda x, real, disc: -x.mean() if real else x.mean(),
    'wgan_softplus':
    lambda x, real, disc: _softplus(-x).mean() if real else _softplus(x).mean(),
    'hinge':
    lambda x, real, disc: (torch.clamp(1 - x, min=0).mean() if real else torch.clamp(1 + x, min=0).mean())
    if disc else -x.mean(),
}


@pytest.mark.parametrize('gan_type', list(FORMULAS))
def test_gan_loss_values(gan_type):
    x = torch.tensor([[-2.5, -0.3, 0.0], [0.4, 1.2, 3.0]]).view(2, 1, 1, 3)
    loss = GANLoss(gan_type, real_label_val=0.9, fake_label_val=0.2, loss_weight=0.25)
    for real in (True, False):
        for disc in (True, False):
            expected = FORMULAS[gan_type](x, real, disc) * (1.0 if disc else 0.25)  # loss_weight: generator only
            torch.testing.assert_close(loss(x, real, is_disc=disc), expected)
    torch.testing.assert_close(loss(x, True), FORMULAS[gan_type](x, True, False) * 0.25)  # is_disc=False default


def test_gan_loss_gradients_and_errors():
    x = torch.randn(3, 1, requires_grad=True)
    GANLoss('wgan_softplus', loss_weight=0.1)(x, True).backward()
    torch.testing.assert_close(x.grad, -0.1 * torch.sigmoid(-x.detach()) / 3)
    with pytest.raises(ValueError, match="gan_type must be one of vanilla, lsgan, wgan, wgan_softplus, hinge"):
        GANLoss('relativistic')
    built = build_loss({'type': 'GANLoss', 'gan_type': 'wgan_softplus', 'loss_weight': 0.1})
    assert isinstance(built, GANLoss) and built.gan_type == 'wgan_softplus' and built.loss_weight == 0.1


def test_multiscale_gan_loss():
    a, b, c = torch.randn(2, 1, 4, 4), torch.randn(2, 5), torch.randn(2, 1)
    single = GANLoss('hinge', loss_weight=0.5)
    multi = MultiScaleGANLoss('hinge', loss_weight=0.5)
    # a nested list (feature matching) counts its last prediction only
    expected = (single(a, False, is_disc=True) + single(c, False, is_disc=True)) / 2
    torch.testing.assert_close(multi([a, [b, c]], False, is_disc=True), expected)
    torch.testing.assert_close(multi([a, b], True), (single(a, True) + single(b, True)) / 2)
    torch.testing.assert_close(multi(a, True), single(a, True))


def test_r1_penalty_analytic():
    # D(x)_n = sum_chw w * x^2  =>  dD/dx = 2 w x,  R1 = mean_n sum (2 w x)^2,  dR1/dw = mean_n sum 8 w x^2
    g = torch.Generator().manual_seed(0)
    x = torch.randn(3, 2, 4, 4, generator=g).requires_grad_(True)
    w = torch.randn(2, 4, 4, generator=g).requires_grad_(True)
    pred = (w * x**2).sum(dim=(1, 2, 3)).unsqueeze(1)
    penalty = r1_penalty(pred, x)
    xd, wd = x.detach(), w.detach()
    torch.testing.assert_close(penalty, ((2 * wd * xd)**2).sum(dim=(1, 2, 3)).mean())
    penalty.backward()  # create_graph: the penalty reaches the discriminator's weights
    torch.testing.assert_close(w.grad, (8 * wd * xd**2).mean(0))


def test_g_path_regularize_analytic():
    # fake = (sum_k latents[:, k]) @ P  =>  d sum(fake * noise) / d latents[n, k] = P @ noise_n, for every k
    g = torch.Generator().manual_seed(1)
    latents = torch.randn(2, 3, 5, generator=g).requires_grad_(True)
    proj = torch.randn(5, 1 * 4 * 4, generator=g)
    fake = (latents.sum(1) @ proj).view(2, 1, 4, 4)
    torch.manual_seed(7)
    penalty, mean_len, new_mean = g_path_regularize(fake, latents, mean_path_length=0.5, decay=0.1)
    torch.manual_seed(7)
    noise = torch.randn(2, 1, 4, 4) / math.sqrt(16)
    lengths = (noise.view(2, -1) @ proj.t()).norm(dim=1)  # the same vector for the 3 latents: their mean is itself
    expected_mean = 0.5 + 0.1 * (lengths.mean() - 0.5)
    torch.testing.assert_close(mean_len, lengths.mean())
    torch.testing.assert_close(new_mean, expected_mean)
    torch.testing.assert_close(penalty, ((lengths - expected_mean)**2).mean())
    assert not mean_len.requires_grad and not new_mean.requires_grad


def test_gradient_penalty_analytic():
    # a linear discriminator D(x) = sum(w * x): its gradient is w everywhere, whatever the interpolation
    g = torch.Generator().manual_seed(2)
    w = torch.randn(1, 3, 4, 4, generator=g)

    class Linear(nn.Module):

        def forward(self, x):
            return (x * w).sum(dim=(1, 2, 3))

    real, fake = torch.randn(2, 3, 4, 4, generator=g), torch.randn(2, 3, 4, 4, generator=g)
    per_pixel = ((w.norm(dim=1) - 1)**2)  # BasicSR: the norm runs over channels only
    torch.testing.assert_close(gradient_penalty_loss(Linear(), real, fake), per_pixel.mean())
    weight = torch.rand(2, 1, 4, 4, generator=g) + 0.5
    weighted = (((w * weight).norm(dim=1) - 1)**2).mean() / weight.mean()
    torch.testing.assert_close(gradient_penalty_loss(Linear(), real, fake, weight), weighted)
