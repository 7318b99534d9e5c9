"""Checkpoint I/O used everywhere: safe loading (no code execution), the official
``{'params', 'params_ema'}`` layouts, clear mismatch errors, atomic saving."""
import errno
import os
import pickle
import shutil
from collections import OrderedDict

import torch

from gfpgan.errors import GFPGANError

from .fileio import atomic_write

__all__ = [
    'CheckpointError', 'load_checkpoint_file', 'extract_state_dict', 'load_network', 'save_network', 'atomic_save',
    'describe_state_dict', 'NETWORK_OPTIONS_KEY', 'plain_options'
]


class CheckpointError(GFPGANError, RuntimeError):
    """A checkpoint that cannot be read, is unsafe, or does not fit the network."""


# The key of a checkpoint written here holding the build_network options of its network (plain values, safe under
# torch.load(weights_only=True)); release files do not have it. The official keys stay beside it.
NETWORK_OPTIONS_KEY = 'network_options'


def plain_options(options):
    """``options`` as plain dicts, lists, str, int, float, bool and None (tuples become lists, other values their
    text), so a checkpoint holding them loads with ``weights_only=True``."""
    if isinstance(options, dict):
        return {str(key): plain_options(value) for key, value in options.items()}
    if isinstance(options, (list, tuple)):
        return [plain_options(value) for value in options]
    if options is None or isinstance(options, (bool, int, float, str)):
        return options
    return str(options)


def load_checkpoint_file(path):
    """Read a ``.pth``/``.pt`` (tensors, dicts, lists, numbers only) or ``.safetensors`` file onto the CPU.

    A pickle that references anything else (i.e. that would run code when loaded) is refused.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Checkpoint file '{path}' does not exist.")
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        try:
            return load_file(path, device='cpu')
        except Exception as err:
            raise CheckpointError(f"Cannot read safetensors file '{path}': {err}.") from err
    try:
        return torch.load(path, map_location='cpu', weights_only=True)
    except pickle.UnpicklingError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"Refusing to load '{path}': it contains Python objects other than tensors and containers, which could "
            f"run code when unpickled ({first_line}). Use a checkpoint that holds only weights, or re-save it as "
            "a plain state_dict / .safetensors from a trusted environment.") from err
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"Cannot read checkpoint '{path}' (truncated or not a PyTorch file?): {err}") from err
    except (KeyError, IndexError, TypeError, AttributeError) as err:  # garbage bytes, as the unpickler stumbles on them
        raise CheckpointError(f"Cannot read checkpoint '{path}': it is not a PyTorch file (or is damaged; "
                              f'{type(err).__name__}: {err}).') from err


def extract_state_dict(checkpoint, param_key='params_ema'):
    """The state_dict inside an official checkpoint: ``checkpoint[param_key]``, falling back from
    'params_ema' to 'params' (and vice versa); a bare state_dict is returned as is. 'module.' prefixes
    (DataParallel/DDP) are stripped."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f'A checkpoint must be a dict, got {type(checkpoint).__name__}.')
    state_dict = checkpoint
    wrappers = [k for k in ('params_ema', 'params', 'state_dict') if isinstance(checkpoint.get(k), dict)]
    if wrappers:
        if param_key in wrappers:
            state_dict = checkpoint[param_key]
        elif param_key is not None:
            state_dict = checkpoint[wrappers[0]]
    out = OrderedDict()
    for key, value in state_dict.items():
        out[key[7:] if key.startswith('module.') else key] = value
    return out


def _first(items, n=5):
    items = list(items)
    shown = ', '.join(items[:n])
    return shown + (f', ... ({len(items)} in all)' if len(items) > n else '')


