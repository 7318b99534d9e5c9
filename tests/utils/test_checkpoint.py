"""Checkpoint I/O: official layouts, safety against code-carrying pickles, clear mismatch errors,
atomic saving, a full disk named as such, and the removal of interrupted writes' temporaries."""
import collections
import contextlib
import errno
import io
import os
import pickle
import time

import pytest
import torch
from torch import nn

from gfpgan.archs import GFPGANv1Clean, StyleGAN2GeneratorClean
from gfpgan.errors import describe_os_error
from gfpgan.utils import checkpoint
from gfpgan.utils.checkpoint import (CheckpointError, atomic_save, describe_state_dict, extract_state_dict,
                                     load_checkpoint_file, load_network, save_network)
from gfpgan.utils.fileio import is_temporary_name, remove_stale_temporaries


def _small_clean(**kw):
    kwargs = dict(
        out_size=32,
        num_style_feat=16,
        channel_multiplier=1,
        narrow=0.125,
        sft_half=True,
        different_w=True,
        input_is_latent=True)
    kwargs.update(kw)
    return GFPGANv1Clean(**kwargs)


def _perturbed_state(net, delta):
    return {k: v + delta for k, v in net.state_dict().items()}


@pytest.mark.parametrize('layout', ['params_ema', 'params', 'both', 'bare', 'module_prefix'])
def test_load_network_accepts_official_layouts(tmp_path, layout):
    torch.manual_seed(0)
    src = _small_clean()
    ema, plain = _perturbed_state(src, 1.0), _perturbed_state(src, 2.0)
    obj = {
        'params_ema': {
            'params_ema': ema
        },
        'params': {
            'params': plain
        },
        'both': {
            'params': plain,
            'params_ema': ema
        },
        'bare': ema,
        'module_prefix': {
            'params_ema': {
                f'module.{k}': v
                for k, v in ema.items()
            }
        },
    }[layout]
    path = tmp_path / 'net.pth'
    torch.save(obj, path)
    dst = load_network(_small_clean(), path, param_key='params_ema')
    want = plain if layout == 'params' else ema
    for key, value in dst.state_dict().items():
        assert torch.equal(value, want[key]), key
    if layout == 'both':  # an explicit 'params' request gets 'params'
        dst = load_network(_small_clean(), path, param_key='params')
        assert torch.equal(dst.state_dict()['final_linear.bias'], plain['final_linear.bias'])


def test_load_network_into_a_wrapped_module(tmp_path):
    src = _small_clean()
    path = tmp_path / 'net.pth'
    save_network(src, path)
    wrapper = nn.Module()
    wrapper.module = _small_clean()
    load_network(wrapper, path, param_key='params')
    assert torch.equal(wrapper.module.final_linear.weight, src.final_linear.weight)


def test_safetensors_round_trip(tmp_path):
    from safetensors.torch import save_file
    src = _small_clean()
    path = tmp_path / 'net.safetensors'
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    dst = load_network(_small_clean(), path)
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), dst.state_dict().values()))


