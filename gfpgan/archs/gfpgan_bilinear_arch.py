"""GFPGANBilinear: GFPGANv1 with interpolation instead of FIR resampling everywhere. Its checkpoints
convert exactly to GFPGANv1Clean (``scripts/convert_gfpganv1_to_clean.py``)."""
from gfpgan.registry import ARCH_REGISTRY
from .gfpgan_base import GFPGANBase
from .gfpganv1_arch import EqualLRLayersMixin, ResUpBlock
from .stylegan2_bilinear_arch import ResBlock, StyleGAN2GeneratorBilinear
from .stylegan2_base import SFTGeneratorMixin

__all__ = ['StyleGAN2GeneratorBilinearSFT', 'GFPGANBilinear']


@ARCH_REGISTRY.register()
class StyleGAN2GeneratorBilinearSFT(SFTGeneratorMixin, StyleGAN2GeneratorBilinear):
    """Bilinear StyleGAN2 generator whose features are modulated by SFT conditions.

    Args: as StyleGAN2GeneratorBilinear, plus ``sft_half`` (modulate only the second half of the channels).
    """

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 num_mlp=8,
                 channel_multiplier=2,
                 lr_mlp=0.01,
                 narrow=1,
                 sft_half=False):
        super().__init__(
            out_size,
            num_style_feat=num_style_feat,
            num_mlp=num_mlp,
            channel_multiplier=channel_multiplier,
            lr_mlp=lr_mlp,
            narrow=narrow)
        self.sft_half = sft_half


@ARCH_REGISTRY.register()
class GFPGANBilinear(EqualLRLayersMixin, GFPGANBase):
    """GFPGAN with equalized lr and bilinear resampling (convertible to GFPGANv1Clean).

    Args: as GFPGANv1 without ``resample_kernel``.
    """

    def __init__(self,
                 out_size,
                 num_style_feat=512,
                 channel_multiplier=1,
                 decoder_load_path=None,
                 fix_decoder=True,
                 num_mlp=8,
                 lr_mlp=0.01,
                 input_is_latent=False,
                 different_w=False,
                 narrow=1,
                 sft_half=False):
        self.interpolation_mode = 'bilinear'
        super().__init__(out_size, num_style_feat, channel_multiplier, decoder_load_path, fix_decoder, num_mlp,
                         input_is_latent, different_w, narrow, sft_half, dict(lr_mlp=lr_mlp))

    def _make_down_block(self, in_channels, out_channels):
        return ResBlock(in_channels, out_channels, self.interpolation_mode)

    def _make_up_block(self, in_channels, out_channels):
        return ResUpBlock(in_channels, out_channels, self.interpolation_mode)

    def _make_decoder(self, **kwargs):
        return StyleGAN2GeneratorBilinearSFT(**kwargs)
