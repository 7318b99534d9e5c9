"""Behaviour of the networks beyond the reference vectors: import paths, registry, sizes, errors,
decoder loading/freezing, batching, inference vs autograd paths."""
import importlib

import pytest
import torch

from gfpgan.archs import (GFPGANBilinear, GFPGANv1, GFPGANv1Clean, ResNetArcFace, RRDBNet, StyleGAN2Discriminator,
                          StyleGAN2Generator, StyleGAN2GeneratorBilinear, StyleGAN2GeneratorClean, VGGFeatureExtractor)
from gfpgan.archs import build_network
from gfpgan.registry import ARCH_REGISTRY
from gfpgan.utils.checkpoint import CheckpointError

OFFICIAL_IMPORTS = {
    'gfpgan.archs.gfpganv1_arch':
    ['GFPGANv1', 'StyleGAN2GeneratorSFT', 'FacialComponentDiscriminator', 'ConvUpLayer', 'ResUpBlock'],
    'gfpgan.archs.gfpganv1_clean_arch': ['GFPGANv1Clean', 'StyleGAN2GeneratorCSFT', 'ResBlock'],
    'gfpgan.archs.gfpgan_bilinear_arch': ['GFPGANBilinear', 'StyleGAN2GeneratorBilinearSFT'],
    'gfpgan.archs.stylegan2_clean_arch':
    ['StyleGAN2GeneratorClean', 'ModulatedConv2d', 'StyleConv', 'ToRGB', 'NormStyleCode', 'ConstantInput'],
    'gfpgan.archs.stylegan2_bilinear_arch':
    ['StyleGAN2GeneratorBilinear', 'EqualLinear', 'EqualConv2d', 'ConvLayer', 'ResBlock', 'ScaledLeakyReLU'],
    'gfpgan.archs.arcface_arch': ['ResNetArcFace', 'IRBlock', 'BasicBlock', 'Bottleneck', 'SEBlock'],
    'gfpgan.archs.stylegan2_arch': [
        'StyleGAN2Generator', 'StyleGAN2Discriminator', 'EqualLinear', 'EqualConv2d', 'ConvLayer', 'ResBlock',
        'ModulatedConv2d', 'ToRGB', 'StyleConv'
    ],
    'gfpgan.archs.vgg_arch': ['VGGFeatureExtractor'],
    'gfpgan.archs.rrdbnet_arch': ['RRDBNet'],
    'gfpgan.archs.restoreformer_arch': [
        'RestoreFormer', 'VectorQuantizer', 'MultiHeadAttnBlock', 'MultiHeadEncoder', 'MultiHeadDecoderTransformer',
        'ResnetBlock', 'Upsample', 'Downsample', 'Normalize', 'nonlinearity'
    ],
    'gfpgan.archs': [
        'GFPGANv1', 'GFPGANv1Clean', 'GFPGANBilinear', 'StyleGAN2Generator', 'StyleGAN2Discriminator',
        'StyleGAN2GeneratorClean', 'StyleGAN2GeneratorBilinear', 'FacialComponentDiscriminator', 'ResNetArcFace',
        'VGGFeatureExtractor', 'RRDBNet', 'RestoreFormer'
    ],
}


@pytest.mark.parametrize('module', sorted(OFFICIAL_IMPORTS))
def test_official_import_paths(module):
    mod = importlib.import_module(module)
    for name in OFFICIAL_IMPORTS[module]:
        assert hasattr(mod, name), f'{module}.{name}'


def test_every_exported_network_is_registered():
    for name in OFFICIAL_IMPORTS['gfpgan.archs']:
        assert name in ARCH_REGISTRY


def test_build_network_and_unknown_type():
    net = build_network({'type': 'GFPGANv1Clean', 'out_size': 32, 'narrow': 0.125, 'num_style_feat': 16})
    assert isinstance(net, GFPGANv1Clean)
    with pytest.raises(KeyError, match='GFPGANv1Clean') as err:
        build_network({'type': 'GFPGANv9'})
    assert "No arch named 'GFPGANv9'" in str(err.value) and 'RRDBNet' in str(err.value)
    with pytest.raises(ValueError, match="'type'"):
        build_network({'out_size': 512})


