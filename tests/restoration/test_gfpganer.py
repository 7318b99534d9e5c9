"""GFPGANer: the strength knob, batching, image modes, and the release table (no downloads, small random nets)."""
import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan import GFPGANer
from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.archs.presets import RELEASES, release_network_options
from gfpgan.restoration.gfpganer import blend_strength, restore_mode, split_alpha
from gfpgan.utils.pretrained import PRETRAINED

SIZE = 64


@pytest.fixture(scope='module')
def net():
    torch.manual_seed(0)
    return GFPGANv1Clean(
        out_size=SIZE, num_style_feat=32, channel_multiplier=1, num_mlp=2, narrow=0.25, sft_half=True).eval()


@pytest.fixture
def face():
    return cv2.resize(skdata.astronaut()[20:220, 140:340, ::-1], (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def restorer(net, detector=None, upscale=1, **kw):
    return GFPGANer(
        net=net,
        upscale=upscale,
        face_size=SIZE,
        use_parse=False,
        device='cpu',
        det_model=None,
        detector=detector or _NoFaces(),
        **kw)


class _NoFaces:

    def detect(self, img):
        return []


def test_strength_zero_is_the_input_one_the_restoration_and_monotone_between(net, face):
    gfpganer = restorer(net)
    outs = {w: gfpganer.enhance(face, has_aligned=True, weight=w)[1][0].astype(int) for w in (0, .25, .5, .75, 1)}
    assert np.array_equal(outs[0], face)
    full = outs[1]
    assert np.abs(full - face).mean() > 5  # the random network does change the face
    weights = sorted(outs)
    for lo, hi in zip(weights, weights[1:]):  # every pixel moves from the input towards the restoration
        assert np.all(np.abs(outs[hi] - face) + 1 >= np.abs(outs[lo] - face))
        assert np.all(np.abs(full - outs[hi]) <= np.abs(full - outs[lo]) + 1)
    with pytest.raises(ValueError, match=r'weight must lie in \[0, 1\]'):
        blend_strength(face, face, 1.5)


def test_batches_give_the_same_faces_as_one_at_a_time(net, face):
    faces = [np.roll(face, 7 * i, 1) for i in range(5)]
    one = restorer(net, batch_size=1).restore_faces(faces)
    batched = restorer(net, batch_size=4).restore_faces(faces)
    for a, b in zip(one, batched):
        assert np.abs(a.astype(int) - b).max() <= 1  # float summation order only


class _CountingNet(torch.nn.Module):
    """The wrapped generator, recording the batch size of every forward pass."""

    def __init__(self, net):
        super().__init__()
        self.net, self.batches = net, []

    def forward(self, x, **kw):
        self.batches.append(x.shape[0])
        return self.net(x, **kw)


def test_enhance_iter_batches_faces_across_photos_and_isolates_failures(net, centre_face):
    photo = cv2.resize(skdata.astronaut()[:, :, ::-1], (96, 96), interpolation=cv2.INTER_AREA)
    photos = [np.roll(photo, 9 * i, 1) for i in range(5)]
    items = [(f'p{i}', p) for i, p in enumerate(photos)]
    items.insert(2, ('bad', photo.astype(np.float32)))  # not 8/16-bit: that photo fails, the others go on
    counting = _CountingNet(net)
    batched = restorer(counting, centre_face, upscale=2, batch_size=4)
    results = dict(batched.enhance_iter(items))
    assert list(results) == [key for key, _ in items]  # input order kept
    assert isinstance(results.pop('bad'), ValueError)
    assert counting.batches == [3, 2]  # 3 faces + the bad photo fill the first wait, then the rest
    single = restorer(net, centre_face, upscale=2, batch_size=1)
    for (key, got), img in zip(results.items(), photos):
        cropped, restored, whole = single.enhance(img)
        assert np.array_equal(got[0][0], cropped[0])
        assert np.abs(got[1][0].astype(int) - restored[0]).max() <= 1  # float summation order only
        assert whole.shape == got[2].shape == (192, 192, 3)
        assert np.abs(got[2].astype(int) - whole).max() <= 1


def test_bf16_runs_on_the_cpu_and_stays_close(net, face):
    full = restorer(net).restore_faces([face])[0].astype(int)
    bf16 = restorer(net, bf16=True).restore_faces([face])[0].astype(int)
    assert np.abs(full - bf16).mean() < 6
    with pytest.raises(ValueError, match='needs a CUDA device'):
        restorer(net, half=True)


@pytest.mark.parametrize('kind', ['gray', 'bgra', 'bgr16'])
def test_image_modes_round_trip(face, kind):
    img = {
        'gray': cv2.cvtColor(face, cv2.COLOR_BGR2GRAY),
        'bgra': np.dstack([face, np.arange(SIZE**2, dtype=np.uint8).reshape(SIZE, SIZE)]),
        'bgr16': face.astype(np.uint16) * 257
    }[kind]
    bgr, mode = split_alpha(img)
    assert bgr.shape == (SIZE, SIZE, 3) and bgr.dtype == np.uint8
    back = restore_mode(bgr, mode)
    assert back.shape == img.shape and back.dtype == img.dtype
    assert np.array_equal(back, img) if kind != 'gray' else np.abs(back.astype(int) - img).max() <= 1
    bigger = restore_mode(cv2.resize(bgr, (2 * SIZE, 2 * SIZE)), mode)
    assert bigger.shape[:2] == (2 * SIZE, 2 * SIZE) and bigger.dtype == img.dtype


def test_no_face_photo_is_still_upscaled_in_its_mode(net, face):
    gfpganer = GFPGANer(
        net=net, upscale=2, face_size=SIZE, use_parse=False, device='cpu', det_model=None, detector=_NoFaces())
    gray = cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    cropped, restored, out = gfpganer.enhance(gray)
    assert cropped == [] and restored == [] and out.shape == (2 * SIZE, 2 * SIZE)


def test_release_table_matches_the_architectures():
    assert set(RELEASES) == {'1', '1.2', '1.3', '1.4', 'RestoreFormer'}
    types = {'1': 'GFPGANv1', 'RestoreFormer': 'RestoreFormer'}
    for version, release in RELEASES.items():
        options = release_network_options(release['arch'], release['channel_multiplier'])
        assert PRETRAINED[release['file']].url.endswith('/' + release['file'])
        assert options['type'] == types.get(version, 'GFPGANv1Clean')


def test_missing_checkpoint_is_one_sentence(isolated_weights):
    with pytest.raises(FileNotFoundError, match="'GFPGANv1.4.pth' was not found"):
        GFPGANer(PRETRAINED['GFPGANv1.4.pth'].url, device='cpu', use_parse=False, detector=_NoFaces(), det_model=None)
