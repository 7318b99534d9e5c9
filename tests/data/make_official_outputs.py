"""Regenerate tests/data/official_outputs/: outputs of the official code for the networks the shared
reference vectors do not cover (GFPGANBilinear, StyleGAN2GeneratorBilinear, RRDBNet, VGGFeatureExtractor).

Run it in an environment with the official packages (gfpgan 1.3.8, basicsr 1.4.2; basicsr only needs
``torchvision.transforms.functional_tensor`` to exist to import on a current torchvision), never in the
project's own environment: ``python tests/data/make_official_outputs.py``. BasicSR's fused activation
has no CPU path; it is given its defining formula, leaky_relu(x + b, 0.2) * sqrt(2). Weights and inputs
follow the recipe scheme of tests/refdata.py, so only outputs are stored.
"""
import json
import os
import shutil
import sys

import torch
import torchvision
# the official packages (this script runs in their environment, see the docstring)
import basicsr.archs.stylegan2_arch as basicsr_stylegan2
import basicsr.archs.vgg_arch as basicsr_vgg
import basicsr.ops.fused_act.fused_act as basicsr_fused_act
import gfpgan.archs.stylegan2_bilinear_arch as official_bilinear
from basicsr.archs.rrdbnet_arch import RRDBNet
from gfpgan.archs.gfpgan_bilinear_arch import GFPGANBilinear
from gfpgan.archs.stylegan2_bilinear_arch import StyleGAN2GeneratorBilinear

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from official_env import patch_fused_act  # noqa: E402
from refdata import det_values, sha256_state_dict  # noqa: E402

patch_fused_act(basicsr_fused_act, basicsr_stylegan2, official_bilinear)
torch.set_num_threads(2)
OUT = os.path.join(HERE, 'official_outputs')
WORK = os.path.join(HERE, '.vgg_tmp')


def recipe_for(net, seed, ranges):
    entries = []
    for k, (key, v) in enumerate(net.state_dict().items()):
        lo, hi = ranges(key, v)
        entries.append({
            'key': key,
            'shape': list(v.shape),
            'dtype': str(v.dtype).replace('torch.', ''),
            'lo': lo,
            'hi': hi,
            'bits': 24 if lo != hi else 1
        })
    return {'seed': seed, 'entries': entries}


def load_recipe(net, recipe):
    sd = {
        e['key']:
        torch.from_numpy(det_values(recipe['seed'], k, tuple(e['shape']), e['lo'], e['hi'], e['dtype'], e['bits']))
        for k, e in enumerate(recipe['entries'])
    }
    net.load_state_dict(sd, strict=True)
    return sha256_state_dict(sd)


def inp(seed, k, shape):
    return torch.from_numpy(det_values(seed, k, tuple(shape), -1.0, 1.0, 'float32', 24))


def save(name, cls, kwargs, recipe, sha, inputs, outputs, call):
    desc = {
        'name':
        name,
        'official_class':
        cls,
        'kwargs':
        kwargs,
        'call':
        call,
        'weights_sha256':
        sha,
        'weights_recipe':
        recipe,
        'inputs': {
            k: {
                'shape': list(v.shape),
                'recipe': f"tensor_values({s}, {kk}, shape, -1.0, 1.0, 'float32', 24)"
            }
            for k, (v, s, kk) in inputs.items()
        },
        'outputs': {
            k: {
                'shape': list(v.shape),
                'max_abs': v.abs().max().item()
            }
            for k, v in outputs.items()
        },
        'generated_by':
        'official gfpgan 1.3.8 / basicsr 1.4.2 (fused activation given its CPU formula), torch 2.15, CPU float32'
    }
    json.dump(desc, open(f'{OUT}/{name}.json', 'w'), indent=1)
    torch.save({'outputs': outputs}, f'{OUT}/{name}.outputs.pt')
    print(name, {k: tuple(v.shape) for k, v in outputs.items()})


def eq_ranges(key, v):  # equalized-lr nets: N(0,1)-like weights, small biases; noise strengths spread around 0
    if 'style_mlp' in key:  # lr_mul 0.01: weights are N(0, 1) / 0.01, biases are scaled by 0.01 at run time
        return (-128.0, 128.0) if v.ndim >= 2 else (-16.0, 16.0)
    return (-1.0, 1.0) if v.ndim >= 2 else (-0.25, 0.25)


# GFPGANBilinear
kw = dict(
    out_size=64,
    num_style_feat=32,
    channel_multiplier=2,
    decoder_load_path=None,
    fix_decoder=False,
    num_mlp=8,
    input_is_latent=True,
    different_w=True,
    narrow=0.25,
    sft_half=True)
net = GFPGANBilinear(**kw).eval()
rec = recipe_for(net, 2001, eq_ranges)
sha = load_recipe(net, rec)
x = inp(2001, 0xffff, (2, 3, 64, 64))
with torch.no_grad():
    image, rgbs = net(x, return_rgb=True, randomize_noise=False)
    torch.manual_seed(1234)
    noisy = net(x, return_rgb=False, randomize_noise=True)[0]
