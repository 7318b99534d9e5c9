"""Checkpoint compatibility with the official releases: every manifest (state_dict keys, order, shapes,
dtypes, parameter/buffer, requires_grad) and every reference vector (forward outputs)."""
import pytest
import torch

from gfpgan.registry import ARCH_REGISTRY
from gfpgan.utils.checkpoint import load_network
from refdata import (flatten_outputs, load_manifest, load_vector, manifest_names, run_reference_vector,
                     sha256_state_dict, state_dict_from_recipe, vector_names)

RTOL = 2e-5  # max|out - ref| <= RTOL * max|ref| (about 10x the official float32 rounding noise)


def _class(official_class):
    return ARCH_REGISTRY.get(official_class.rsplit('.', 1)[-1])


def test_every_reference_file_is_walked():
    assert len(manifest_names()) == 10
    assert len(vector_names()) == 9


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
        got = flatten_outputs(run_reference_vector(name, net, inputs))
    want = flatten_outputs(outputs)
    assert set(want) <= set(got), set(want) - set(got)
    for key, ref in want.items():
        out = got[key]
        assert tuple(out.shape) == tuple(ref.shape), key
        if not ref.is_floating_point():  # code indices: exact
            assert torch.equal(out, ref), key
            continue
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