GFPGAN_CLASSES = [GFPGANv1Clean, GFPGANv1, GFPGANBilinear]
SMALL = dict(
    num_style_feat=16,
    channel_multiplier=1,
    narrow=0.125,
    sft_half=True,
    different_w=True,
    input_is_latent=True,
    fix_decoder=False)


@pytest.mark.parametrize('out_size', [32, 64, 128, 256, 512, 1024])
def test_clean_any_power_of_two_size(out_size):
    torch.manual_seed(0)
    net = GFPGANv1Clean(out_size=out_size, **SMALL).eval()
    with torch.no_grad():
        image, rgbs = net(torch.rand(1, 3, out_size, out_size) * 2 - 1, randomize_noise=False)
    assert image.shape == (1, 3, out_size, out_size)
    assert [r.shape[-1] for r in rgbs] == [2**i for i in range(3, out_size.bit_length())]
    assert torch.isfinite(image).all()


@pytest.mark.parametrize('cls', GFPGAN_CLASSES)
@pytest.mark.parametrize('batch', [1, 3])
def test_gfpgan_variants_batch_and_sizes(cls, batch):
    torch.manual_seed(0)
    net = cls(out_size=64, **SMALL).eval()
    x = torch.rand(batch, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        image, rgbs = net(x, randomize_noise=False)
        assert image.shape == (batch, 3, 64, 64) and len(rgbs) == 4
        # every sample is restored independently of the others in the batch
        single = torch.cat([net(x[i:i + 1], randomize_noise=False)[0] for i in range(batch)])
    torch.testing.assert_close(image, single, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('cls', GFPGAN_CLASSES)
def test_inference_path_equals_autograd_path(cls):
    """No-grad forward uses in-place ops; it must give the autograd forward's values."""
    torch.manual_seed(0)
    net = cls(out_size=32, **dict(SMALL, sft_half=cls is not GFPGANv1)).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        fast, fast_rgbs = net(x, randomize_noise=False)
    slow, slow_rgbs = net(x, randomize_noise=False)
    assert slow.requires_grad
    torch.testing.assert_close(fast, slow.detach(), rtol=0, atol=0)
    for a, b in zip(fast_rgbs, slow_rgbs):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


@pytest.mark.parametrize('cls', GFPGAN_CLASSES)
def test_training_backward_reaches_unet_not_frozen_decoder(cls):
    torch.manual_seed(0)
    net = cls(out_size=32, **dict(SMALL, fix_decoder=True)).train()
    image, rgbs = net(torch.rand(2, 3, 32, 32) * 2 - 1)
    (image.square().mean() + sum(r.square().mean() for r in rgbs)).backward()
    assert all(p.grad is None for p in net.stylegan_decoder.parameters())
    trainable = [p for n, p in net.named_parameters() if not n.startswith('stylegan_decoder.')]
    assert trainable and all(p.requires_grad and p.grad is not None for p in trainable)


@pytest.mark.parametrize('out_size', [0, 4, 48, 100, 2048, '512'])
def test_bad_out_size_is_a_value_error(out_size):
    with pytest.raises(ValueError, match='out_size must be a power of two'):
        GFPGANv1Clean(out_size=out_size, **SMALL)


def test_odd_channel_count_with_sft_half_is_a_value_error():
    with pytest.raises(ValueError, match='odd channel count .* sft_half'):
        GFPGANv1Clean(out_size=32, num_style_feat=16, narrow=3 / 512, sft_half=True)
    with pytest.raises(ValueError, match='half the decoder width'):
        GFPGANv1(out_size=32, num_style_feat=16, narrow=0.3, sft_half=False)
    with pytest.raises(ValueError, match='leave 0 channels at resolution 1024'):
        GFPGANv1Clean(out_size=1024, num_style_feat=16, narrow=1 / 16)


def test_wrong_input_size_is_a_clear_error():
    net = GFPGANv1Clean(out_size=32, **SMALL)
    for bad in (torch.zeros(1, 3, 64, 64), torch.zeros(1, 4, 32, 32), torch.zeros(3, 32, 32)):
        with pytest.raises(ValueError, match=r'GFPGANv1Clean expects an input tensor of shape \(B, 3, 32, 32\)'):
            net(bad)


@pytest.mark.parametrize('gfpgan_cls,prior_cls', [(GFPGANv1Clean, StyleGAN2GeneratorClean),
                                                  (GFPGANv1, StyleGAN2Generator),
                                                  (GFPGANBilinear, StyleGAN2GeneratorBilinear)])
def test_decoder_load_path_and_fix_decoder(tmp_path, gfpgan_cls, prior_cls):
    torch.manual_seed(0)
    prior = prior_cls(out_size=32, num_style_feat=16, channel_multiplier=1, narrow=0.125)
    ema = {k: v + 1 for k, v in prior.state_dict().items()}  # distinguishable from 'params'
    path = tmp_path / 'prior.pth'
    torch.save({'params': prior.state_dict(), 'params_ema': ema}, path)

    net = gfpgan_cls(out_size=32, **dict(SMALL, fix_decoder=True), decoder_load_path=str(path))
    for key, value in net.stylegan_decoder.state_dict().items():
        torch.testing.assert_close(value, ema[key], rtol=0, atol=0)
    assert not any(p.requires_grad for p in net.stylegan_decoder.parameters())
    assert all(p.requires_grad for n, p in net.named_parameters() if not n.startswith('stylegan_decoder.'))

    trainable = gfpgan_cls(out_size=32, **SMALL, decoder_load_path=str(path))
    assert all(p.requires_grad for p in trainable.parameters())

    with pytest.raises(CheckpointError, match='does not fit'):  # a prior of another width
        gfpgan_cls(out_size=32, **dict(SMALL, narrow=0.25), decoder_load_path=str(path))


def test_stylegan2_generator_latent_utilities():
    torch.manual_seed(0)
    for cls in (StyleGAN2Generator, StyleGAN2GeneratorClean, StyleGAN2GeneratorBilinear):
        g = cls(out_size=32, num_style_feat=16, channel_multiplier=1, narrow=0.0625).eval()
        noises = g.make_noise()
        assert [n.shape[-1] for n in noises] == [4, 8, 8, 16, 16, 32, 32] and len(noises) == g.num_layers
        assert g.mean_latent(64).shape == (1, 16)
        with torch.no_grad():
            w_plus = torch.randn(2, g.num_latent, 16)
            image, latent = g([w_plus], input_is_latent=True, noise=noises, return_latents=True)
            assert image.shape == (2, 3, 32, 32) and torch.equal(latent, w_plus)
            mixed, _ = g([torch.randn(2, 16), torch.randn(2, 16)])  # random inject index
            assert mixed.shape == (2, 3, 32, 32)
        with pytest.raises(ValueError, match='list of one or two'):
            g(torch.randn(2, 16))
        with pytest.raises(ValueError, match=r'style codes of shape \(B, 16\) or \(B, 8, 16\), got \(2, 17\)'):
            g([torch.randn(2, 17)])


def test_discriminator_batch_grouping_error():
    d = StyleGAN2Discriminator(out_size=16, channel_multiplier=1, narrow=1 / 32)
    assert d(torch.randn(8, 3, 16, 16)).shape == (8, 1)
    with pytest.raises(ValueError, match='divisible by the minibatch-stddev group'):
        d(torch.randn(6, 3, 16, 16))


def test_rrdbnet_pixel_unshuffle_and_scales():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 8, 6)
    # Real-ESRGAN's channel order: (c, dy, dx)
    explicit = x.view(2, 3, 4, 2, 3, 2).permute(0, 1, 3, 5, 2, 4).reshape(2, 12, 4, 3)
    from gfpgan.archs.arch_util import pixel_unshuffle
    torch.testing.assert_close(pixel_unshuffle(x, 2), explicit, rtol=0, atol=0)
    for scale, in_ch in ((4, 3), (2, 12), (1, 48)):
        net = RRDBNet(3, 3, scale=scale, num_feat=8, num_block=1, num_grow_ch=4)
        assert net.conv_first.weight.shape[1] == in_ch
        with torch.no_grad():
            assert net(torch.randn(1, 3, 8, 12)).shape == (1, 3, 8 * scale, 12 * scale)
    with pytest.raises(ValueError, match='divisible by 2'):
        RRDBNet(3, 3, scale=2, num_feat=8, num_block=1)(torch.randn(1, 3, 7, 8))
    with pytest.raises(ValueError, match='scale must be'):
        RRDBNet(3, 3, scale=3)


def test_arcface_block_variants():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 128, 128)
    for block, use_se in (('IRBlock', True), ('BasicBlock', False), ('Bottleneck', True)):
        net = ResNetArcFace(block, [1, 1, 1, 1], use_se=use_se).eval()
        with torch.no_grad():
            assert net(x).shape == (2, 512)
    with pytest.raises(ValueError, match=r'\(B, 1, 128, 128\)'):
        ResNetArcFace('IRBlock', [1, 1, 1, 1], use_se=False)(torch.randn(1, 3, 128, 128))
    with pytest.raises(ValueError, match='block must be one of'):
        ResNetArcFace('ResBlock', [2, 2, 2, 2])


