"""Adversarial losses (vanilla, LSGAN, WGAN, WGAN-softplus, hinge) and the discriminator / generator regularisers:
R1, WGAN-GP gradient penalty and StyleGAN2's path-length regulariser."""
import math

import torch
from torch import autograd, nn
from torch.nn import functional as F

from gfpgan.registry import LOSS_REGISTRY

__all__ = ['GANLoss', 'MultiScaleGANLoss', 'r1_penalty', 'g_path_regularize', 'gradient_penalty_loss']

GAN_TYPES = ('vanilla', 'lsgan', 'wgan', 'wgan_softplus', 'hinge')


@LOSS_REGISTRY.register()
class GANLoss(nn.Module):
    """Adversarial loss of discriminator logits, for the discriminator (``is_disc=True``) or the generator.

    Args:
        gan_type (str): 'vanilla' (BCE with logits), 'lsgan' (MSE to the label), 'wgan' (-+mean),
            'wgan_softplus' (softplus(-x) for real, softplus(x) for fake: StyleGAN2's logistic / non-saturating
            loss) or 'hinge' (relu(1 -+ x) for the discriminator, -mean(x) for the generator).
        real_label_val, fake_label_val (float): targets of 'vanilla' and 'lsgan'. Default 1 and 0.
        loss_weight (float): scales the generator loss only; the discriminator loss is never scaled. Default 1.

    forward(input (any shape), target_is_real (bool), is_disc=False) -> scalar.
    """

    def __init__(self, gan_type, real_label_val=1.0, fake_label_val=0.0, loss_weight=1.0):
        super().__init__()
        if gan_type not in GAN_TYPES:
            raise ValueError(f"GANLoss: gan_type must be one of {', '.join(GAN_TYPES)}, got '{gan_type}'.")
        self.gan_type = gan_type
        self.real_label_val = real_label_val
        self.fake_label_val = fake_label_val
        self.loss_weight = loss_weight

    def get_target_label(self, input, target_is_real):
        """A tensor of the real / fake label value shaped like ``input`` ('vanilla', 'lsgan')."""
        value = self.real_label_val if target_is_real else self.fake_label_val
        return input.new_ones(input.size()) * value

    def _unweighted(self, input, target_is_real, is_disc):
        if self.gan_type == 'vanilla':
            return F.binary_cross_entropy_with_logits(input, self.get_target_label(input, target_is_real))
        if self.gan_type == 'lsgan':
            return F.mse_loss(input, self.get_target_label(input, target_is_real))
        if self.gan_type == 'wgan':
            return -input.mean() if target_is_real else input.mean()
        if self.gan_type == 'wgan_softplus':
            return F.softplus(-input).mean() if target_is_real else F.softplus(input).mean()
        # hinge
        if is_disc:
            return F.relu(1 + (-input if target_is_real else input)).mean()
        return -input.mean()

    def forward(self, input, target_is_real, is_disc=False):
        loss = self._unweighted(input, target_is_real, is_disc)
        return loss if is_disc else loss * self.loss_weight

    def extra_repr(self):
        return f'gan_type={self.gan_type!r}, loss_weight={self.loss_weight}'


@LOSS_REGISTRY.register()
class MultiScaleGANLoss(GANLoss):
    """``GANLoss`` averaged over a list of predictions (one per scale); a nested list counts its last entry only
    (the final output of a feature-matching discriminator). A single tensor is passed to ``GANLoss``."""

    def forward(self, input, target_is_real, is_disc=False):
        if not isinstance(input, list):
            return super().forward(input, target_is_real, is_disc)
        loss = 0
        for pred in input:
            if isinstance(pred, list):
                pred = pred[-1]
            loss += super().forward(pred, target_is_real, is_disc).mean()
        return loss / len(input)


def r1_penalty(real_pred, real_img):
    """R1 penalty (Mescheder et al. 2018, eq. 9): mean over the batch of ``||d sum(D(x)) / dx||^2`` on real images.

    real_img (N, C, H, W) must require grad and real_pred be computed from it; the graph is kept (create_graph)
    so the penalty can be backpropagated into the discriminator.
    """
    grad_real = autograd.grad(outputs=real_pred.sum(), inputs=real_img, create_graph=True)[0]
    return grad_real.pow(2).reshape(grad_real.shape[0], -1).sum(1).mean()


def g_path_regularize(fake_img, latents, mean_path_length, decay=0.01):
    """StyleGAN2 path-length regulariser of the generator.

    fake_img (N, C, H, W) generated from latents (N, num_latent, D); mean_path_length is the running mean (a
    float or a scalar tensor), updated with ``decay``. Returns (penalty, mean path length detached, new running
    mean detached). The image-space noise is drawn with ``torch.randn_like`` (the global RNG).
    """
    noise = torch.randn_like(fake_img) / math.sqrt(fake_img.shape[2] * fake_img.shape[3])
    grad = autograd.grad(outputs=(fake_img * noise).sum(), inputs=latents, create_graph=True)[0]
    path_lengths = torch.sqrt(grad.pow(2).sum(2).mean(1))
    path_mean = mean_path_length + decay * (path_lengths.mean() - mean_path_length)
    path_penalty = (path_lengths - path_mean).pow(2).mean()
    return path_penalty, path_lengths.detach().mean(), path_mean.detach()


def gradient_penalty_loss(discriminator, real_data, fake_data, weight=None):
    """WGAN-GP penalty ``mean((||grad||_2 - 1)^2)`` at random real / fake interpolates (N, C, H, W).

    As in BasicSR the norm is taken over the channel dimension only, i.e. per pixel, and the mean runs over
    (N, H, W). An optional ``weight`` multiplies the gradients and the result is divided by its mean. The
    interpolation factors are drawn on the CPU from the global RNG (``torch.rand(N, 1, 1, 1)``).
    """
    alpha = torch.rand(real_data.size(0), 1, 1, 1).to(real_data)
    interpolates = (alpha * real_data + (1. - alpha) * fake_data).detach().requires_grad_(True)
    disc_interpolates = discriminator(interpolates)
    gradients = autograd.grad(
        outputs=disc_interpolates,
        inputs=interpolates,
        grad_outputs=torch.ones_like(disc_interpolates),
        create_graph=True,
        retain_graph=True)[0]
    if weight is not None:
        gradients = gradients * weight
    penalty = ((gradients.norm(2, dim=1) - 1)**2).mean()
    if weight is not None:
        penalty = penalty / torch.mean(weight)
    return penalty
