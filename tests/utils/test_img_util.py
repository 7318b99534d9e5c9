"""Image I/O: decoding to RGB float in [0, 1] for every format and depth, clear errors for empty,
truncated and non-image data, BasicSR-compatible tensor conversion, atomic writing."""
import os
import re
import struct

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan.utils import (ImageReadError, atomic_save, atomic_write, decode_image, img2tensor, imwrite, read_image,
                          tensor2img)


@pytest.fixture(scope='module')
def rgb():
    """(48, 64, 3) uint8 RGB crop of the astronaut."""
    return np.ascontiguousarray(skdata.astronaut()[100:148, 200:264])


def _encode(ext, img, params=()):
    ok, buf = cv2.imencode(ext, img, list(params))
    assert ok
    return buf.tobytes()


def _bgr(img):
    return np.ascontiguousarray(img[..., ::-1])


@pytest.mark.parametrize('ext, params', [('.png', ()), ('.webp', (cv2.IMWRITE_WEBP_QUALITY, 101)), ('.bmp', ()),
                                         ('.tif', ())])
def test_lossless_formats_decode_exactly(rgb, ext, params):
    out = decode_image(_encode(ext, _bgr(rgb), params))
    assert out.dtype == np.float32 and out.shape == (48, 64, 3) and out.flags.c_contiguous
    np.testing.assert_array_equal(out, rgb.astype(np.float32) / 255.)


def test_jpeg_decodes_close(rgb):
    out = decode_image(_encode('.jpg', _bgr(rgb), (cv2.IMWRITE_JPEG_QUALITY, 95)))
    assert out.shape == (48, 64, 3) and out.dtype == np.float32
    diff = np.abs(out - rgb / 255.)
    assert diff.mean() < 0.02 and diff.max() < 0.2


def test_16bit_gray_and_alpha(rgb):
    rng = np.random.default_rng(0)
    deep = rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    np.testing.assert_array_equal(decode_image(_encode('.png', deep)), deep[..., ::-1].astype(np.float32) / 65535.)
    gray = rgb[..., 1]
    np.testing.assert_array_equal(
        decode_image(_encode('.png', gray)), np.repeat(gray[..., None] / np.float32(255), 3, 2))
    gray16 = deep[..., 0]
    np.testing.assert_array_equal(
        decode_image(_encode('.png', gray16)), np.repeat(gray16[..., None] / np.float32(65535), 3, 2))
    alpha = np.dstack([_bgr(rgb), np.full(rgb.shape[:2], 7, np.uint8)])  # alpha is dropped, not composited
    np.testing.assert_array_equal(decode_image(_encode('.png', alpha)), rgb / np.float32(255))
    float_img = rng.random((4, 6, 3), dtype=np.float32)  # float TIFF: as stored
    np.testing.assert_array_equal(decode_image(_encode('.tiff', float_img)), float_img[..., ::-1])


def _with_exif_orientation(jpeg, orientation):
    """Insert an APP1 EXIF segment holding only an Orientation tag right after the SOI marker."""
    ifd = b'MM\x00*' + struct.pack('>IH', 8, 1) + struct.pack('>HHIHH', 0x0112, 3, 1, orientation, 0) + b'\0' * 4
    payload = b'Exif\x00\x00' + ifd
    return jpeg[:2] + b'\xff\xe1' + struct.pack('>H', len(payload) + 2) + payload + jpeg[2:]


def test_exif_orientation_is_applied_like_cv2_imread(rgb):
    jpeg = _with_exif_orientation(_encode('.jpg', _bgr(rgb)), 6)  # 6: rotate 90 degrees clockwise
    out = decode_image(jpeg)
    assert out.shape == (64, 48, 3)
    np.testing.assert_array_equal(
        out,
        cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[..., ::-1] / np.float32(255))


def test_trailing_bytes_after_the_end_marker_are_fine(rgb):
    jpeg = _encode('.jpg', _bgr(rgb))
    np.testing.assert_array_equal(decode_image(jpeg + b'\0' * 64 + b'trailer'), decode_image(jpeg))
    png = _encode('.png', _bgr(rgb))
    np.testing.assert_array_equal(decode_image(png + b'\0' * 16), rgb / np.float32(255))