def test_vgg_layers_and_weights_from_a_torchvision_file(tmp_path):
    import torchvision
    torch.manual_seed(0)
    tv = torchvision.models.vgg19(weights=None).eval()
    path = tmp_path / 'vgg19.pth'
    torch.save(tv.state_dict(), path)
    layers = ['conv1_2', 'relu2_2', 'conv3_4', 'conv4_4', 'conv5_4']
    vgg = VGGFeatureExtractor(layers, use_input_norm=False, pretrained=str(path))
    assert list(vgg.vgg_net._modules)[-1] == 'conv5_4'  # only what is needed is built
    assert not any(p.requires_grad for p in vgg.parameters())
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        feats = vgg(x)
        assert list(feats) == layers
        want = tv.features[:35](x)  # conv5_4 is index 34 of torchvision's features
        torch.testing.assert_close(feats['conv5_4'], want, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(feats['conv1_2'], tv.features[:3](x), rtol=1e-5, atol=1e-6)
    normed = VGGFeatureExtractor(['relu1_1'], use_input_norm=True, range_norm=True, pretrained=False)
    y = torch.rand(1, 3, 8, 8) * 2 - 1
    with torch.no_grad():
        manual = ((y + 1) / 2 - normed.mean) / normed.std
        torch.testing.assert_close(normed(y)['relu1_1'], normed.vgg_net[:2](manual))


def test_vgg_bad_layer_and_offline_message(isolated_weights):
    with pytest.raises(ValueError, match="unknown layer names \\['conv6_1'\\]"):
        VGGFeatureExtractor(['conv6_1'], pretrained=False)
    with pytest.raises(FileNotFoundError) as err:
        VGGFeatureExtractor(['conv1_1'], pretrained=True)
    message = str(err.value)
    assert 'vgg19-dcbb9e9d.pth' in message and 'experiments/pretrained_models' in message
    assert 'https://download.pytorch.org/models/vgg19-dcbb9e9d.pth' in message
    bn = VGGFeatureExtractor(['bn1_1', 'relu1_1'], vgg_type='vgg19_bn', pretrained=False)
    assert list(bn.vgg_net._modules) == ['conv1_1', 'bn1_1', 'relu1_1']
