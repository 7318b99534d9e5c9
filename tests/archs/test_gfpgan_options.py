"""Every combination of ``input_is_latent`` x ``different_w`` x ``sft_half`` runs for the three GFPGAN variants
(forward and backward), and a w+ style code goes through the mapping MLP as the original's clean network sends it:
pixel norm over dim 1, then each latent through the linear layers on its own (the bias on the feature axis)."""
import itertools

import pytest
import torch

from gfpgan.archs import GFPGANBilinear, GFPGANv1, GFPGANv1Clean
from gfpgan.archs.stylegan2_arch import EqualLinear

SIZE = 32
COMBINATIONS = list(itertools.product([GFPGANv1, GFPGANv1Clean, GFPGANBilinear], [False, True], [False, True],
                                      [False, True]))


@pytest.mark.parametrize('cls,input_is_latent,different_w,sft_half', COMBINATIONS,
                         ids=[f'{c.__name__}-latent{a:d}-w{b:d}-half{h:d}' for c, a, b, h in COMBINATIONS])
def test_every_style_option_combination_runs(cls, input_is_latent, different_w, sft_half):
    torch.manual_seed(0)
    net = cls(out_size=SIZE, num_style_feat=32, channel_multiplier=1, narrow=0.25, num_mlp=2, fix_decoder=False,
              input_is_latent=input_is_latent, different_w=different_w, sft_half=sft_half)
    codes = []
    net.stylegan_decoder.register_forward_pre_hook(lambda module, args: codes.append(args[0][0]))
    image, rgbs = net(torch.rand(2, 3, SIZE, SIZE) * 2 - 1, return_rgb=True)
    assert image.shape == (2, 3, SIZE, SIZE) and torch.isfinite(image).all()
    assert [r.shape[-1] for r in rgbs] == [8, 16, 32]
    num_latent = net.stylegan_decoder.num_latent
    assert codes[0].shape == ((2, num_latent, 32) if different_w else (2, 32))
    (image.mean() + sum(r.mean() for r in rgbs)).backward()
    assert net.final_linear.weight.grad is not None and torch.isfinite(net.final_linear.weight.grad).all()
    if not input_is_latent:
        assert all(p.grad is not None for p in net.stylegan_decoder.style_mlp.parameters())


@pytest.mark.parametrize('cls', [GFPGANv1, GFPGANv1Clean, GFPGANBilinear])
def test_mapping_network_maps_a_w_plus_code_as_the_original(cls):
    torch.manual_seed(0)
    net = cls(out_size=SIZE, num_style_feat=32, channel_multiplier=1, narrow=0.25, num_mlp=3, different_w=True)
    mlp = net.stylegan_decoder.style_mlp
    for module in mlp.modules():  # a non-zero bias, so that adding it on the wrong axis would show
        if getattr(module, 'bias', None) is not None:
            torch.nn.init.uniform_(module.bias, -1, 1)
    w_plus = torch.randn(2, net.stylegan_decoder.num_latent, 32)
    normed = w_plus * torch.rsqrt(w_plus.pow(2).mean(1, keepdim=True) + 1e-8)  # NormStyleCode: over dim 1
    for grad in (False, True):  # the inference and the autograd paths of the fused activation
        with torch.set_grad_enabled(grad):
            mapped = mlp(w_plus)
            per_latent = torch.stack([mlp[1:](normed[:, k]) for k in range(w_plus.shape[1])], 1)
        torch.testing.assert_close(mapped, per_latent)


def test_equal_linear_adds_its_bias_on_the_feature_axis():
    layer = EqualLinear(4, 3, bias=True, bias_init_val=0.5, activation='fused_lrelu')
    x = torch.randn(2, 5, 4)
    expected = torch.nn.functional.leaky_relu(x @ (layer.weight * layer.scale).t() + 0.5, 0.2) * 2**0.5
    torch.testing.assert_close(layer(x), expected)
    torch.testing.assert_close(layer(x[:, 1]), expected[:, 1])
