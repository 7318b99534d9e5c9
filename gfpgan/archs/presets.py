"""The network configurations of the released GFPGAN generators, as the official inference builds them, by the
architecture names the original command line uses (``-arch clean|bilinear|original|RestoreFormer``)."""

__all__ = [
    'RELEASE_ARCHS', 'RELEASES', 'release_network_options', 'checkpoint_network_options', 'training_network_options',
    'generator_options', 'network_face_size', 'load_generator'
]

_COMMON = dict(
    out_size=512,
    num_style_feat=512,
    decoder_load_path=None,
    num_mlp=8,
    input_is_latent=True,
    different_w=True,
    narrow=1,
    sft_half=True)

RELEASE_ARCHS = {
    'clean': dict(type='GFPGANv1Clean', channel_multiplier=2, fix_decoder=False, **_COMMON),  # v1.2, v1.3, v1.4
    'bilinear': dict(type='GFPGANBilinear', channel_multiplier=2, fix_decoder=False, **_COMMON),  # v1.2 bilinear
    'original': dict(type='GFPGANv1', channel_multiplier=1, fix_decoder=True, **_COMMON),  # GFPGANv1.pth (paper)
    'RestoreFormer': dict(type='RestoreFormer'),  # RestoreFormer.pth: the default arguments
}


def release_network_options(arch='clean', channel_multiplier=None):
    """``build_network`` options of a released generator; ``channel_multiplier`` overrides the release's (ignored by
    RestoreFormer, which has none, as the original ignores it)."""
    if arch not in RELEASE_ARCHS:
        raise ValueError(f"Unknown GFPGAN architecture {arch!r}; choose from {', '.join(RELEASE_ARCHS)}.")
    options = dict(RELEASE_ARCHS[arch])
    if channel_multiplier is not None and 'channel_multiplier' in options:
        options['channel_multiplier'] = channel_multiplier
    return options


# The released generators by the version names of the original command line (-v); their URLs and SHA-256 are in
# the pretrained catalogue (gfpgan.utils.pretrained), under the file name.
RELEASES = {
    '1': dict(arch='original', channel_multiplier=1, file='GFPGANv1.pth'),
    '1.2': dict(arch='clean', channel_multiplier=2, file='GFPGANCleanv1-NoCE-C2.pth'),
    '1.3': dict(arch='clean', channel_multiplier=2, file='GFPGANv1.3.pth'),
    '1.4': dict(arch='clean', channel_multiplier=2, file='GFPGANv1.4.pth'),
    'RestoreFormer': dict(arch='RestoreFormer', channel_multiplier=2, file='RestoreFormer.pth'),
}


def checkpoint_network_options(checkpoint):
    """The network options a checkpoint (a loaded dict) carries, or None (release files, bare state_dicts)."""
    from gfpgan.utils.checkpoint import NETWORK_OPTIONS_KEY
    options = checkpoint.get(NETWORK_OPTIONS_KEY) if isinstance(checkpoint, dict) else None
    return dict(options) if isinstance(options, dict) and isinstance(options.get('type'), str) else None


def training_network_options(path):
    """The ``network_g`` section of the training options file ``path`` (only that section is read, so a training
    YAML whose datasets do not exist here still works); OptionsError naming the file otherwise."""
    from gfpgan.config.loading import read_yaml
    from gfpgan.config.spec import OptionsError
    options = read_yaml(path).get('network_g')
    if not isinstance(options, dict) or not isinstance(options.get('type'), str):
        raise OptionsError(f"The options file '{path}' has no network_g section with a type.")
    return dict(options)


def generator_options(checkpoint=None, arch=None, channel_multiplier=None, opt=None):
    """The build_network options of a generator: the ``network_g`` of ``opt`` (a training options file, or that
    section as a dict) when given; else the released ``arch`` when one is forced; else the options the
    ``checkpoint`` (a loaded dict) carries; else the 'clean' release (v1.2-v1.4). A trained network's pretrained
    decoder (``decoder_load_path``) is not loaded again: the checkpoint holds all its weights."""
    options = None
    if opt is not None:
        options = dict(opt) if isinstance(opt, dict) else training_network_options(opt)
    elif arch is None:
        options = checkpoint_network_options(checkpoint)
    if options is None:
        return release_network_options(arch or 'clean', channel_multiplier)
    if 'decoder_load_path' in options:
        options['decoder_load_path'] = None
    return options


def network_face_size(options, default=512):
    """The face size (pixels) a generator of these options restores: its ``out_size`` (RestoreFormer: 512)."""
    return int(options.get('out_size') or default)


def load_generator(model_path, arch=None, channel_multiplier=None, opt=None, param_key='params_ema'):
    """(network in eval mode, its options): the generator ``generator_options`` chooses for the checkpoint file
    ``model_path``, with that checkpoint's weights ``param_key`` (the one home of checkpoint -> network)."""
    from gfpgan.archs import build_network
    from gfpgan.utils.checkpoint import load_checkpoint_file, load_network
    checkpoint = load_checkpoint_file(model_path)
    options = generator_options(checkpoint, arch, channel_multiplier, opt)
    net = build_network(options)
    load_network(net, model_path, param_key=param_key, checkpoint=checkpoint)
    return net.eval(), options
