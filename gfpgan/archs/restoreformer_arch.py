"""RestoreFormer (Wang et al., CVPR 2022): a VQ-VAE whose decoder attends, with multi-head cross-attention, to the
encoder's features of the degraded face; the release file ``RestoreFormer.pth`` of the original GFPGAN loads into
``RestoreFormer()`` with its default arguments.

Input ``(B, 3, H, W)`` in [-1, 1] with H = W = ``resolution``; the output is the decoder's last convolution (no tanh).
"""
import torch
from torch import nn
from torch.nn import functional as F

from gfpgan.registry import ARCH_REGISTRY

__all__ = [
    'RestoreFormer', 'VectorQuantizer', 'MultiHeadAttnBlock', 'MultiHeadEncoder', 'MultiHeadDecoderTransformer',
    'ResnetBlock', 'Upsample', 'Downsample', 'Normalize', 'nonlinearity'
]


def Normalize(in_channels):
    """GroupNorm with 32 groups, as the original (named as there)."""
    return nn.GroupNorm(num_groups=32, num_channels=in_channels, eps=1e-6, affine=True)


def nonlinearity(x):
    """Swish / SiLU, computed as the original does."""
    return x * torch.sigmoid(x)


class VectorQuantizer(nn.Module):
    """Nearest-neighbour lookup into a codebook of ``n_e`` vectors of size ``e_dim``, with the VQ-VAE
    commitment loss (weight ``beta``) and the straight-through gradient."""

    def __init__(self, n_e, e_dim, beta):
        super().__init__()
        self.n_e = n_e
        self.e_dim = e_dim
        self.beta = beta
        self.embedding = nn.Embedding(n_e, e_dim)
        self.embedding.weight.data.uniform_(-1.0 / n_e, 1.0 / n_e)

    def forward(self, z):
        """z: (B, e_dim, H, W) -> (z_q (B, e_dim, H, W), loss, (perplexity, one-hot codes, indices, distances))."""
        z = z.permute(0, 2, 3, 1).contiguous()
        flat = z.view(-1, self.e_dim)
        codebook = self.embedding.weight
        distances = (flat**2).sum(dim=1, keepdim=True) + (codebook**2).sum(dim=1) - 2 * flat @ codebook.t()
        indices = torch.min(distances, dim=1)[1].unsqueeze(1)
        one_hot = torch.zeros(indices.shape[0], self.n_e, dtype=z.dtype, device=z.device)
        one_hot.scatter_(1, indices, 1)
        z_q = (one_hot @ codebook).view(z.shape)
        loss = torch.mean((z_q.detach() - z)**2) + self.beta * torch.mean((z_q - z.detach())**2)
        z_q = z + (z_q - z).detach()
        usage = one_hot.mean(dim=0)
        perplexity = torch.exp(-torch.sum(usage * torch.log(usage + 1e-10)))
        return z_q.permute(0, 3, 1, 2).contiguous(), loss, (perplexity, one_hot, indices, distances)

    def get_codebook_entry(self, indices, shape=None):
        """Codebook vectors of ``indices``; with ``shape`` (B, H, W, C) returned as (B, C, H, W)."""
        z_q = self.embedding(indices.view(-1))
        if shape is not None:
            z_q = z_q.view(shape).permute(0, 3, 1, 2).contiguous()
        return z_q


class Upsample(nn.Module):
    """Nearest x2, then a 3x3 convolution when ``with_conv``."""

    def __init__(self, in_channels, with_conv=True):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(in_channels, in_channels, 3, 1, 1)

    def forward(self, x):
        x = F.interpolate(x, scale_factor=2.0, mode='nearest')
        return self.conv(x) if self.with_conv else x


class Downsample(nn.Module):
    """Halves the size: a stride-2 3x3 convolution after zero padding on the right and bottom, or average pooling."""

    def __init__(self, in_channels, with_conv=True):
        super().__init__()
        self.with_conv = with_conv
        if with_conv:
            self.conv = nn.Conv2d(in_channels, in_channels, 3, 2, 0)

    def forward(self, x):
        if self.with_conv:
            return self.conv(F.pad(x, (0, 1, 0, 1), mode='constant', value=0))
        return F.avg_pool2d(x, kernel_size=2, stride=2)