def describe_state_dict(state_dict):
    """Best guess of which network a state_dict belongs to, e.g. 'GFPGANv1Clean (out_size 512,
    channel_multiplier 2)', or None."""
    keys = state_dict.keys()

    def shape(key):
        return tuple(state_dict[key].shape) if key in state_dict else None

    if 'stylegan_decoder.constant_input.weight' in keys:
        clean = 'conv_body_first.weight' in keys
        first = shape('conv_body_first.weight' if clean else 'conv_body_first.0.weight')
        n_rgb = len([k for k in keys if k.startswith('toRGB.') and k.endswith('.weight')])
        out_size = 2**(n_rgb + 2)
        base = {8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}.get(out_size)
        name = 'GFPGANv1Clean' if clean else 'GFPGANv1 or GFPGANBilinear'
        if first is not None and base:
            cm = first[0] / (base * 0.5)
            if out_size < 64:
                return f'{name} (out_size {out_size})'
            return f'{name} (out_size {out_size}, channel_multiplier {cm:g} at narrow 1)'
        return name
    if 'constant_input.weight' in keys and 'style_conv1.modulated_conv.weight' in keys:
        clean = 'style_conv1.bias' in keys
        n_rgb = len([k for k in keys if k.startswith('to_rgbs.') and k.endswith('modulated_conv.weight')])
        out_size = 2**(n_rgb + 2)
        last = shape(f'to_rgbs.{n_rgb - 1}.modulated_conv.weight') if n_rgb else None
        name = 'StyleGAN2GeneratorClean' if clean else 'StyleGAN2Generator or StyleGAN2GeneratorBilinear'
        base = {8: 512, 16: 512, 32: 512, 64: 256, 128: 128, 256: 64, 512: 32, 1024: 16}[out_size]
        if last is not None and out_size >= 64:
            return f'{name} (out_size {out_size}, channel_multiplier {last[2] / base:g} at narrow 1)'
        return f'{name} (out_size {out_size})'
    if 'conv_body.0.0.weight' in keys and 'final_linear.0.weight' in keys:
        n_blocks = len([k for k in keys if k.startswith('conv_body.') and k.endswith('.conv1.0.weight')])
        return f'StyleGAN2Discriminator (out_size {2**(n_blocks + 2)})'
    if 'layer1.0.conv1.weight' in keys and 'fc5.weight' in keys:
        block = 'IRBlock' if 'layer1.0.bn0.weight' in keys else 'BasicBlock/Bottleneck'
        return f'ResNetArcFace ({block})'
    if 'body.0.rdb1.conv1.weight' in keys:
        in_ch = shape('conv_first.weight')[1]
        scale = {12: 2, 48: 1}.get(in_ch, 4)
        return f'RRDBNet (scale {scale}, {len({k.split(".")[1] for k in keys if k.startswith("body.")})} blocks)'
    if 'conv1.0.weight' in keys and shape('final_conv.0.weight') == (1, 256, 3, 3):
        return 'FacialComponentDiscriminator'
    return None


def _net_name(net):
    return type(net).__name__


