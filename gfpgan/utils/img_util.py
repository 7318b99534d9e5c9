"""Image I/O and tensor conversion shared by the datasets, the scripts and the inference code.

Decoding returns RGB float32 in [0, 1] and refuses empty, non-image and truncated data with one
sentence naming the file; writing is atomic. ``img2tensor`` / ``tensor2img`` / ``imwrite`` keep the
signatures and conventions of BasicSR's functions of the same names (cv2 arrays are BGR).
"""
import math
import os

import cv2
import numpy as np
import torch

from gfpgan.errors import GFPGANError

from .fileio import atomic_write

__all__ = [
    'ImageReadError', 'imdecode', 'decode_image', 'read_image', 'read_image_bytes', 'resize_square', 'img2tensor',
    'tensor2img', 'imwrite', 'bgr_to_tensor', 'tensor_to_bgr'
]

# Decoded with EXIF orientation applied, 16-bit depth kept, gray expanded and alpha dropped by OpenCV,
# as 3 channels; straight to RGB where OpenCV can (>= 4.10), otherwise BGR, swapped afterwards.
_RGB_FLAG = getattr(cv2, 'IMREAD_COLOR_RGB', None)
_DECODE_FLAGS = (_RGB_FLAG if _RGB_FLAG is not None else cv2.IMREAD_COLOR) | cv2.IMREAD_ANYDEPTH

_PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
_PNG_IEND = b'\x00\x00\x00\x00IEND\xaeB`\x82'  # the final chunk: zero length, type, CRC
_SIGNATURES = ((_PNG_SIGNATURE, 'PNG'), (b'\xff\xd8\xff', 'JPEG'), (b'BM', 'BMP'), (b'II*\x00', 'TIFF'),
               (b'MM\x00*', 'TIFF'), (b'GIF8', 'GIF'))


class ImageReadError(GFPGANError, ValueError):
    """An image that cannot be read or decoded: empty, not an image, truncated, or unreadable on disk."""


def _image_format(data):
    """The container format named by the file signature ('PNG', 'JPEG', 'WebP', ...), or None."""
    if data[:4] == b'RIFF' and data[8:12] == b'WEBP':
        return 'WebP'
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    return None


def _jpeg_is_complete(data):
    """Whether a JPEG stream has its end-of-image marker (FF D9) after the start of its first scan.

    The header segments are skipped by their lengths so that the EOI of an embedded EXIF thumbnail does
    not count; inside entropy-coded data FF D9 can only be the real EOI. Bytes after it (padding, the
    video of a motion photo) are allowed.
    """
    pos, size = 2, len(data)
    while pos + 4 <= size:
        if data[pos] != 0xFF:
            return True  # a corrupt header: let the decoder judge it
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
        elif 0xD0 <= marker <= 0xD7 or marker in (0x01, 0xD8):  # markers without a length
            pos += 2
        elif marker == 0xD9:
            return True
        else:
            length = int.from_bytes(data[pos + 2:pos + 4], 'big')
            if marker == 0xDA:  # start of scan
                return data.find(b'\xff\xd9', pos + 2 + length) >= 0
            pos += 2 + length
    return False


def _truncation(data, fmt):
    """A description of how ``data`` is cut short, or None when it looks complete (PNG, JPEG, WebP)."""
    if fmt == 'PNG' and not data.endswith(_PNG_IEND) and data.rfind(_PNG_IEND) < 0:
        return 'a truncated PNG (its final IEND chunk is missing)'
    if fmt == 'JPEG' and not _jpeg_is_complete(data):
        return 'a truncated JPEG (its end-of-image marker FF D9 is missing)'
    if fmt == 'WebP':
        expected = int.from_bytes(data[4:8], 'little') + 8
        if len(data) < expected:
            return f'a truncated WebP ({len(data)} of its {expected} bytes)'
    return None


def imdecode(data, flags, path='<bytes>'):
    """``cv2.imdecode(data, flags)`` (a cv2 array, BGR, as stored) after refusing empty and truncated data.

    ``path`` only names the data in errors: empty, non-image, truncated or undecodable data raise
    ImageReadError with one sentence naming it.
    """
    if not isinstance(data, (bytes, bytearray)):
        data = bytes(memoryview(data))
    if not data:
        raise ImageReadError(f"Cannot read image '{path}': it is empty (0 bytes).")
    fmt = _image_format(data)
    truncation = _truncation(data, fmt)
    if truncation:
        raise ImageReadError(f"Cannot read image '{path}': it is {truncation}; copy or create the file again.")
    try:
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        img = None
    if img is None:
        if fmt is None:
            raise ImageReadError(f"Cannot read image '{path}': its {len(data)} bytes are not an image file.")
        raise ImageReadError(f"Cannot read image '{path}': OpenCV cannot decode this {fmt} file ({len(data)} bytes), "
                             'which is corrupt or uses an unsupported variant.')
    return img


