"""The original package's public surface (gfpgan 1.3.8): top-level names, ``gfpgan.utils`` (GFPGANer, BasicSR's
image helpers, load_file_from_url), RestoreFormer through GFPGANer, and enhance with a file path."""
import inspect
import os

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

import gfpgan
from gfpgan.archs import RestoreFormer, presets
from gfpgan.utils import pretrained
from gfpgan.utils.img_util import ImageReadError
from gfpgan.utils.weights import WeightsNotFoundError

ARCH_CLASSES = [
    'GFPGANv1', 'GFPGANv1Clean', 'GFPGANBilinear', 'RestoreFormer', 'StyleGAN2GeneratorSFT', 'StyleGAN2GeneratorCSFT',
    'StyleGAN2GeneratorBilinearSFT', 'StyleGAN2Generator', 'StyleGAN2GeneratorClean', 'StyleGAN2GeneratorBilinear',
    'StyleGAN2Discriminator', 'FacialComponentDiscriminator', 'ResNetArcFace', 'BasicBlock', 'IRBlock', 'Bottleneck',
    'VGGFeatureExtractor', 'RRDBNet'
]


def test_top_level_names():
    from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset
    from gfpgan.models.gfpgan_model import GFPGANModel
    from gfpgan.restoration.gfpganer import GFPGANer
    assert gfpgan.GFPGANer is GFPGANer
    assert gfpgan.GFPGANModel is GFPGANModel
    assert gfpgan.FFHQDegradationDataset is FFHQDegradationDataset
    for name in ARCH_CLASSES:
        assert getattr(gfpgan, name) is getattr(gfpgan.archs, name), name
        if name not in ('BasicBlock', 'IRBlock', 'Bottleneck'):  # building blocks, not registered in the original
            assert gfpgan.ARCH_REGISTRY.get(name) is getattr(gfpgan, name), name
    namespace = {}
    exec('from gfpgan import *', namespace)  # noqa: S102 - the star import the original's users write
    assert {'GFPGANer', 'GFPGANModel', 'FFHQDegradationDataset', 'RestoreFormer', 'img2tensor'} <= set(namespace)


def test_utils_offers_the_originals_names():
    from gfpgan.utils import GFPGANer, img2tensor, imwrite, load_file_from_url, tensor2img
    assert GFPGANer is gfpgan.GFPGANer
    assert str(inspect.signature(img2tensor)) == '(imgs, bgr2rgb=True, float32=True)'
    assert str(inspect.signature(tensor2img)) == "(tensor, rgb2bgr=True, out_type=<class 'numpy.uint8'>, " \
        'min_max=(0, 1))'
    assert str(inspect.signature(imwrite)) == '(img, file_path, params=None, auto_mkdir=True)'
    assert str(inspect.signature(load_file_from_url)) == '(url, model_dir=None, progress=True, file_name=None)'
    assert 'GFPGANer' in dir(gfpgan.utils)
    with pytest.raises(AttributeError):
        gfpgan.utils.NoSuchThing


def test_image_helpers_round_trip(tmp_path):
    from gfpgan.utils import img2tensor, imwrite, tensor2img
    img = skdata.astronaut()[:32, :48, ::-1].copy()  # BGR uint8
    tensor = img2tensor(img.astype(np.float32) / 255.)
    assert tensor.shape == (3, 32, 48) and tensor.dtype == torch.float32
    assert torch.equal(tensor[0], torch.from_numpy(img[:, :, 2].astype(np.float32) / 255.))  # RGB order
    back = tensor2img(tensor)
    assert np.array_equal(back, img)
    imwrite(back, file_path=str(tmp_path / 'new' / 'x.png'))
    assert np.array_equal(cv2.imread(str(tmp_path / 'new' / 'x.png')), img)


def _serve(tmp_path, payload=b'weights'):
    src = tmp_path / 'server' / 'model.pth'
    src.parent.mkdir()
    src.write_bytes(payload)
    return src.as_uri()


def test_load_file_from_url_downloads_once_into_the_folder(tmp_path, monkeypatch, capsys):
    from gfpgan.utils import load_file_from_url
    url = _serve(tmp_path)
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD', raising=False)
    got = load_file_from_url(url, model_dir=str(tmp_path / 'weights'), progress=False)
    assert got == os.path.abspath(tmp_path / 'weights' / 'model.pth')
    assert open(got, 'rb').read() == b'weights'
    assert os.listdir(tmp_path / 'weights') == ['model.pth']  # no temporary file left
    renamed = load_file_from_url(url, model_dir=str(tmp_path / 'weights'), progress=False, file_name='other.pth')
    assert os.path.basename(renamed) == 'other.pth'
    # present: no download, even where downloading is disabled or the source is gone
    monkeypatch.setenv('GFPGAN_NO_DOWNLOAD', '1')
    os.remove(tmp_path / 'server' / 'model.pth')
    assert load_file_from_url(url, model_dir=str(tmp_path / 'weights')) == got