outs = {'image': image, **{f'out_rgbs[{i}]': r for i, r in enumerate(rgbs)}, 'image_randomize_noise_seed1234': noisy}
save(
    'gfpgan_bilinear_small', 'gfpgan.archs.gfpgan_bilinear_arch.GFPGANBilinear', kw, rec, sha,
    {'input': (x, 2001, 0xffff)}, outs,
    'image, out_rgbs = net(input, return_rgb=True, randomize_noise=False); torch.manual_seed(1234); '
    'image_randomize_noise_seed1234 = net(input, return_rgb=False, randomize_noise=True)[0]')

# StyleGAN2GeneratorBilinear
kw = dict(out_size=64, num_style_feat=32, num_mlp=8, channel_multiplier=1, lr_mlp=0.01, narrow=0.0625)
net = StyleGAN2GeneratorBilinear(**kw).eval()
rec = recipe_for(net, 2002, eq_ranges)
sha = load_recipe(net, rec)
z, z2 = inp(2002, 0xffff, (2, 32)), inp(2002, 0xfffe, (2, 32))
with torch.no_grad():
    image, latent = net([z], input_is_latent=False, randomize_noise=False, return_latents=True)
    mix = net([z, z2], input_is_latent=False, randomize_noise=False, inject_index=3)[0]
save(
    'stylegan2_generator_bilinear_small', 'gfpgan.archs.stylegan2_bilinear_arch.StyleGAN2GeneratorBilinear', kw, rec,
    sha, {
        'input': (z, 2002, 0xffff),
        'input_z2': (z2, 2002, 0xfffe)
    }, {
        'image': image,
        'latent': latent,
        'image_mix_inject3': mix
    }, 'image, latent = net([input], input_is_latent=False, randomize_noise=False, return_latents=True); '
    'image_mix_inject3 = net([input, input_z2], input_is_latent=False, randomize_noise=False, inject_index=3)[0]')


# RRDBNet x2 / x4 / x1 (small)
def rrdb_ranges(key, v):
    return (-0.0625, 0.0625) if v.ndim >= 2 else (-0.03125, 0.03125)


for scale, seed, shape in ((2, 2003, (1, 3, 24, 20)), (4, 2004, (2, 3, 12, 10)), (1, 2005, (1, 3, 24, 16))):
    kw = dict(num_in_ch=3, num_out_ch=3, scale=scale, num_feat=16, num_block=2, num_grow_ch=8)
    net = RRDBNet(**kw).eval()
    rec = recipe_for(net, seed, rrdb_ranges)
    sha = load_recipe(net, rec)
    x = inp(seed, 0xffff, shape)
    with torch.no_grad():
        out = net(x)
    save(f'rrdbnet_x{scale}_small', 'basicsr.archs.rrdbnet_arch.RRDBNet', kw, rec, sha, {'input': (x, seed, 0xffff)},
         {'output': out}, 'output = net(input)')

# VGGFeatureExtractor (vgg19): weights from a recipe over torchvision's features.* keys
tv = torchvision.models.vgg19(weights=None)
feats_keys = [(k, v) for k, v in tv.state_dict().items() if k.startswith('features.')]
rec = {
    'seed':
    2006,
    'entries': [{
        'key': k,
        'shape': list(v.shape),
        'dtype': 'float32',
        'lo': -0.0625 if v.ndim > 1 else -0.03125,
        'hi': 0.0625 if v.ndim > 1 else 0.03125,
        'bits': 24
    } for k, v in feats_keys]
}
sd = {
    e['key']: torch.from_numpy(det_values(2006, k, tuple(e['shape']), e['lo'], e['hi'], 'float32', 24))
    for k, e in enumerate(rec['entries'])
}
tv.load_state_dict(sd, strict=False)
os.makedirs(os.path.join(WORK, 'experiments', 'pretrained_models'), exist_ok=True)
torch.save(tv.state_dict(), os.path.join(WORK, 'experiments', 'pretrained_models', 'vgg19-dcbb9e9d.pth'))
os.chdir(WORK)  # BasicSR looks for experiments/pretrained_models/vgg19-dcbb9e9d.pth
layers = ['conv1_2', 'relu2_2', 'pool3', 'conv4_4', 'relu5_4']
kw = dict(layer_name_list=layers, vgg_type='vgg19', use_input_norm=True, range_norm=True)
f = basicsr_vgg.VGGFeatureExtractor(**kw)
x = inp(2006, 0xffff, (2, 3, 32, 32))
with torch.no_grad():
    o = f(x)
sha = sha256_state_dict(sd)
save('vgg19_feature_extractor', 'basicsr.archs.vgg_arch.VGGFeatureExtractor', kw, rec, sha,
     {'input': (x, 2006, 0xffff)}, dict(o),
     'feats = net(input)  (weights: torchvision vgg19 state_dict with features.* from the recipe)')
os.chdir(HERE)
shutil.rmtree(WORK)
