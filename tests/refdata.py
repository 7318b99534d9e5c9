"""Reference data for the compatibility tests: the official state_dict manifests and test vectors
(tests/data/reference/, see update_reference.py), and the deterministic weight generator their
recipes use.

Generator (platform independent, bit-exact): element i of the k-th tensor of a state_dict is
``lo + (hi - lo) * u / 2**bits`` in float64, cast to float32, where u is the top ``bits`` bits of
splitmix64((seed << 48) | (k << 32) | i). Integer tensors are filled with ``lo``.
"""
import glob
import hashlib
import json
import os
import re

import numpy as np
import torch

DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'data')
REF_DIR = os.path.join(DATA_DIR, 'reference')  # from the shared reference folder (update_reference.py)
OFFICIAL_OUTPUTS_DIR = os.path.join(DATA_DIR, 'official_outputs')  # made here by running the official code
MASK = (1 << 64) - 1


def _splitmix64(z):
    """Vectorised splitmix64 finaliser on uint64 arrays (arithmetic mod 2**64)."""
    with np.errstate(over='ignore'):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def det_values(seed, k, shape, lo, hi, dtype='float32', bits=24):
    """The deterministic tensor (numpy) of entry ``k`` for ``seed``."""
    n = int(np.prod(shape)) if len(shape) else 1
    if dtype.startswith('int'):
        return np.full(shape, int(lo), dtype=dtype)
    idx = np.arange(n, dtype=np.uint64)
    x = (np.uint64(seed) << np.uint64(48)) | (np.uint64(k) << np.uint64(32)) | idx
    u = (_splitmix64(x) >> np.uint64(64 - bits)).astype(np.float64)
    values = lo + (hi - lo) * u / float(2**bits)
    out = values.astype(np.float32)
    assert np.array_equal(out.astype(np.float64), values), 'recipe values must be exact in float32'
    return out.reshape(shape)


def state_dict_from_recipe(recipe):
    """{key: tensor} in recipe order from a vector's ``weights_recipe``."""
    return {
        e['key']:
        torch.from_numpy(
            det_values(recipe['seed'], k, tuple(e['shape']), e['lo'], e['hi'], e['dtype'], e.get('bits', 24)))
        for k, e in enumerate(recipe['entries'])
    }


def sha256_state_dict(state_dict):
    """sha256 over (key, dtype, shape, little-endian bytes) of each entry, in order (the recipes' checksum)."""
    h = hashlib.sha256()
    for key, value in state_dict.items():
        a = np.ascontiguousarray(value.detach().cpu().numpy())
        h.update(key.encode())
        h.update(str(a.dtype).encode())
        h.update(str(tuple(a.shape)).encode())
        h.update(a.astype(a.dtype.newbyteorder('<')).tobytes())
    return h.hexdigest()


_INPUT_RECIPE = re.compile(r"tensor_values\((\d+),\s*(0x[0-9a-fA-F]+|\d+),\s*shape,\s*([-\d.]+),\s*([-\d.]+),\s*"
                           r"'(\w+)',\s*(\d+)\)")


def input_from_recipe(spec):
    """Rebuild an input tensor from its JSON description (shape + recipe string)."""
    m = _INPUT_RECIPE.search(spec['recipe'])
    assert m, f'unrecognised input recipe: {spec["recipe"]}'
    seed, k, lo, hi, dtype, bits = m.groups()
    return torch.from_numpy(
        det_values(int(seed), int(k, 0), tuple(spec['shape']), float(lo), float(hi), dtype, int(bits)))


def vector_names(folder=os.path.join(REF_DIR, 'vectors')):
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(folder, '*.json')))


def manifest_names():
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(REF_DIR, 'manifests', '*.json')))


def load_vector(name, folder=os.path.join(REF_DIR, 'vectors')):
    """(description dict, {input name: tensor}, {output name: tensor or list})."""
    with open(os.path.join(folder, f'{name}.json')) as f:
        desc = json.load(f)
    inputs = {k: input_from_recipe(v) for k, v in desc['inputs'].items()}
    outputs = torch.load(os.path.join(folder, f'{name}.outputs.pt'), weights_only=True)['outputs']
    return desc, inputs, outputs


