"""The networks under autocast: which layers run in reduced precision (all under bfloat16; under float16 only the
four highest resolutions), the float16 activation clamp, float32 modulation, activations kept in their dtype, and
channels-last inputs. Float32 runs are untouched (the reference-vector tests hold them to the official outputs)."""
import pytest
import torch
from torch import nn

from gfpgan.archs import build_network
from gfpgan.archs.arch_util import FP16_CLAMP, precision_at
from gfpgan.archs.ops import fused_leaky_relu
from gfpgan.archs.stylegan2_base import ModulatedConv2dBase, modulate_weight

SIZE = 64
GFPGAN = dict(
    out_size=SIZE,
    num_style_feat=32,
    channel_multiplier=1,
    decoder_load_path=None,
    fix_decoder=False,
    num_mlp=2,
    input_is_latent=True,
    different_w=True,
    narrow=0.125,
    sft_half=True)


def networks():
    torch.manual_seed(0)
    return {
        'GFPGANv1': build_network(dict(type='GFPGANv1', **GFPGAN)),
        'GFPGANv1Clean': build_network(dict(type='GFPGANv1Clean', **GFPGAN)),
        'GFPGANBilinear': build_network(dict(type='GFPGANBilinear', **GFPGAN)),
    }


def modulated_conv_dtypes(net, x, dtype):
    """{output resolution: set of output dtypes} of the decoder's modulated convolutions under ``dtype`` autocast."""
    seen = {}

    def hook(module, args, out):
        seen.setdefault(out.shape[-1], set()).add(out.dtype)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, ModulatedConv2dBase)]
    with torch.autocast('cpu', dtype=dtype):
        image, _ = net(x, randomize_noise=False)
    for handle in handles:
        handle.remove()
    return seen, image


@pytest.mark.parametrize('name', ['GFPGANv1', 'GFPGANv1Clean', 'GFPGANBilinear'])
def test_bfloat16_runs_every_layer_and_float16_only_the_four_highest_resolutions(name):
    net = networks()[name]
    x = torch.rand(2, 3, SIZE, SIZE) * 2 - 1
    seen, image = modulated_conv_dtypes(net, x, torch.bfloat16)
    assert set(seen) == {4, 8, 16, 32, 64} and all(dtypes == {torch.bfloat16} for dtypes in seen.values())
    assert torch.isfinite(image).all()
    seen, image = modulated_conv_dtypes(net, x, torch.float16)
    assert seen[4] == {torch.float32}  # 64 >> 3 = 8: the 4 x 4 layers stay float32
    assert all(seen[res] == {torch.float16} for res in (8, 16, 32, 64))
    assert torch.isfinite(image).all()


def test_discriminator_runs_its_head_in_float32_under_float16():
    torch.manual_seed(0)
    net = build_network(dict(type='StyleGAN2Discriminator', out_size=SIZE, channel_multiplier=1, narrow=0.125))
    dtypes = {}
    for name, module in net.named_modules():
        if name in ('conv_body.0', 'conv_body.1', 'final_conv'):
            module.register_forward_hook(lambda m, a, out, name=name: dtypes.__setitem__(name, out.dtype))
    x = torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    with torch.autocast('cpu', dtype=torch.float16):
        score = net(x)
    assert dtypes == {'conv_body.0': torch.float16, 'conv_body.1': torch.float16, 'final_conv': torch.float32}
    assert score.dtype == torch.float32
    ref = net(x)
    assert (score - ref).abs().max() < 0.05 * ref.abs().max() + 1e-3


def test_precision_at_changes_nothing_without_float16_autocast():
    x = torch.rand(1, 4, 4, 4)
    context, same = precision_at(x, 4, 512)
    assert same is x
    with torch.autocast('cpu', dtype=torch.bfloat16):
        assert precision_at(x, 4, 512)[1] is x
    with torch.autocast('cpu', dtype=torch.float16):
        context, cast = precision_at(x.half(), 4, 512)
        assert cast.dtype == torch.float32
        with context:
            assert nn.functional.conv2d(cast, torch.ones(1, 4, 1, 1)).dtype == torch.float32
        assert precision_at(x.half(), 64, 512)[1].dtype == torch.float16


def test_float16_activations_are_clamped_only_under_autocast():
    x = torch.linspace(-2000, 2000, 64).view(1, 4, 4, 4)
    bias = torch.zeros(4)
    with torch.autocast('cpu', dtype=torch.float16):
        clamped = fused_leaky_relu(x.half(), bias)
    assert clamped.dtype == torch.float16 and clamped.abs().max() == FP16_CLAMP
    plain = fused_leaky_relu(x.half(), bias.half())  # a model cast to half (--half inference): as the original
    assert plain.max() > 2000
    assert fused_leaky_relu(x, bias).max() > 2000  # float32: untouched


def test_activations_keep_their_dtype_and_modulation_runs_in_float32():
    x = torch.randn(2, 4, 8, 8, dtype=torch.bfloat16)
    assert fused_leaky_relu(x, torch.randn(4)).dtype == torch.bfloat16  # the float32 bias does not promote
    weight = torch.randn(1, 6, 4, 3, 3)
    style = torch.randn(2, 4, dtype=torch.bfloat16)
    modulated = modulate_weight(weight, style, demodulate=True)
    assert modulated.dtype == torch.float32
    torch.testing.assert_close(modulated, modulate_weight(weight, style.float(), demodulate=True))


def test_channels_last_inputs_and_weights_give_the_same_scores():
    from gfpgan.utils.device import to_memory_format
    torch.manual_seed(0)
    net = build_network(dict(type='StyleGAN2Discriminator', out_size=SIZE, channel_multiplier=1, narrow=0.125))
    x = torch.rand(4, 3, SIZE, SIZE) * 2 - 1
    ref = net(x)
    to_memory_format(net)
    assert net.final_conv[0].weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(net(x.contiguous(memory_format=torch.channels_last)), ref, rtol=1e-5, atol=1e-5)
    g = networks()['GFPGANv1']
    ref, _ = g(x, randomize_noise=False)
    out, _ = to_memory_format(g)(x.contiguous(memory_format=torch.channels_last), randomize_noise=False)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
