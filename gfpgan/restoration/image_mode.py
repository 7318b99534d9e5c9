"""Image modes of the photos restoration takes: gray, BGR or BGRA, 8- or 16-bit. Split into a BGR colour image and
an alpha channel, then put back, so the restorer and the background upsampler only ever see 3-channel BGR."""
import cv2
import numpy as np

__all__ = ['split_image', 'merge_image', 'to_8bit', 'split_alpha', 'restore_mode']


def split_image(img):
    """(H, W), (H, W, 1), (H, W, 3) BGR or (H, W, 4) BGRA array -> ((H, W, 3) BGR colour, (H, W) alpha or None,
    kind 'L' | 'RGB' | 'RGBA'), all of the input's dtype (gray is replicated to 3 channels)."""
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR), None, 'L'
    if img.shape[2] == 4:
        return np.ascontiguousarray(img[:, :, :3]), img[:, :, 3], 'RGBA'
    return img, None, 'RGB'


def merge_image(color, alpha, kind):
    """The inverse of ``split_image`` for a (H', W', 3) BGR colour result: gray again for 'L', the alpha channel
    (resized bilinearly to H' x W' when it differs) appended for 'RGBA'."""
    if kind == 'L':
        return cv2.cvtColor(color, cv2.COLOR_BGR2GRAY)
    if kind == 'RGBA':
        if alpha.shape[:2] != color.shape[:2]:
            alpha = cv2.resize(alpha, (color.shape[1], color.shape[0]), interpolation=cv2.INTER_LINEAR)
        return np.dstack([color, alpha])
    return color


def to_8bit(img):
    """A uint8 image as it is; a uint16 one as its nearest uint8 (x / 257, rounded); anything else refused."""
    if img.dtype == np.uint16:
        return np.rint(img / 257.).astype(np.uint8)
    if img.dtype != np.uint8:
        raise ValueError(f'Images must be 8- or 16-bit, got {img.dtype}.')
    return img


def split_alpha(img):
    """Any photo cv2 reads -> ((H, W, 3) BGR uint8, mode) with mode = {'gray', 'alpha', 'bits16', 'alpha_channel'}
    (the uint8 alpha or None); ``restore_mode`` puts a result back into the input's form."""
    color, alpha, kind = split_image(to_8bit(img))
    return color, dict(gray=kind == 'L', alpha=kind == 'RGBA', bits16=img.dtype == np.uint16, alpha_channel=alpha)


def restore_mode(img, mode):
    """The inverse of ``split_alpha`` for a restored (H', W', 3) BGR uint8 image: gray stays gray, the alpha channel
    is resized to the new size (bilinear) and re-attached, 16-bit comes back as 16-bit."""
    img = merge_image(img, mode['alpha_channel'], 'L' if mode['gray'] else 'RGBA' if mode['alpha'] else 'RGB')
    if mode['bits16']:
        img = img.astype(np.uint16) * 257
    return img
