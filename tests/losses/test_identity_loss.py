"""Identity loss: the gray 128x128 ArcFace input and the L1 distance of embeddings, gradients into restored only."""
import pytest
import torch
from torch.nn import functional as F

from gfpgan.archs import ResNetArcFace
from gfpgan.losses import IdentityLoss, build_loss, gray_resize_for_identity


def test_gray_weights_size_and_range():
    colours = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [-1.0, 0.5, -0.25]])
    faces = colours.view(4, 3, 1, 1).expand(4, 3, 40, 24)  # flat colours: any resize keeps the value
    gray = gray_resize_for_identity(faces)
    assert gray.shape == (4, 1, 128, 128)
    expected = torch.tensor([0.2989, 0.5870, 0.1140, -0.2989 + 0.5 * 0.5870 - 0.25 * 0.1140])
    torch.testing.assert_close(gray.amin(dim=(1, 2, 3)), expected)
    torch.testing.assert_close(gray.amax(dim=(1, 2, 3)), expected)  # [-1, 1] is kept, not clamped or shifted
    assert gray_resize_for_identity(faces, size=64).shape == (4, 1, 64, 64)


def test_resize_is_bilinear_without_antialias():
    x = torch.rand(1, 3, 256, 256, generator=torch.Generator().manual_seed(0))
    gray = 0.2989 * x[:, :1] + 0.5870 * x[:, 1:2] + 0.1140 * x[:, 2:]
    # a 2x bilinear downscale without antialiasing averages 2x2 blocks (sample points fall between 4 pixels)
    torch.testing.assert_close(gray_resize_for_identity(x), F.avg_pool2d(gray, 2))
    with pytest.raises(ValueError, match=r'RGB images \(N, 3, H, W\)'):
        gray_resize_for_identity(x[:, :1])


def _arcface():
    torch.manual_seed(0)
    return ResNetArcFace('IRBlock', [1, 1, 1, 1], use_se=False).eval()


def test_identity_loss_value_and_gradients():
    net = _arcface()
    g = torch.Generator().manual_seed(1)
    restored = (torch.rand(2, 3, 64, 64, generator=g) * 2 - 1).requires_grad_(True)
    gt = (torch.rand(2, 3, 64, 64, generator=g) * 2 - 1).requires_grad_(True)
    loss = IdentityLoss(loss_weight=10.)(net, restored, gt)
    with torch.no_grad():
        expected = 10. * (net(gray_resize_for_identity(restored)) - net(gray_resize_for_identity(gt))).abs().mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert restored.grad is not None and restored.grad.abs().sum() > 0
    assert gt.grad is None
    assert IdentityLoss()(net, gt, gt) == 0


def test_build_identity_loss():
    loss = build_loss({'type': 'IdentityLoss', 'loss_weight': 10})
    assert isinstance(loss, IdentityLoss) and loss.loss_weight == 10 and loss.size == 128
    assert list(loss.parameters()) == []  # the identity network is passed in, not owned
