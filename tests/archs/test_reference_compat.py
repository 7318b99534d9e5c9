"""Checkpoint compatibility with the official releases: every manifest (state_dict keys, order, shapes,
dtypes, parameter/buffer, requires_grad) and every reference vector (forward outputs)."""
import pytest
import torch

from gfpgan.registry import ARCH_REGISTRY
from gfpgan.utils.checkpoint import load_network
from refdata import load_manifest, load_vector, manifest_names, sha256_state_dict, state_dict_from_recipe, vector_names

RTOL = 2e-5  # max|out - ref| <= RTOL * max|ref| (about 10x the official float32 rounding noise)


def _class(official_class):
    return ARCH_REGISTRY.get(official_class.rsplit('.', 1)[-1])


def test_every_reference_file_is_walked():
    assert len(manifest_names()) == 9
    assert len(vector_names()) == 8


@pytest.mark.parametrize('name', manifest_names())
def test_state_dict_matches_manifest(name):
    manifest = load_manifest(name)
    with torch.device('meta'):  # layout only: no memory, no initialisation cost
        net = _class(manifest['class'])(**manifest['kwargs'])
    params = dict(net.named_parameters())
    got = [(k, list(v.shape), str(v.dtype).replace('torch.', '')) for k, v in net.state_dict().items()]
    want = [(e['key'], e['shape'], e['dtype']) for e in manifest['state_dict']]
    assert got == want
    for entry in manifest['state_dict']:
        assert (entry['kind'] == 'parameter') == (entry['key'] in params), entry['key']
        if entry['kind'] == 'parameter':
            assert params[entry['key']].requires_grad == entry['requires_grad'], entry['key']
    assert sum(p.numel() for p in params.values()) == manifest['num_parameter_elements']


def _run_vector(name, net, inputs):
    """The calls described in the vector's JSON, returning {output name: tensor}."""
    res = {}
    if name.startswith('gfpgan'):
        captured = {}
        hook = net.stylegan_decoder.register_forward_pre_hook(lambda m, args: captured.update(args=args))
        image, out_rgbs = net(inputs['input'], return_rgb=True, randomize_noise=False, weight=0.5)
        hook.remove()
        res['image'] = image
        res['out_rgbs'] = out_rgbs
        res['style_code'] = captured['args'][0][0]
        res['conditions'] = list(captured['args'][1][:4])
        torch.manual_seed(1234)
        res['image_randomize_noise_seed1234'] = net(inputs['input'], return_rgb=False, randomize_noise=True)[0]
    elif name.startswith('stylegan2_generator'):
        z, z2, trunc = inputs['input'], inputs['input_z2'], inputs['truncation_latent']
        res['image'], res['latent'] = net([z], input_is_latent=False, randomize_noise=False, return_latents=True)
        res['image_mix_inject3'] = net([z, z2], input_is_latent=False, randomize_noise=False, inject_index=3)[0]
        res['image_trunc0p7'] = net([z],
                                    input_is_latent=False,
                                    randomize_noise=False,
                                    truncation=0.7,
                                    truncation_latent=trunc)[0]
    elif name.startswith('stylegan2_discriminator'):
        for n in (8, 4, 2, 1):
            res[f'out_b{n}'] = net(inputs['input'][:n])
    elif name == 'facial_component_discriminator':
        res['out'], res['feats'] = net(inputs['input'], return_feats=True)
        res['out_mouth'] = net(inputs['input_mouth'])[0]
    elif name.startswith('arcface'):
        res['embedding'] = net(inputs['input'])
    else:
        raise AssertionError(f'no call defined for vector {name}')
    return res


def _flatten(outputs):
    flat = {}
    for key, value in outputs.items():
        if isinstance(value, (list, tuple)):
            flat.update({f'{key}[{i}]': v for i, v in enumerate(value)})
        else:
            flat[key] = value
    return flat


@pytest.mark.parametrize('name', vector_names())
def test_forward_matches_reference_vector(name, tmp_path):
    desc, inputs, outputs = load_vector(name)
    state_dict = state_dict_from_recipe(desc['weights_recipe'])
    assert sha256_state_dict(state_dict) == desc['weights_sha256']

    net = _class(desc['official_class'])(**desc['kwargs'])
    # through the real loading path, in the official checkpoint layout
    path = tmp_path / f'{name}.pth'
    torch.save(state_dict if desc['checkpoint_key'] is None else {desc['checkpoint_key']: state_dict}, path)
    load_network(net, path, param_key=desc['checkpoint_key'] or 'params_ema', strict=True)
    net.eval()
    with torch.no_grad():
        got = _flatten(_run_vector(name, net, inputs))
    want = _flatten(outputs)
    assert set(want) <= set(got), set(want) - set(got)
    for key, ref in want.items():
        out = got[key]
        assert tuple(out.shape) == tuple(ref.shape), key
        err = (out - ref).abs().max().item()
        assert err <= RTOL * ref.abs().max().item(), f'{name} {key}: max|out - ref| = {err:.3g}'
        assert tuple(ref.shape) == tuple(desc['outputs'][key]['shape'])


def _official_init():
    import json
    import os
    from refdata import REF_DIR
    with open(os.path.join(REF_DIR, 'official_init_seed0.json')) as f:
        return json.load(f)['networks']


@pytest.mark.parametrize('name', sorted(_official_init()))
def test_random_initialisation_matches_the_official_code(name):
    """Training from scratch with a fixed seed starts from the official code's exact weights."""
    spec = _official_init()[name]
    torch.manual_seed(spec['seed'])
    net = ARCH_REGISTRY.get(name)(**spec['kwargs'])
    assert sha256_state_dict(net.state_dict()) == spec['sha256']