def decode_image(data, path='<bytes>'):
    """Decode an encoded image (PNG, JPEG, WebP, BMP, TIFF, ...) to a (H, W, 3) float32 RGB array in [0, 1].

    8-bit samples are divided by 255 and 16-bit ones by 65535; float images (TIFF) are returned as
    stored. Gray images are replicated to 3 channels, an alpha channel is discarded (not composited) and
    the EXIF orientation is applied, as ``cv2.imread(path, IMREAD_COLOR)`` does. ``path`` only names the
    data in errors: empty, non-image or truncated data raise ImageReadError.
    """
    img = imdecode(data, _DECODE_FLAGS, path)
    if _RGB_FLAG is None:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    if img.dtype == np.uint8:
        return np.divide(img, np.float32(255), dtype=np.float32)
    if img.dtype == np.uint16:
        return np.divide(img, np.float32(65535), dtype=np.float32)
    if img.dtype in (np.float32, np.float64):
        return img.astype(np.float32, copy=False)
    raise ImageReadError(f"Cannot read image '{path}': its {img.dtype} samples are not supported "
                         '(8-bit, 16-bit or float images only).')


def read_image_bytes(path):
    """The bytes of the image file ``path``; an unreadable file is an ImageReadError naming it and the cause."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except OSError as err:
        raise ImageReadError(f"Cannot read image '{path}': {err.strerror or err}.") from err


def read_image(path):
    """Read and decode an image file to a (H, W, 3) float32 RGB array in [0, 1] (see ``decode_image``)."""
    path = os.fspath(path)
    return decode_image(read_image_bytes(path), path)


def resize_square(img, size):
    """``img`` as ``size`` x ``size``: area averaging to shrink, bicubic to enlarge (float images clipped back to
    [0, 1], which bicubic overshoots); returned as it is when it already has that size."""
    if img.shape[:2] == (size, size):
        return img
    out = cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA if img.shape[0] > size else cv2.INTER_CUBIC)
    return np.clip(out, 0, 1) if np.issubdtype(out.dtype, np.floating) else out


def img2tensor(imgs, bgr2rgb=True, float32=True):
    """(H, W, C) or (H, W) numpy image(s) to contiguous (C, H, W) tensor(s), as in BasicSR.

    A list gives a list. With ``bgr2rgb``, 3-channel images have their channels reversed (cv2's BGR to
    RGB); with ``float32`` the tensor is cast to float32 (values are not rescaled).
    """

    def to_tensor(img):
        if img.ndim == 2:
            img = img[:, :, None]
        if bgr2rgb and img.shape[2] == 3:
            img = img[:, :, ::-1]
        tensor = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return tensor.float() if float32 else tensor

    if isinstance(imgs, list):
        return [to_tensor(img) for img in imgs]
    return to_tensor(imgs)


def bgr_to_tensor(imgs, min_max=(0, 1)):
    """(H, W, 3) or (B, H, W, 3) BGR uint8 image(s) (or a list of them) -> contiguous (B, 3, H, W) RGB float32 tensor
    with 0..255 mapped linearly onto ``min_max``: the networks' input ((-1, 1) for GFPGAN, LPIPS, ArcFace, ParseNet).
    """
    batch = np.stack(imgs) if isinstance(imgs, (list, tuple)) else np.asarray(imgs)
    batch = batch[None] if batch.ndim == 3 else batch
    low, high = min_max
    x = torch.from_numpy(np.ascontiguousarray(batch[..., ::-1])).permute(0, 3, 1, 2).float().div_(255. / (high - low))
    return (x.add_(low) if low else x).contiguous()


def tensor_to_bgr(tensor, min_max=(0, 1)):
    """(B, 3, H, W) RGB tensor in ``min_max`` -> (B, H, W, 3) BGR uint8 array (clamped, rounded): the inverse of
    ``bgr_to_tensor`` for network outputs."""
    low, high = min_max
    x = tensor.detach().float().clamp(low, high)
    x = ((x - low) if low else x).mul_(255. / (high - low)).round().byte().permute(0, 2, 3, 1).cpu().numpy()
    return np.ascontiguousarray(x[..., ::-1])


def _make_grid(batch, nrow, padding=2):
    """(B, C, H, W) to one (3 or C, H', W') image: ``nrow`` images a row, ``padding`` zero pixels around
    each, gray repeated to 3 channels (the layout of torchvision's ``make_grid``, which BasicSR uses)."""
    if batch.size(1) == 1:
        batch = batch.expand(-1, 3, -1, -1)
    n, c, h, w = batch.shape
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    grid = batch.new_zeros((c, rows * (h + padding) + padding, cols * (w + padding) + padding))
    for k in range(n):
        top, left = (k // cols) * (h + padding) + padding, (k % cols) * (w + padding) + padding
        grid[:, top:top + h, left:left + w] = batch[k]
    return grid


def _tensor_to_image(tensor, rgb2bgr, out_type, min_max):
    if tensor.dim() not in (2, 3, 4):
        raise TypeError(f'tensor2img takes 2-D, 3-D or 4-D tensors, got a {tensor.dim()}-D one.')
    low, high = min_max
    tensor = tensor.detach().squeeze(0).to('cpu', torch.float32).clamp(low, high)
    if (low, high) != (0, 1):
        tensor = (tensor - low) / (high - low)
    if tensor.dim() == 4:
        tensor = _make_grid(tensor, nrow=int(math.sqrt(tensor.size(0))))
    elif tensor.dim() == 3 and tensor.size(0) == 1:
        tensor = tensor[0]
    out_type = np.dtype(out_type)
    if out_type in (np.uint8, np.uint16):
        tensor = (tensor * float(np.iinfo(out_type).max)).round()
        if out_type == np.uint8:
            tensor = tensor.to(torch.uint8)  # exact: whole numbers in [0, 255]; interleaving is then cheaper
    img = tensor.contiguous().numpy()
    if img.ndim == 3:
        channels = list(img)
        if rgb2bgr and len(channels) in (3, 4):
            channels[:3] = channels[2::-1]
        img = cv2.merge(channels)  # (C, H, W) -> (H, W, C), faster than a transposed copy
    return img.astype(out_type, copy=False)


def tensor2img(tensor, rgb2bgr=True, out_type=np.uint8, min_max=(0, 1)):
    """Tensor(s) to cv2 image(s), as in BasicSR: clamp to ``min_max``, rescale to [0, 1], then HWC.

    Accepts (C, H, W), (1, C, H, W), (H, W) and (B, C, H, W) with B > 1 (tiled into one grid image,
    ``int(sqrt(B))`` per row, 2-pixel black padding); a list of tensors gives a list (one tensor: one
    array). 3-channel results are BGR with ``rgb2bgr`` (4-channel: BGRA); 1-channel ones are (H, W).
    ``np.uint8`` output is ``round(x * 255)``; ``np.uint16`` (an addition) is ``round(x * 65535)``;
    float types stay in [0, 1]. The input tensor is not modified.
    """
    if torch.is_tensor(tensor):
        tensors = [tensor]
    elif isinstance(tensor, list) and all(torch.is_tensor(t) for t in tensor):
        tensors = tensor
    else:
        raise TypeError(f'tensor2img takes a tensor or a list of tensors, got {type(tensor).__name__}.')
    images = [_tensor_to_image(t, rgb2bgr, out_type, min_max) for t in tensors]
    return images[0] if len(images) == 1 else images


def _cv2_reason(err):
    text = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
    return text.split(' error: ', 1)[-1].strip()


def imwrite(img, file_path, params=None, auto_mkdir=True):
    """Write a cv2 image (BGR(A) or gray, uint8 / uint16 (H, W[, C]) array) to ``file_path``, atomically
    (BasicSR's signature).

    The format follows the extension, as for ``cv2.imwrite``; ``params`` are cv2's encoder flags, e.g.
    ``[cv2.IMWRITE_JPEG_QUALITY, 95]``. The image is encoded in memory, then written through a temporary
    file and a rename, so an existing file is replaced only by a complete one. A failed encoding raises
    ValueError and touches nothing.
    """
    path = os.fspath(file_path)
    ext = os.path.splitext(path)[1]
    if not ext:
        raise ValueError(f"Cannot write image '{path}': the name has no extension (.png, .jpg, ...) to choose "
                         'the format from.')
    img = np.ascontiguousarray(img)
    try:
        ok, encoded = cv2.imencode(ext, img, list(params) if params is not None else [])
    except cv2.error as err:
        ok, reason = False, _cv2_reason(err)
    else:
        reason = 'the encoder failed'
    if not ok:
        raise ValueError(f"Cannot write image '{path}': OpenCV cannot encode a {'x'.join(map(str, img.shape))} "
                         f'{img.dtype} array as {ext} ({reason}).')
    folder = os.path.dirname(os.path.abspath(path))
    if not auto_mkdir and not os.path.isdir(folder):
        raise FileNotFoundError(f"Cannot write image '{path}': the folder '{folder}' does not exist "
                                '(and auto_mkdir is False).')
    with atomic_write(path, auto_mkdir=auto_mkdir) as f:
        f.write(encoded.data)
