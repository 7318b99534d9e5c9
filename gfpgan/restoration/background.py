"""Background upsampling for face restoration: Real-ESRGAN's RRDBNet run over an image in tiles.

``tiled_forward`` is the tensor-level tiling; ``RealESRGANUpsampler.enhance`` takes and returns numpy
images (gray, BGR or BGRA; 8 or 16 bit) as GFPGAN's inference passes them. Runs on CPU and CUDA.
"""
import logging
import math

import cv2
import numpy as np
import torch
from torch.nn import functional as F

from gfpgan.archs.rrdbnet_arch import RRDBNet
from gfpgan.utils.checkpoint import load_network
from gfpgan.utils.device import conv_memory_format, resolve_device
from gfpgan.utils.weights import resolve_weights

from .image_mode import merge_image, split_image

__all__ = ['RELEASE_UPSAMPLERS', 'RealESRGANUpsampler', 'tiled_forward', 'size_multiple', 'required_weights']

# scale -> file name (in the pretrained catalogue) of the released Real-ESRGAN generators (RRDBNet, 64 features,
# 23 blocks, growth 32)
RELEASE_UPSAMPLERS = {2: 'RealESRGAN_x2plus.pth', 4: 'RealESRGAN_x4plus.pth'}

logger = logging.getLogger('gfpgan')


def required_weights(scale=2, model_path=None):
    """(file name or path, what it is) of the pretrained file a RealESRGANUpsampler of ``scale`` loads."""
    if model_path is None and int(scale) not in RELEASE_UPSAMPLERS:
        raise ValueError(f'No released Real-ESRGAN model has scale {scale}; pass model_path.')
    return [(model_path or RELEASE_UPSAMPLERS[int(scale)], f'the Real-ESRGAN x{int(scale)} background upsampler')]


def size_multiple(scale):
    """What input height and width an RRDBNet of ``scale`` must be divisible by (its pixel-unshuffle factor)."""
    return {4: 1, 2: 2, 1: 4}.get(int(scale), 1)


def _pad_bottom_right(x, pad_h, pad_w):
    """Reflect-pad (B, C, H, W) at the bottom and right; replicate where a side is too short to reflect."""
    if pad_h == 0 and pad_w == 0:
        return x
    mode = 'reflect' if pad_h < x.shape[2] and pad_w < x.shape[3] else 'replicate'
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def _round_up(value, multiple):
    return int(math.ceil(value / multiple) * multiple)


@torch.no_grad()
def tiled_forward(net, x, scale, tile, tile_pad=10):
    """``net(x)`` computed tile by tile to bound memory: (1, C, H, W) -> (1, C_out, H * scale, W * scale).

    The input is cut into ``tile`` x ``tile`` pieces, each run with ``tile_pad`` pixels of its
    neighbours around it (clipped at the image border) and cropped back. The result equals the
    untiled one up to float rounding when ``tile_pad`` is at least the network's receptive-field
    radius; a smaller pad gives small seams. ``tile=0`` (or a tile covering the image) runs the
    whole image at once. H and W that the network cannot take (odd ones for an x2 RRDBNet) are
    reflect-padded to the next valid size and the output cropped back; tile and pad are rounded up to
    that multiple so tiles sit on the network's pixel-unshuffle grid.
    """
    if x.ndim != 4:
        raise ValueError(f'tiled_forward expects a (B, C, H, W) tensor, got {tuple(x.shape)}.')
    if tile < 0 or tile_pad < 0:
        raise ValueError(f'tile and tile_pad must be >= 0, got {tile} and {tile_pad}.')
    _, _, h, w = x.shape
    mod = size_multiple(getattr(net, 'scale', scale))
    x = _pad_bottom_right(x, _round_up(h, mod) - h, _round_up(w, mod) - w)
    if not tile or (tile >= x.shape[2] and tile >= x.shape[3]):
        return net(x)[:, :, :h * scale, :w * scale]

    tile, tile_pad = _round_up(tile, mod), _round_up(tile_pad, mod)
    batch, _, height, width = x.shape
    output = None
    for top in range(0, height, tile):
        for left in range(0, width, tile):
            bottom, right = min(top + tile, height), min(left + tile, width)
            in_top, in_left = max(top - tile_pad, 0), max(left - tile_pad, 0)
            in_bottom, in_right = min(bottom + tile_pad, height), min(right + tile_pad, width)
            out_tile = net(x[:, :, in_top:in_bottom, in_left:in_right])
            if output is None:
                output = out_tile.new_zeros(batch, out_tile.shape[1], height * scale, width * scale)
            oy, ox = (top - in_top) * scale, (left - in_left) * scale
            output[:, :, top * scale:bottom * scale, left * scale:right * scale] = \
                out_tile[:, :, oy:oy + (bottom - top) * scale, ox:ox + (right - left) * scale]
    return output[:, :, :h * scale, :w * scale]