def test_bad_data_is_one_clear_error(rgb, tmp_path):
    png, jpeg = _encode('.png', _bgr(rgb)), _encode('.jpg', _bgr(rgb))
    webp = _encode('.webp', _bgr(rgb))
    # a header segment holding an FF D9 (as an EXIF thumbnail does) must not pass for the end of the image
    jpeg_thumb = jpeg[:2] + b'\xff\xe1\x00\x08Exif\xff\xd9' + jpeg[2:]
    cases = {
        'empty.png': (b'', 'empty'),
        'text.png': (b'this is not an image\n' * 20, 'not an image'),
        'cut.png': (png[:len(png) // 2], 'truncated PNG'),
        'no_iend.png': (png[:-12], 'truncated PNG'),
        'cut.jpg': (jpeg[:-2], 'truncated JPEG'),
        'half.jpg': (jpeg[:len(jpeg) // 2], 'truncated JPEG'),
        'thumb.jpg': (jpeg_thumb[:len(jpeg_thumb) - 40], 'truncated JPEG'),
        'cut.webp': (webp[:-10], 'truncated WebP'),
        'garbled.png': (png[:40] + bytes(200) + png[240:], 'cannot decode this PNG'),
    }
    assert decode_image(jpeg_thumb).shape == (48, 64, 3)  # the intact version decodes
    for name, (blob, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(blob)
        with pytest.raises(ImageReadError, match=re.escape(f"'{path}'") + '.*' + reason) as err:
            read_image(path)
        assert str(err.value).count('. ') == 0, str(err.value)  # one sentence
        with pytest.raises(ImageReadError, match=f"'{name}'.*{reason}"):
            decode_image(blob, name)
    assert issubclass(ImageReadError, ValueError)


def test_unreadable_file_names_path_and_reason(tmp_path):
    with pytest.raises(ImageReadError, match=re.escape(f"'{tmp_path / 'missing.png'}'") + '.*No such file'):
        read_image(tmp_path / 'missing.png')
    with pytest.raises(ImageReadError, match='Is a directory'):
        read_image(tmp_path)


def test_img2tensor_tensor2img_round_trip(rgb):
    bgr = _bgr(rgb)
    tensor = img2tensor(bgr.astype(np.float32) / 255.)
    assert tensor.shape == (3, 48, 64) and tensor.dtype == torch.float32 and tensor.is_contiguous()
    assert torch.equal(tensor, torch.from_numpy(rgb.transpose(2, 0, 1).astype(np.float32) / 255.))
    assert np.array_equal(tensor2img(tensor), bgr)
    assert np.array_equal(tensor2img(tensor[None]), bgr)  # (1, C, H, W)
    assert np.array_equal(tensor2img(tensor, rgb2bgr=False), rgb)
    assert np.array_equal(tensor2img(tensor * 2 - 1, min_max=(-1, 1)), bgr)

    pair = img2tensor([bgr, bgr], bgr2rgb=False, float32=False)
    assert isinstance(pair, list) and pair[0].dtype == torch.uint8 and torch.equal(pair[0][0],
                                                                                   torch.from_numpy(bgr[..., 0]))
    assert img2tensor(bgr[..., 0]).shape == (1, 48, 64)
    out = tensor2img([tensor, tensor])
    assert isinstance(out, list) and len(out) == 2
    assert tensor2img(tensor[:1]).shape == (48, 64)  # one channel: (H, W)
    assert tensor2img(tensor[0]).shape == (48, 64)
    floats = tensor2img(tensor, out_type=np.float32)
    assert floats.dtype == np.float32 and np.allclose(floats, bgr / 255.)
    deep = tensor2img(tensor, out_type=np.uint16)
    assert deep.dtype == np.uint16 and np.array_equal(deep, bgr.astype(np.uint16) * 257)
    with pytest.raises(TypeError, match='tensor or a list of tensors'):
        tensor2img(bgr)


def test_tensor2img_rounds_and_clamps_like_basicsr():
    torch.manual_seed(0)
    tensor = torch.rand(3, 9, 11) * 2.4 - 1.2
    before = tensor.clone()
    expected = (np.clip(tensor.numpy(), -1, 1) + 1) / np.float32(2)
    expected = (expected.transpose(1, 2, 0)[..., ::-1] * 255.0).round().astype(np.uint8)
    assert np.array_equal(tensor2img(tensor, min_max=(-1, 1)), expected)
    assert torch.equal(tensor, before)  # not clamped in place


def test_tensor2img_tiles_a_batch_like_make_grid():
    make_grid = pytest.importorskip('torchvision.utils').make_grid
    torch.manual_seed(0)
    for batch in (torch.rand(5, 3, 6, 7), torch.rand(4, 1, 5, 5)):
        grid = make_grid(batch, nrow=int(batch.size(0)**0.5), normalize=False)
        expected = (grid.numpy().transpose(1, 2, 0)[..., ::-1] * 255.0).round().astype(np.uint8)
        assert np.array_equal(tensor2img(batch), expected)


def test_imwrite_writes_and_creates_folders(rgb, tmp_path):
    bgr = _bgr(rgb)
    path = tmp_path / 'new' / 'face.png'
    imwrite(bgr, path)
    assert np.array_equal(cv2.imread(str(path)), bgr)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask  # like a plain open(), not mkstemp's 0600
    imwrite(bgr, tmp_path / 'q.jpg', [cv2.IMWRITE_JPEG_QUALITY, 50])
    assert cv2.imread(str(tmp_path / 'q.jpg')).shape == bgr.shape
    deep = (bgr.astype(np.uint16) * 257)
    imwrite(deep, tmp_path / 'deep.png')
    assert np.array_equal(cv2.imread(str(tmp_path / 'deep.png'), cv2.IMREAD_UNCHANGED), deep)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        imwrite(bgr, tmp_path / 'absent' / 'x.png', auto_mkdir=False)
    with pytest.raises(ValueError, match='no extension'):
        imwrite(bgr, tmp_path / 'noext')


def test_imwrite_failure_leaves_the_old_file(rgb, tmp_path, monkeypatch):
    path = tmp_path / 'out.png'
    imwrite(_bgr(rgb), path)
    old = path.read_bytes()
    with pytest.raises(ValueError, match=re.escape(f"'{tmp_path / 'out.xyz'}'") + '.*cannot encode'):
        imwrite(_bgr(rgb), tmp_path / 'out.xyz')
    with pytest.raises(ValueError, match='cannot encode a 2x2x5 uint8 array as .png'):
        imwrite(np.zeros((2, 2, 5), np.uint8), path)

    def killed(fd):
        raise KeyboardInterrupt  # e.g. the job is killed while the data is being flushed

    monkeypatch.setattr(os, 'fsync', killed)
    with pytest.raises(KeyboardInterrupt):
        imwrite(np.zeros((4, 4, 3), np.uint8), path)
    monkeypatch.undo()
    assert path.read_bytes() == old and sorted(os.listdir(tmp_path)) == ['out.png']


def test_atomic_write_is_shared_with_atomic_save(tmp_path):
    path = tmp_path / 'a' / 'file.bin'
    with atomic_write(path) as f:
        f.write(b'one')
        assert not path.exists()  # nothing visible before the block ends
    assert path.read_bytes() == b'one'
    with pytest.raises(RuntimeError):
        with atomic_write(path) as f:
            f.write(b'two')
            raise RuntimeError
    assert path.read_bytes() == b'one' and os.listdir(path.parent) == ['file.bin']
    atomic_save({'w': torch.ones(2)}, tmp_path / 'a' / 'net.pth')
    assert torch.equal(torch.load(tmp_path / 'a' / 'net.pth', weights_only=True)['w'], torch.ones(2))


def test_resize_square_shrinks_by_area_enlarges_bicubic_and_clips_floats():
    from gfpgan.utils.img_util import resize_square
    img = np.random.default_rng(0).random((40, 40, 3)).astype(np.float32)
    assert resize_square(img, 40) is img
    assert np.array_equal(resize_square(img, 20), cv2.resize(img, (20, 20), interpolation=cv2.INTER_AREA))
    big = resize_square(img, 80)
    cubic = cv2.resize(img, (80, 80), interpolation=cv2.INTER_CUBIC)
    assert cubic.min() < 0 or cubic.max() > 1  # bicubic overshoots on noise ...
    assert np.array_equal(big, np.clip(cubic, 0, 1))  # ... and the float result is clipped back
    as_uint8 = (img * 255).astype(np.uint8)
    assert np.array_equal(resize_square(as_uint8, 80), cv2.resize(as_uint8, (80, 80), interpolation=cv2.INTER_CUBIC))
