"""GFPGANer on CUDA in float32, float16 (--half) and bfloat16 (--bf16) against float32 on the CPU: the v1.4 network
(random weights) restoring aligned 512x512 faces, and a whole photo through detection stand-in and paste-back."""
import copy

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from cudautil import CUDA_TESTS, DEVICE, requires_real_cuda
from gfpgan import GFPGANer
from gfpgan.archs.presets import release_network_options
from gfpgan.archs import build_network
from gfpgan.restoration import LandmarksDetector

pytestmark = CUDA_TESTS

# PSNR (dB) of the CUDA result against the CPU float32 one. Measured on the CPU with this network: bfloat16 autocast
# 51-53 dB, a float16 copy of the network 62-64 dB; the restoration is 6 dB from its input, so a broken path falls
# far below.
PRECISIONS = [
    pytest.param('fp32', 45, id='fp32'),
    pytest.param('fp16', 40, id='fp16', marks=requires_real_cuda),
    pytest.param('bf16', 35, id='bf16'),
]
# one face in the middle of the 256x256 photo: the FFHQ template's 5 points scaled into a centred 128-pixel square
CENTRE_FACE = LandmarksDetector(
    np.array([[192.98, 239.95], [318.90, 240.19], [256.63, 314.02], [201.26, 371.41], [313.09, 371.15]]) / 4 + 64)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64))**2)
    return float('inf') if mse == 0 else 10 * np.log10(255**2 / mse)


class _NoFaces:

    def detect(self, img):
        return []


def _restorer(net, device, precision='fp32', detector=None, upscale=1):
    return GFPGANer(
        net=copy.deepcopy(net),
        upscale=upscale,
        use_parse=False,
        device=device,
        det_model=None,
        detector=detector or _NoFaces(),
        half=precision == 'fp16',
        bf16=precision == 'bf16',
        batch_size=2)


@pytest.fixture(scope='module')
def case():
    """(v1.4 network with random weights, two aligned faces, a photo, their CPU float32 restorations)."""
    torch.manual_seed(0)
    net = build_network(release_network_options('clean')).eval()
    # GFPGANer draws the decoder's noise on each device (randomize_noise); the noise strengths start at zero, as in
    # StyleGAN2, so that noise does not reach the output and the devices can be compared
    strengths = [p for n, p in net.named_parameters() if n.startswith('stylegan_decoder.style_conv') and p.numel() == 1]
    assert len(strengths) == 15 and not any(p.detach().any() for p in strengths)
    face = cv2.resize(skdata.astronaut()[20:220, 140:340, ::-1], (512, 512), interpolation=cv2.INTER_CUBIC)
    faces = [face, np.ascontiguousarray(np.roll(face, 37, 1))]
    photo = cv2.resize(skdata.astronaut()[:, :, ::-1], (256, 256), interpolation=cv2.INTER_AREA)
    reference = _restorer(net, 'cpu').restore_faces(faces)
    reference_photo = _restorer(net, 'cpu', detector=CENTRE_FACE, upscale=2).enhance(photo)[2]
    return net, faces, photo, reference, reference_photo


@pytest.mark.parametrize('precision,min_psnr', PRECISIONS)
def test_restore_faces_on_cuda_matches_cpu_float32(case, precision, min_psnr):
    net, faces, _, reference, _ = case
    gfpganer = _restorer(net, DEVICE, precision)
    weight = next(gfpganer.gfpgan.parameters())
    assert weight.device.type == DEVICE
    assert weight.dtype == (torch.float16 if precision == 'fp16' else torch.float32)
    restored = gfpganer.restore_faces(faces)
    for got, want in zip(restored, reference):
        assert got.shape == want.shape == (512, 512, 3) and got.dtype == np.uint8
        value = psnr(got, want)
        assert value >= min_psnr, f'{precision}: PSNR {value:.1f} dB against the CPU float32 restoration'


@pytest.mark.parametrize('precision,min_psnr', PRECISIONS)
def test_whole_photo_on_cuda_matches_cpu_float32(case, precision, min_psnr):
    net, _, photo, _, reference = case
    restored = _restorer(net, DEVICE, precision, detector=CENTRE_FACE, upscale=2).enhance(photo)[2]
    assert restored.shape == reference.shape == (512, 512, 3)
    value = psnr(restored, reference)
    assert value >= min_psnr, f'{precision}: PSNR {value:.1f} dB against the CPU float32 photo'