class RealESRGANUpsampler:
    """The background upsampler of GFPGAN's inference: a Real-ESRGAN RRDBNet over the whole image.

    Args:
        scale (int): network scale, 2 (``RealESRGAN_x2plus.pth``, the default) or 4 (``RealESRGAN_x4plus.pth``);
            other scales need ``model_path`` or ``net``.
        model_path (str | None): weights file (``params_ema`` of a Real-ESRGAN checkpoint); None resolves the
            release file for ``scale`` (local folder, caches, then its URL).
        tile (int): tile size in input pixels; 0 runs the whole image at once.
        tile_pad (int): context pixels around each tile (see ``tiled_forward``).
        pre_pad (int): reflect padding added at the bottom/right of the image before the network, cropped after.
        half (bool): float16 on CUDA (ignored with a warning on CPU). bf16 (bool): bfloat16 (CPU or CUDA).
        device (str | torch.device | None): default CUDA if available, else CPU.
        net (torch.nn.Module | None): a ready network (e.g. a small random RRDBNet in tests); no weights are loaded.
    """

    def __init__(self,
                 scale=2,
                 model_path=None,
                 tile=400,
                 tile_pad=10,
                 pre_pad=0,
                 half=False,
                 bf16=False,
                 device=None,
                 net=None):
        if half and bf16:
            raise ValueError('Choose at most one of half (float16) and bf16 (bfloat16) for the background upsampler.')
        self.scale = int(scale)
        self.tile, self.tile_pad, self.pre_pad = int(tile), int(tile_pad), int(pre_pad)
        self.device = resolve_device(device)
        if half and self.device.type == 'cpu':
            logger.warning('float16 background upsampling is not supported on the CPU; using float32.')
            half = False
        self.dtype = torch.float16 if half else torch.bfloat16 if bf16 else torch.float32
        if net is None:
            net = RRDBNet(num_in_ch=3, num_out_ch=3, num_feat=64, num_block=23, num_grow_ch=32, scale=self.scale)
            if model_path is None and self.scale not in RELEASE_UPSAMPLERS:
                raise ValueError(f'No released Real-ESRGAN model has scale {self.scale}; pass model_path.')
            path = resolve_weights(model_path or RELEASE_UPSAMPLERS[self.scale])
            load_network(net, path, param_key='params_ema')
        self.memory_format = conv_memory_format(self.device, self.dtype)
        self.net = net.eval().to(device=self.device, dtype=self.dtype, memory_format=self.memory_format)
        for p in self.net.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def _upsample(self, img):
        """(H, W, 3) RGB float32 in [0, 1] -> (H * scale, W * scale, 3) RGB float32 in [0, 1]."""
        x = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1))).unsqueeze(0)
        x = x.to(device=self.device, dtype=self.dtype)
        h, w = x.shape[2:]
        x = _pad_bottom_right(x, self.pre_pad, self.pre_pad).contiguous(memory_format=self.memory_format)
        out = tiled_forward(self.net, x, self.scale, self.tile, self.tile_pad)
        out = out[:, :, :h * self.scale, :w * self.scale]
        return out.squeeze(0).float().clamp_(0, 1).permute(1, 2, 0).cpu().numpy()

    def enhance(self, img, outscale=None):
        """Upsample a numpy image; returns (output, img_mode).

        img: (H, W) or (H, W, 1) gray, (H, W, 3) BGR or (H, W, 4) BGRA, uint8 or uint16. The output has the
        same dtype and layout (gray in -> 2-D gray out; BGRA in -> BGRA out, the alpha channel upscaled by
        the network unless it is constant) at ``outscale`` times the size (default: the network scale;
        other factors resize the network output with Lanczos). img_mode is 'L', 'RGB' or 'RGBA'.
        """
        if not isinstance(img, np.ndarray) or img.dtype not in (np.uint8, np.uint16):
            kind = img.dtype if isinstance(img, np.ndarray) else type(img).__name__
            raise ValueError(f'The background upsampler takes uint8 or uint16 numpy images, got {kind}.')
        if img.ndim == 3 and img.shape[2] == 1:
            img = img[:, :, 0]
        if img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (3, 4)) or min(img.shape[:2]) < 1:
            raise ValueError(f'The background upsampler takes (H, W), (H, W, 3) or (H, W, 4) images, got {img.shape}.')
        max_range = 65535.0 if img.dtype == np.uint16 else 255.0
        h, w = img.shape[:2]
        color, alpha, img_mode = split_image(img)
        output = cv2.cvtColor(self._upsample(cv2.cvtColor(color.astype(np.float32) / max_range, cv2.COLOR_BGR2RGB)),
                              cv2.COLOR_RGB2BGR)
        if img_mode == 'RGBA':
            alpha = alpha.astype(np.float32) / max_range
            if alpha.min() == alpha.max():
                alpha = cv2.resize(alpha, (w * self.scale, h * self.scale), interpolation=cv2.INTER_LINEAR)
            else:
                alpha = cv2.cvtColor(self._upsample(cv2.cvtColor(alpha, cv2.COLOR_GRAY2RGB)), cv2.COLOR_RGB2GRAY)
        output = merge_image(output, alpha, img_mode)

        output = np.clip(output * max_range, 0, max_range).round().astype(img.dtype)
        if outscale is not None and float(outscale) != float(self.scale):
            if outscale <= 0:
                raise ValueError(f'outscale must be positive, got {outscale}.')
            size = (max(1, int(w * outscale)), max(1, int(h * outscale)))
            output = cv2.resize(output, size, interpolation=cv2.INTER_LANCZOS4)
        return output, img_mode
