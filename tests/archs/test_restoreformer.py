"""RestoreFormer: the original's constructor, a small configuration's behaviour, its freezing switches, and the
release preset GFPGANer builds (the layout and outputs against the official code: test_reference_compat.py)."""
import inspect

import pytest
import torch

import gfpgan
from gfpgan.archs import RestoreFormer
from gfpgan.archs.presets import RELEASES, release_network_options
from gfpgan.archs.restoreformer_arch import MultiHeadAttnBlock
from gfpgan.archs import build_network
from gfpgan.registry import ARCH_REGISTRY

SMALL = dict(n_embed=16, embed_dim=8, ch=32, ch_mult=(1, 1, 2), attn_resolutions=(8, ), resolution=32, z_channels=16)


def test_constructor_defaults_are_the_originals():
    defaults = {k: p.default for k, p in inspect.signature(RestoreFormer).parameters.items()}
    assert defaults == dict(
        n_embed=1024,
        embed_dim=256,
        ch=64,
        out_ch=3,
        ch_mult=(1, 2, 2, 4, 4, 8),
        num_res_blocks=2,
        attn_resolutions=(16, ),
        dropout=0.0,
        in_channels=3,
        resolution=512,
        z_channels=256,
        double_z=False,
        enable_mid=True,
        fix_decoder=False,
        fix_codebook=True,
        fix_encoder=False,
        head_size=8)
    assert ARCH_REGISTRY.get('RestoreFormer') is RestoreFormer is gfpgan.RestoreFormer


def test_forward_shape_and_extra_keywords_are_ignored():
    torch.manual_seed(0)
    net = RestoreFormer(**SMALL).eval()
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        image, second = net(x, return_rgb=False, weight=0.5)
        again = net(x)[0]
    assert image.shape == (2, 3, 32, 32) and second is None
    assert torch.isfinite(image).all()
    assert torch.equal(image, again)


def test_decoder_attends_to_the_encoder_features():
    """Changing the input changes the cross-attention source even when the code indices stay the same."""
    torch.manual_seed(0)
    net = RestoreFormer(**SMALL).eval()
    x = torch.rand(1, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        quant, _, _, hs = net.encode(x)
        base = net.decode(quant, hs)
        hs2 = {k: v + 0.5 for k, v in hs.items()}
        assert not torch.allclose(net.decode(quant, hs2), base)


def test_cross_attention_takes_queries_from_the_second_input():
    torch.manual_seed(0)
    block = MultiHeadAttnBlock(64, head_size=8).eval()
    x, y = torch.randn(1, 64, 4, 4), torch.randn(1, 64, 4, 4)
    with torch.no_grad():
        self_attn = block(x)
        cross = block(x, y)
    assert self_attn.shape == cross.shape == x.shape
    assert not torch.allclose(self_attn, cross)
    with pytest.raises(ValueError, match='divisible'):
        MultiHeadAttnBlock(64, head_size=7)


def test_quantizer_picks_the_nearest_code_and_passes_gradients_straight_through():
    torch.manual_seed(0)
    net = RestoreFormer(**SMALL)
    z = torch.randn(2, 8, 4, 4, requires_grad=True)
    quant, loss, (perplexity, one_hot, indices, distances) = net.quantize(z)
    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, 8)
    want = torch.cdist(flat, net.quantize.embedding.weight.detach()).argmin(dim=1)
    assert torch.equal(indices.view(-1), want)
    codes = net.quantize.embedding.weight.detach()[want]  # z + (z_q - z): equal up to rounding
    assert torch.allclose(quant.detach().permute(0, 2, 3, 1).reshape(-1, 8), codes, atol=1e-6)
    assert one_hot.sum() == 32 and 1 <= perplexity.item() <= 16 and loss.item() > 0
    quant.sum().backward()
    assert torch.equal(z.grad, torch.ones_like(z))


@pytest.mark.parametrize('flags, frozen', [
    (dict(), {'quantize'}),
    (dict(fix_codebook=False), set()),
    (dict(fix_decoder=True), {'decoder', 'post_quant_conv', 'quantize'}),
    (dict(fix_encoder=True, fix_codebook=False), {'encoder'}),
])
def test_freezing_switches(flags, frozen):
    net = RestoreFormer(**SMALL, **flags)
    for name, param in net.named_parameters():
        assert param.requires_grad == (name.split('.')[0] not in frozen), name


def test_release_preset():
    assert RELEASES['RestoreFormer']['file'] == 'RestoreFormer.pth'
    options = release_network_options('RestoreFormer', channel_multiplier=2)  # ignored, as the original does
    assert options == {'type': 'RestoreFormer'}
    with torch.device('meta'):
        assert isinstance(build_network(options), RestoreFormer)