class ResnetBlock(nn.Module):
    """GroupNorm-swish-conv twice, with a 1x1 (or 3x3 with ``conv_shortcut``) projection when channels change."""

    def __init__(self, in_channels, out_channels=None, conv_shortcut=False, dropout=0.0):
        super().__init__()
        out_channels = in_channels if out_channels is None else out_channels
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.use_conv_shortcut = conv_shortcut
        self.norm1 = Normalize(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
        self.norm2 = Normalize(out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1)
        if in_channels != out_channels:
            if conv_shortcut:
                self.conv_shortcut = nn.Conv2d(in_channels, out_channels, 3, 1, 1)
            else:
                self.nin_shortcut = nn.Conv2d(in_channels, out_channels, 1, 1, 0)

    def forward(self, x, temb=None):
        h = self.conv1(nonlinearity(self.norm1(x)))
        h = self.conv2(self.dropout(nonlinearity(self.norm2(h))))
        if self.in_channels != self.out_channels:
            x = self.conv_shortcut(x) if self.use_conv_shortcut else self.nin_shortcut(x)
        return x + h


class MultiHeadAttnBlock(nn.Module):
    """Multi-head attention over the H*W positions, with a residual. Self-attention with ``y=None``; otherwise
    cross-attention: queries from ``y`` (normalised by ``norm2``), keys and values from ``x``."""

    def __init__(self, in_channels, head_size=1):
        super().__init__()
        if in_channels % head_size:
            raise ValueError(f'in_channels ({in_channels}) must be divisible by head_size ({head_size})')
        self.in_channels = in_channels
        self.head_size = head_size
        self.att_size = in_channels // head_size
        self.norm1 = Normalize(in_channels)
        self.norm2 = Normalize(in_channels)
        self.q = nn.Conv2d(in_channels, in_channels, 1)
        self.k = nn.Conv2d(in_channels, in_channels, 1)
        self.v = nn.Conv2d(in_channels, in_channels, 1)
        self.proj_out = nn.Conv2d(in_channels, in_channels, 1)

    def _heads(self, t):
        """(B, C, H, W) -> (B, heads, H*W, att_size)."""
        b, _, h, w = t.shape
        return t.reshape(b, self.head_size, self.att_size, h * w).transpose(2, 3)

    def forward(self, x, y=None):
        h_ = self.norm1(x)
        y = h_ if y is None else self.norm2(y)
        b, c, h, w = x.shape
        q = self._heads(self.q(y)) * (int(self.att_size)**-0.5)
        k = self._heads(self.k(h_))
        v = self._heads(self.v(h_))
        attn = torch.softmax(q @ k.transpose(2, 3), dim=3)
        out = (attn @ v).permute(0, 2, 1, 3).reshape(b, h, w, c).permute(0, 3, 1, 2)
        return x + self.proj_out(out)


class MultiHeadEncoder(nn.Module):
    """Downsampling encoder; returns a dict of features: ``block_<i>`` before each downsampling, and with the
    middle stage ``block_<last>_atten`` and ``mid_atten``, then ``out`` (``z_channels``, x2 with ``double_z``)."""

    def __init__(self,
                 ch,
                 out_ch,
                 ch_mult=(1, 2, 4, 8),
                 num_res_blocks=2,
                 attn_resolutions=(16, ),
                 dropout=0.0,
                 resamp_with_conv=True,
                 in_channels=3,
                 resolution=512,
                 z_channels=256,
                 double_z=True,
                 enable_mid=True,
                 head_size=1,
                 **ignore_kwargs):
        super().__init__()
        self.ch = ch
        self.num_resolutions = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        self.resolution = resolution
        self.in_channels = in_channels
        self.enable_mid = enable_mid
        self.conv_in = nn.Conv2d(in_channels, ch, 3, 1, 1)
        curr_res = resolution
        in_ch_mult = (1, ) + tuple(ch_mult)
        self.down = nn.ModuleList()
        for i_level in range(self.num_resolutions):
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            block_in = ch * in_ch_mult[i_level]
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks):
                blocks.append(ResnetBlock(block_in, block_out, dropout=dropout))
                block_in = block_out
                if curr_res in attn_resolutions:
                    attns.append(MultiHeadAttnBlock(block_in, head_size))
            level = nn.Module()
            level.block = blocks
            level.attn = attns
            if i_level != self.num_resolutions - 1:
                level.downsample = Downsample(block_in, resamp_with_conv)
                curr_res = curr_res // 2
            self.down.append(level)
        if enable_mid:
            self.mid = nn.Module()
            self.mid.block_1 = ResnetBlock(block_in, block_in, dropout=dropout)
            self.mid.attn_1 = MultiHeadAttnBlock(block_in, head_size)
            self.mid.block_2 = ResnetBlock(block_in, block_in, dropout=dropout)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, 2 * z_channels if double_z else z_channels, 3, 1, 1)

    def forward(self, x):
        hs = {}
        h = self.conv_in(x)
        hs['in'] = h
        last = self.num_resolutions - 1
        for i_level, level in enumerate(self.down):
            for i_block, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[i_block](h)
            if i_level != last:
                hs[f'block_{i_level}'] = h
                h = level.downsample(h)
        if self.enable_mid:
            h = self.mid.block_1(h)
            hs[f'block_{last}_atten'] = h
            h = self.mid.attn_1(h)
            h = self.mid.block_2(h)
            hs['mid_atten'] = h
        h = self.conv_out(nonlinearity(self.norm_out(h)))
        hs['out'] = h
        return hs