class _Payload:
    """Unpickling this runs os.system: what a malicious .pth could do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def test_a_pickle_that_would_run_code_is_refused(tmp_path):
    marker = tmp_path / 'pwned'
    path = tmp_path / 'evil.pth'
    torch.save({'params_ema': {'weight': torch.zeros(1)}, 'extra': _Payload(marker)}, path)
    with pytest.raises(CheckpointError, match='Refusing to load .*evil.pth.*could run code'):
        load_checkpoint_file(path)
    with pytest.raises(CheckpointError, match='Refusing'):
        load_network(_small_clean(), path)
    assert not marker.exists()


def test_the_crafted_payload_is_real(tmp_path):
    """Guard for the test above: the payload does execute when unpickled without restrictions."""
    marker = tmp_path / 'ran'
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.exists()


def test_mismatch_error_lists_keys_and_guesses_the_network(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / 'c2.pth'
    torch.save({'params_ema': _small_clean(channel_multiplier=2, out_size=64).state_dict()}, path)
    with pytest.raises(CheckpointError) as err:
        load_network(_small_clean(out_size=64), path)
    message = str(err.value)
    assert 'does not fit GFPGANv1Clean' in message and 'shape mismatches' in message
    assert 'looks like a GFPGANv1Clean' in message

    prior = tmp_path / 'prior.pth'
    torch.save({'params_ema': StyleGAN2GeneratorClean(out_size=32, num_style_feat=16, narrow=0.125).state_dict()},
               prior)
    with pytest.raises(CheckpointError) as err:
        load_network(_small_clean(), prior)
    message = str(err.value)
    assert 'missing keys: conv_body_first.weight' in message
    assert 'unexpected keys: style_mlp.1.weight' in message
    assert 'looks like a StyleGAN2GeneratorClean' in message


def test_non_strict_loading_keeps_what_fits(tmp_path):
    torch.manual_seed(0)
    src = _small_clean()
    sd = _perturbed_state(src, 1.0)
    sd.pop('final_linear.bias')
    sd['unknown.weight'] = torch.zeros(1)
    path = tmp_path / 'partial.pth'
    torch.save({'params': sd}, path)
    dst = _small_clean()
    before = dst.final_linear.bias.clone()
    load_network(dst, path, strict=False)
    assert torch.equal(dst.final_linear.weight, sd['final_linear.weight'])
    assert torch.equal(dst.final_linear.bias, before)


def test_describe_release_layouts():
    from refdata import load_manifest
    expected = {
        'gfpganv1_clean_512': 'GFPGANv1Clean (out_size 512, channel_multiplier 2 at narrow 1)',
        'gfpganv1_512_cmul1': 'GFPGANv1 or GFPGANBilinear (out_size 512, channel_multiplier 1 at narrow 1)',
        'gfpgan_bilinear_512': 'GFPGANv1 or GFPGANBilinear (out_size 512, channel_multiplier 2 at narrow 1)',
        'stylegan2_generator_512_cmul1': 'StyleGAN2Generator or StyleGAN2GeneratorBilinear (out_size 512, '
        'channel_multiplier 1 at narrow 1)',
        'stylegan2_generator_clean_512_cmul2':
        'StyleGAN2GeneratorClean (out_size 512, channel_multiplier 2 at narrow 1)',
        'stylegan2_discriminator_512_cmul1': 'StyleGAN2Discriminator (out_size 512)',
        'arcface_resnet18': 'ResNetArcFace (IRBlock)',
        'rrdbnet_x2plus': 'RRDBNet (scale 2, 23 blocks)',
        'facial_component_discriminator': 'FacialComponentDiscriminator',
    }
    for name, text in expected.items():
        entries = load_manifest(name)['state_dict']
        fake = {e['key']: torch.empty(e['shape'], device='meta') for e in entries}
        assert describe_state_dict(fake) == text, name


def test_unreadable_files_are_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='does not exist'):
        load_checkpoint_file(tmp_path / 'missing.pth')
    truncated = tmp_path / 'truncated.pth'
    torch.save({'params': {'w': torch.zeros(1000)}}, truncated)
    truncated.write_bytes(truncated.read_bytes()[:100])
    with pytest.raises(CheckpointError, match='Cannot read checkpoint'):
        load_checkpoint_file(truncated)
    with pytest.raises(CheckpointError, match='must be a dict'):
        extract_state_dict([torch.zeros(1)])


def test_atomic_save_never_leaves_a_partial_file(tmp_path, monkeypatch):
    path = tmp_path / 'models' / 'net_g_1000.pth'
    atomic_save({'params': {'w': torch.ones(3)}}, path)
    assert torch.equal(torch.load(path, weights_only=True)['params']['w'], torch.ones(3))

    def boom(obj, f, *args, **kwargs):
        f.write(b'partial')
        raise KeyboardInterrupt  # e.g. the job is killed mid-write

    monkeypatch.setattr(torch, 'save', boom)
    with pytest.raises(KeyboardInterrupt):
        atomic_save({'params': {'w': torch.zeros(3)}}, path)
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)['params']['w'], torch.ones(3))  # old file intact
    assert os.listdir(path.parent) == ['net_g_1000.pth']  # no temporary left behind


def test_save_network_official_format(tmp_path):
    net, ema = _small_clean(), _small_clean()
    path = tmp_path / 'net_g.pth'
    save_network(net, path, ema_net=ema)
    obj = torch.load(path, weights_only=True)
    assert set(obj) == {'params', 'params_ema'}
    assert list(obj['params']) == list(net.state_dict())
    assert torch.equal(obj['params_ema']['final_linear.weight'], ema.final_linear.weight)


class _FullDisk(io.RawIOBase):
    """A file whose writes fail as on a full disk after ``room`` bytes."""

    def __init__(self, room=64):
        self.room = room

    def writable(self):
        return True

    def write(self, data):
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return len(data)


@contextlib.contextmanager
def _full_disk_write(path, auto_mkdir=True):
    yield _FullDisk()


def test_a_full_disk_is_an_os_error_naming_the_target(tmp_path, monkeypatch):
    path = tmp_path / 'models' / 'net_g_2.pth'
    atomic_save({'params': {'w': torch.ones(3)}}, path)
    monkeypatch.setattr(checkpoint, 'atomic_write', _full_disk_write)
    with pytest.raises(OSError) as caught:
        atomic_save({'params': {'w': torch.zeros(100000)}}, path)  # torch says 'enforce fail at inline_container'
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    assert 'inline_container' in str(caught.value.__cause__) or isinstance(caught.value.__cause__, OSError)
    message = describe_os_error(caught.value)
    assert str(path) in message and 'no space left' in message
    monkeypatch.undo()
    assert torch.equal(torch.load(path, weights_only=True)['params']['w'], torch.ones(3))  # the old file intact


def test_a_write_error_torch_hides_is_told_by_the_free_space(tmp_path, monkeypatch):
    def hidden(obj, f, *args, **kwargs):
        raise RuntimeError('[enforce fail at inline_container.cc:672] . PytorchStreamWriter failed writing file')

    path = tmp_path / 'net.pth'
    usage = collections.namedtuple('usage', 'total used free')
    monkeypatch.setattr(torch, 'save', hidden)
    for free, code in ((0, errno.ENOSPC), (1 << 40, errno.EIO)):
        monkeypatch.setattr(checkpoint.shutil, 'disk_usage', lambda folder, free=free: usage(1 << 41, 1 << 41, free))
        with pytest.raises(OSError) as caught:
            atomic_save({'w': torch.ones(1)}, path)
        assert caught.value.errno == code and caught.value.filename == str(path)
    assert os.listdir(tmp_path) == []
    monkeypatch.setattr(torch, 'save', lambda obj, f: (_ for _ in ()).throw(RuntimeError('a bug, not the disk')))
    with pytest.raises(RuntimeError, match='a bug'):
        atomic_save({'w': torch.ones(1)}, path)


def test_stale_temporaries_are_removed_and_nothing_else(tmp_path):
    folder = tmp_path / 'models'
    folder.mkdir()
    old = time.time() - 3600
    stale = [folder / '.net_g_5.pth.0a1b2c3d.tmp', folder / '.5.state.ffffffff.tmp']
    for i, path in enumerate(stale):
        path.write_bytes(b'x' * (1000 * (i + 1)))
        os.utime(path, (old, old))
    kept = [
        folder / 'net_g_5.pth',  # a checkpoint
        folder / '.net_g_6.pth.0123abcd.tmp',  # fresh: a writer may still be at work
        folder / '.net_g_5.pth.0A1B2C3D.tmp',  # not our pattern (upper case)
        folder / '.net_g_5.pth.0a1b2c3.tmp',  # 7 digits
        folder / 'net_g_5.pth.0a1b2c3d.tmp',  # not hidden
        folder / 'notes.tmp',
    ]
    for path in kept:
        path.write_bytes(b'keep')
        if path.name != '.net_g_6.pth.0123abcd.tmp':
            os.utime(path, (old, old))
    (folder / '.sub.0a1b2c3d.tmp').mkdir()  # a folder with the pattern's name is not a file of ours
    os.utime(folder / '.sub.0a1b2c3d.tmp', (old, old))
    assert remove_stale_temporaries(folder) == (2, 3000)
    assert sorted(os.listdir(folder)) == sorted([p.name for p in kept] + ['.sub.0a1b2c3d.tmp'])
    assert remove_stale_temporaries(tmp_path / 'missing') == (0, 0)
    assert remove_stale_temporaries(folder, min_age_s=0) == (1, 4)  # the fresh one too, when asked
    assert is_temporary_name('.a.b.pth.deadbeef.tmp') and not is_temporary_name('.deadbeef.tmp')