def test_load_file_from_url_defaults_to_torch_hub_and_reports_offline(isolated_weights):
    from gfpgan.utils import load_file_from_url
    url = pretrained.PRETRAINED['RestoreFormer.pth'].url
    with pytest.raises(WeightsNotFoundError, match='GFPGAN_NO_DOWNLOAD') as info:
        load_file_from_url(url)
    where = os.path.join(str(isolated_weights), 'torch_home', 'hub', 'checkpoints', 'RestoreFormer.pth')
    assert where in str(info.value) and url in str(info.value)
    os.makedirs(os.path.dirname(where), exist_ok=True)
    open(where, 'wb').close()
    assert load_file_from_url(url) == where


def test_load_file_from_url_checks_catalogue_files(tmp_path, monkeypatch):
    from gfpgan.utils import load_file_from_url
    url = _serve(tmp_path)
    entry = pretrained.PretrainedFile(url, '0' * 64, None, ('inference', ), False, 'test')
    monkeypatch.setitem(pretrained.PRETRAINED, 'model.pth', entry)
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD', raising=False)
    with pytest.raises(WeightsNotFoundError, match='SHA-256 mismatch'):
        load_file_from_url(url, model_dir=str(tmp_path / 'weights'), progress=False)
    assert os.listdir(tmp_path / 'weights') == []


SMALL = dict(n_embed=16, embed_dim=8, ch=32, ch_mult=(1, 1, 2), attn_resolutions=(16, ), resolution=64, z_channels=16)


class _NoFaces:

    def detect(self, img):
        return []


@pytest.fixture
def face():
    return cv2.resize(skdata.astronaut()[20:220, 140:340, ::-1], (64, 64), interpolation=cv2.INTER_AREA)


def test_gfpganer_builds_restoreformer_from_its_release_preset(tmp_path, monkeypatch, face):
    torch.manual_seed(0)
    small = RestoreFormer(**SMALL)
    path = tmp_path / 'RestoreFormer.pth'
    torch.save({'params_ema': small.state_dict()}, path)
    monkeypatch.setitem(presets.RELEASE_ARCHS, 'RestoreFormer', dict(type='RestoreFormer', **SMALL))
    restorer = gfpgan.GFPGANer(
        str(path), upscale=1, arch='RestoreFormer', channel_multiplier=2, device='cpu', det_model=None,
        detector=_NoFaces(), use_parse=False, face_size=64)
    assert isinstance(restorer.gfpgan, RestoreFormer)
    _, restored, _ = restorer.enhance(face, has_aligned=True)
    x = torch.from_numpy(face[..., ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1
    with torch.no_grad():
        want = small.eval()(x)[0].clamp(-1, 1)
    want = ((want[0] + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()[..., ::-1]
    assert np.abs(restored[0].astype(int) - want).max() <= 1  # float rounding at .5 aside, the same


def test_enhance_accepts_a_file_path(tmp_path, face):
    torch.manual_seed(0)
    restorer = gfpgan.GFPGANer(
        net=RestoreFormer(**SMALL), upscale=2, device='cpu', det_model=None, detector=_NoFaces(), use_parse=False,
        face_size=64)
    cv2.imwrite(str(tmp_path / 'face.png'), face)
    from_array = restorer.enhance(face, has_aligned=True)[1][0]
    assert np.array_equal(restorer.enhance(str(tmp_path / 'face.png'), has_aligned=True)[1][0], from_array)
    assert np.array_equal(restorer.enhance(tmp_path / 'face.png', has_aligned=True)[1][0], from_array)
    _, _, whole = restorer.enhance(str(tmp_path / 'face.png'))  # no face: the photo is still upscaled
    assert whole.shape == (128, 128, 3)
    with pytest.raises(ImageReadError, match='missing.png'):
        restorer.enhance(str(tmp_path / 'missing.png'))
    (tmp_path / 'text.png').write_bytes(b'not an image')
    with pytest.raises(ImageReadError, match='text.png'):
        restorer.enhance(str(tmp_path / 'text.png'))
    with pytest.raises(TypeError, match='array or a file path'):
        restorer.enhance(42)
