"""The network configurations of the released GFPGAN generators, as the official inference builds them, by the
architecture names the original command line uses (``-arch clean|bilinear|original|RestoreFormer``)."""

__all__ = ['RELEASE_ARCHS', 'RELEASES', 'release_network_options']

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