class MultiHeadDecoderTransformer(nn.Module):
    """Upsampling decoder whose attention blocks cross-attend to the encoder's features of the same level."""

    def __init__(self,
                 ch,
                 out_ch,
                 ch_mult=(1, 2, 4, 8),
                 num_res_blocks=2,
                 attn_resolutions=(16, ),
                 dropout=0.0,
                 resamp_with_conv=True,
                 in_channels=3,
                 resolution=512,
                 z_channels=256,
                 give_pre_end=False,
                 enable_mid=True,
                 head_size=1,
                 **ignore_kwargs):
        super().__init__()
        self.ch = ch
        self.num_resolutions = len(ch_mult)
        self.num_res_blocks = num_res_blocks
        self.resolution = resolution
        self.in_channels = in_channels
        self.give_pre_end = give_pre_end
        self.enable_mid = enable_mid
        block_in = ch * ch_mult[-1]
        curr_res = resolution // 2**(self.num_resolutions - 1)
        self.z_shape = (1, z_channels, curr_res, curr_res)
        self.conv_in = nn.Conv2d(z_channels, block_in, 3, 1, 1)
        if enable_mid:
            self.mid = nn.Module()
            self.mid.block_1 = ResnetBlock(block_in, block_in, dropout=dropout)
            self.mid.attn_1 = MultiHeadAttnBlock(block_in, head_size)
            self.mid.block_2 = ResnetBlock(block_in, block_in, dropout=dropout)
        levels = []
        for i_level in reversed(range(self.num_resolutions)):
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            block_out = ch * ch_mult[i_level]
            for _ in range(num_res_blocks + 1):
                blocks.append(ResnetBlock(block_in, block_out, dropout=dropout))
                block_in = block_out
                if curr_res in attn_resolutions:
                    attns.append(MultiHeadAttnBlock(block_in, head_size))
            level = nn.Module()
            level.block = blocks
            level.attn = attns
            if i_level != 0:
                level.upsample = Upsample(block_in, resamp_with_conv)
                curr_res = curr_res * 2
            levels.insert(0, level)
        self.up = nn.ModuleList(levels)
        self.norm_out = Normalize(block_in)
        self.conv_out = nn.Conv2d(block_in, out_ch, 3, 1, 1)

    def forward(self, z, hs):
        h = self.conv_in(z)
        if self.enable_mid:
            h = self.mid.block_1(h)
            h = self.mid.attn_1(h, hs['mid_atten'])
            h = self.mid.block_2(h)
        for i_level in reversed(range(self.num_resolutions)):
            level = self.up[i_level]
            source = hs.get(f'block_{i_level}_atten', hs.get(f'block_{i_level}'))
            for i_block, block in enumerate(level.block):
                h = block(h)
                if len(level.attn) > 0:
                    h = level.attn[i_block](h, source)
            if i_level != 0:
                h = level.upsample(h)
        if self.give_pre_end:
            return h
        return self.conv_out(nonlinearity(self.norm_out(h)))


@ARCH_REGISTRY.register()
class RestoreFormer(nn.Module):
    """RestoreFormer as released with GFPGAN 1.3.4: ``forward(x)`` returns ``(image, None)``, image
    (B, out_ch, H, W) roughly in [-1, 1]; other keyword arguments (``return_rgb``, ``weight``, ...) are accepted
    and ignored, as GFPGANer passes them to every generator."""

    def __init__(self,
                 n_embed=1024,
                 embed_dim=256,
                 ch=64,
                 out_ch=3,
                 ch_mult=(1, 2, 2, 4, 4, 8),
                 num_res_blocks=2,
                 attn_resolutions=(16, ),
                 dropout=0.0,
                 in_channels=3,
                 resolution=512,
                 z_channels=256,
                 double_z=False,
                 enable_mid=True,
                 fix_decoder=False,
                 fix_codebook=True,
                 fix_encoder=False,
                 head_size=8):
        super().__init__()
        common = dict(
            ch=ch,
            out_ch=out_ch,
            ch_mult=ch_mult,
            num_res_blocks=num_res_blocks,
            attn_resolutions=attn_resolutions,
            dropout=dropout,
            in_channels=in_channels,
            resolution=resolution,
            z_channels=z_channels,
            enable_mid=enable_mid,
            head_size=head_size)
        self.encoder = MultiHeadEncoder(double_z=double_z, **common)
        self.decoder = MultiHeadDecoderTransformer(**common)
        self.quantize = VectorQuantizer(n_embed, embed_dim, beta=0.25)
        self.quant_conv = nn.Conv2d(z_channels, embed_dim, 1)
        self.post_quant_conv = nn.Conv2d(embed_dim, z_channels, 1)

        frozen = []
        if fix_decoder:
            frozen += [self.decoder, self.post_quant_conv, self.quantize]
        elif fix_codebook:
            frozen.append(self.quantize)
        if fix_encoder:
            frozen.append(self.encoder)
        for module in frozen:
            for param in module.parameters():
                param.requires_grad = False

    def encode(self, x):
        """-> (quant, codebook loss, quantizer info, encoder features)."""
        hs = self.encoder(x)
        quant, emb_loss, info = self.quantize(self.quant_conv(hs['out']))
        return quant, emb_loss, info, hs

    def decode(self, quant, hs):
        return self.decoder(self.post_quant_conv(quant), hs)

    def forward(self, input, **kwargs):
        quant, _, _, hs = self.encode(input)
        return self.decode(quant, hs), None