def load_network(net, path, param_key='params_ema', strict=True, checkpoint=None):
    """Load the weights in ``path`` into ``net`` (DDP/DataParallel unwrapped) and return ``net``.

    Accepts ``{'params_ema': sd}``, ``{'params': sd}`` (falls back between the two) and bare
    state_dicts, ``.pth`` and ``.safetensors``. With ``strict``, any missing, unexpected or
    mis-shaped key raises one CheckpointError that lists the first offending keys and, when it can
    tell, which network the file fits; otherwise the matching keys are loaded and the rest reported.
    ``checkpoint``: the file already loaded (it is then not read again).
    """
    target = net.module if hasattr(net, 'module') and isinstance(net.module, torch.nn.Module) else net
    if checkpoint is None:
        checkpoint = load_checkpoint_file(path)
    state_dict = extract_state_dict(checkpoint, param_key)
    own = target.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        f'{k} {tuple(state_dict[k].shape)} vs {tuple(own[k].shape)}' for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f'missing keys: {_first(missing)}')
        if unexpected:
            parts.append(f'unexpected keys: {_first(unexpected)}')
        if mismatched:
            parts.append(f'shape mismatches (file vs network): {_first(mismatched, 3)}')
        guess = describe_state_dict(state_dict)
        hint = f' The file looks like a {guess} checkpoint.' if guess else ''
        carried = checkpoint.get(NETWORK_OPTIONS_KEY) if isinstance(checkpoint, dict) else None
        if isinstance(carried, dict):
            hint += (f" It was saved from a {carried.get('type')} of out_size {carried.get('out_size')} (its "
                     'network_options), which builds by itself when no architecture is forced.')
        message = f"Checkpoint '{os.fspath(path)}' does not fit {_net_name(target)}: {'; '.join(parts)}.{hint}"
        if strict:
            raise CheckpointError(message)
        import logging
        logging.getLogger('gfpgan').warning(message + ' Loading the matching keys only.')
        bad = {k.split(' ')[0] for k in mismatched}
        state_dict = {k: v for k, v in state_dict.items() if k in own and k not in bad}
    target.load_state_dict(state_dict, strict=strict)
    return net


def _write_error(err):
    """The OSError behind a failed write: ``err`` itself, or the one torch's writer swallowed into its
    ``RuntimeError: [enforce fail at inline_container.cc ...]`` (kept as the exception's context); None if neither."""
    seen = set()
    while err is not None and id(err) not in seen:
        if isinstance(err, OSError):
            return err
        seen.add(id(err))
        err = err.__cause__ or err.__context__
    return None


def _disk_nearly_full(folder, margin=1 << 20):
    """Whether the file system of ``folder`` has less than ``margin`` bytes left (False when unknown)."""
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def atomic_save(obj, path):
    """torch.save to a temporary file in the same folder, flushed to disk, then renamed over ``path``:
    readers never see a partial file and an interrupted save leaves the previous file intact.

    A failed write (a full disk, a quota, an I/O error), which torch reports as ``RuntimeError: [enforce fail at
    inline_container.cc ...] PytorchStreamWriter failed writing file``, is raised as an OSError with the real errno
    (ENOSPC when torch hid it and the disk is full, else EIO) and ``path`` as its filename, so the message says which
    file and why (``gfpgan.errors.describe_os_error``)."""
    path = os.fspath(path)
    try:
        with atomic_write(path) as f:
            torch.save(obj, f)
    except (OSError, RuntimeError) as err:
        cause = _write_error(err)
        if cause is None:
            if 'inline_container' not in str(err) and 'PytorchStreamWriter' not in str(err):
                raise  # not a write failure
            code = errno.ENOSPC if _disk_nearly_full(os.path.dirname(os.path.abspath(path))) else errno.EIO
            raise OSError(code, os.strerror(code), path) from err
        if cause is err and cause.filename == path:
            raise
        code = cause.errno if cause.errno is not None else errno.EIO
        raise OSError(code, cause.strerror or os.strerror(code), path) from err  # the target, not the temporary


def save_network(net, path, param_key='params', ema_net=None, options=None):
    """Save ``net`` as ``{param_key: state_dict}`` (plus ``'params_ema'`` from ``ema_net``), atomically,
    with tensors on the CPU and 'module.' prefixes stripped. ``options``: the network's build options, kept under
    NETWORK_OPTIONS_KEY as plain values, so inference rebuilds the same network from the file alone."""

    def cpu_state(n):
        n = n.module if hasattr(n, 'module') and isinstance(n.module, torch.nn.Module) else n
        return OrderedDict((k, v.detach().cpu()) for k, v in n.state_dict().items())

    obj = {param_key: cpu_state(net)}
    if ema_net is not None:
        obj['params_ema'] = cpu_state(ema_net)
    if options is not None:
        obj[NETWORK_OPTIONS_KEY] = plain_options(options)
    atomic_save(obj, path)