def load_manifest(name):
    with open(os.path.join(REF_DIR, 'manifests', f'{name}.json')) as f:
        return json.load(f)


# ---------------------------------------------------------------------------------------------- training step
TRAIN_STEP_REFERENCE = os.path.join(DATA_DIR, 'official_training', 'gfpgan_train_step.json')


def set_parameters_from_recipe(net, seed, half_range):
    """Set a network's parameters (not its buffers) from the generator: uniform in [-half_range, half_range]."""
    with torch.no_grad():
        for k, p in enumerate(net.parameters()):
            p.copy_(torch.from_numpy(det_values(seed, k, tuple(p.shape), -half_range, half_range, 'float32', 24)))


def train_step_batch(seed, size, boxes_512, batch=2):
    """A training batch of the training-step reference: random gt in [-1, 1], a noisy lq, the eye / mouth boxes
    given in 512-pixel coordinates scaled to ``size``."""
    g = torch.Generator().manual_seed(seed)
    gt = torch.rand(batch, 3, size, size, generator=g) * 2 - 1
    lq = (gt + 0.3 * torch.randn(batch, 3, size, size, generator=g)).clamp(-1, 1)
    data = {'lq': lq, 'gt': gt}
    for part, box in boxes_512.items():
        data[f'loc_{part}'] = torch.tensor([box] * batch, dtype=torch.float32) * size / 512
    return data


# ---------------------------------------------------------------------------------------------- running the vectors
def run_reference_vector(name, net, inputs):
    """The calls of reference vector ``name`` described in its JSON, on ``net``: {output name: tensor or list}."""
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
    elif name.startswith('restoreformer'):
        captured = {}
        hooks = [
            net.encoder.register_forward_hook(lambda m, args, out: captured.update(hs=dict(out))),
            net.quantize.register_forward_hook(lambda m, args, out: captured.update(z=args[0], out=out)),
        ]
        res['image'], second = net(inputs['input'], return_rgb=False, weight=0.5)
        for hook in hooks:
            hook.remove()
        assert second is None
        hs, z = captured['hs'], captured['z']
        quant, emb_loss, (perplexity, _, indices, distances) = captured['out']
        res.update(
            hs_block_3_atten=hs['block_3_atten'],
            hs_mid_atten=hs['mid_atten'],
            hs_out=hs['out'],
            z=z,
            distances=distances,
            code_indices=indices.view(z.shape[0], z.shape[2], z.shape[3]),
            quant=quant,
            emb_loss=emb_loss,
            perplexity=perplexity)
    else:
        raise AssertionError(f'no call defined for vector {name}')
    return res


def flatten_outputs(outputs):
    """{name: tensor}, list outputs spread into 'name[i]' entries."""
    flat = {}
    for key, value in outputs.items():
        if isinstance(value, (list, tuple)):
            flat.update({f'{key}[{i}]': v for i, v in enumerate(value)})
        else:
            flat[key] = value
    return flat


def run_official_output(name, net, inputs):
    """The calls of official-output set ``name`` (not VGG, which is built from a weight file) on ``net``."""
    if name.startswith('gfpgan'):
        image, rgbs = net(inputs['input'], return_rgb=True, randomize_noise=False)
        torch.manual_seed(1234)
        noisy = net(inputs['input'], return_rgb=False, randomize_noise=True)[0]
        return {
            'image': image,
            'image_randomize_noise_seed1234': noisy,
            **{
                f'out_rgbs[{i}]': r
                for i, r in enumerate(rgbs)
            }
        }
    if name.startswith('stylegan2'):
        z, z2 = inputs['input'], inputs['input_z2']
        image, latent = net([z], input_is_latent=False, randomize_noise=False, return_latents=True)
        mix = net([z, z2], input_is_latent=False, randomize_noise=False, inject_index=3)[0]
        return {'image': image, 'latent': latent, 'image_mix_inject3': mix}
    return {'output': net(inputs['input'])}
