"""What the original repository's own tests (gfpgan 1.3.8: tests/test_arcface_arch.py, test_gfpgan_arch.py,
test_stylegan2_clean_arch.py, test_ffhq_degradation_dataset.py, test_gfpgan_model.py, test_utils.py) exercise,
through the original's import paths and names, on the CPU: small random networks instead of release files, faces
made here, an LMDB and a component-box file made with this project's tools, the stand-in landmark detector
instead of RetinaFace."""
import os

import cv2
import numpy as np
import pytest
import torch
import yaml
from skimage import data as skdata

from gfpgan.archs.arcface_arch import BasicBlock, Bottleneck, ResNetArcFace
from gfpgan.archs.gfpganv1_arch import (ConvUpLayer, FacialComponentDiscriminator, GFPGANv1, ResUpBlock,
                                        StyleGAN2GeneratorSFT)
from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean, StyleGAN2GeneratorCSFT
from gfpgan.archs.stylegan2_arch import StyleGAN2Discriminator
from gfpgan.archs.stylegan2_clean_arch import StyleGAN2GeneratorClean
from gfpgan.data import PairedImageDataset
from gfpgan.data.components import save_component_boxes
from gfpgan.data.ffhq_degradation_dataset import FFHQDegradationDataset
from gfpgan.data.lmdb_util import create_lmdb
from gfpgan.losses import GANLoss, L1Loss, PerceptualLoss
from gfpgan.models.gfpgan_model import GFPGANModel
from gfpgan.restoration.face_helper import LandmarksDetector
from gfpgan.utils import GFPGANer

try:  # the original tests check the helper against facexlib's class
    from facexlib.utils.face_restoration_helper import FaceRestoreHelper
except ImportError:  # pragma: no cover - facexlib is optional here
    from gfpgan.restoration.face_helper import FaceRestoreHelper

SIZE = 64  # the original's tests/data faces are 512x512; 64 keeps the degradations and the model step fast
PARTS = ('left_eye', 'right_eye', 'mouth')
BOXES = {'left_eye': [200.0, 240.0, 20.0], 'right_eye': [310.0, 242.0, 22.0], 'mouth': [256.0, 370.0, 40.0]}
FFHQ_LANDMARKS = [[192.98, 239.95], [318.90, 240.19], [256.63, 314.02], [201.26, 371.41], [313.09, 371.15]]


def face_bgr(size, seed=0):
    """A face photo (skimage's astronaut, her face cropped) at ``size``, shifted per seed: uint8 BGR."""
    img = cv2.resize(skdata.astronaut()[20:220, 140:340], (size, size), interpolation=cv2.INTER_AREA)[:, :, ::-1]
    return np.ascontiguousarray(np.roll(img, 3 * seed, axis=1))


# --------------------------------------------------------------------------------- arcface (test_arcface_arch.py)
@pytest.mark.parametrize('use_se', [True, False])
def test_resnet_arcface(use_se):
    torch.manual_seed(0)
    net = ResNetArcFace(block='IRBlock', layers=(2, 2, 2, 2), use_se=use_se).eval()
    with torch.no_grad():
        out = net(torch.rand((1, 1, 128, 128)))
    assert out.shape == (1, 512)


@pytest.mark.parametrize('block', ['BasicBlock', 'Bottleneck'])
def test_resnet_arcface_with_each_block(block):
    """ResNetArcFace builds its stages from whichever block it is named."""
    torch.manual_seed(0)
    net = ResNetArcFace(block=block, layers=(1, 1, 1, 1), use_se=False).eval()
    with torch.no_grad():
        out = net(torch.rand((2, 1, 128, 128)))
    assert out.shape == (2, 512) and torch.isfinite(out).all()


def test_basic_block_and_bottleneck():
    # no downsample: the 1-channel identity is broadcast over the block's output channels, as in the original
    assert BasicBlock(1, 3, stride=1, downsample=None)(torch.rand((1, 1, 12, 12))).shape == (1, 3, 12, 12)
    assert Bottleneck(1, 1, stride=1, downsample=None)(torch.rand((1, 1, 12, 12))).shape == (1, 4, 12, 12)


# ------------------------------------------------------------------------- StyleGAN2 (test_stylegan2_clean_arch.py)
STYLE = 64  # the original uses 512 style features; the latent shapes below follow this number


def test_stylegan2_generator_clean():
    torch.manual_seed(0)
    net = StyleGAN2GeneratorClean(out_size=32, num_style_feat=STYLE, num_mlp=8, channel_multiplier=1, narrow=0.25)
    net.eval()
    style = torch.rand((1, STYLE))
    with torch.no_grad():
        out = net([style], input_is_latent=False)
        assert out[0].shape == (1, 3, 32, 32) and out[1] is None
        out = net([style], return_latents=True)
        assert out[0].shape == (1, 3, 32, 32) and len(out[1]) == 1 and out[1][0].shape == (8, STYLE)
        a, b = net([style], randomize_noise=False), net([style], randomize_noise=False)
        torch.testing.assert_close(a[0], b[0])  # fixed noise buffers: deterministic
        assert a[0].shape == (1, 3, 32, 32) and a[1] is None
        out = net([style, style], truncation=0.5, truncation_latent=style)  # style mixing with truncation
        assert out[0].shape == (1, 3, 32, 32) and out[1] is None


# ------------------------------------------------------------------------------- GFPGAN (test_gfpgan_arch.py)
NARROW = 0.25
COND = int(512 * NARROW)  # channels of the SFT conditions at 8, 16, 32 with channel_multiplier 1


def _conditions(sft_half):
    c = COND // 2 if sft_half else COND  # with sft_half the conditions modulate half of the channels
    c8, c16, c32 = (torch.rand((1, c, s, s)) for s in (8, 16, 32))
    return [c8, c8, c16, c16, c32, c32]


def _check_sft_generator(net):
    style = torch.rand((1, STYLE))
    conditions = _conditions(sft_half=False)
    with torch.no_grad():
        out = net([style], conditions)
        assert out[0].shape == (1, 3, 32, 32) and out[1] is None
        out = net([style], conditions, return_latents=True)
        assert out[0].shape == (1, 3, 32, 32) and len(out[1]) == 1 and out[1][0].shape == (8, STYLE)
        out = net([style], conditions, randomize_noise=False)
        assert out[0].shape == (1, 3, 32, 32) and out[1] is None
        out = net([style, style], conditions, truncation=0.5, truncation_latent=style)
        assert out[0].shape == (1, 3, 32, 32) and out[1] is None


def test_stylegan2_generator_sft():
    torch.manual_seed(0)
    _check_sft_generator(
        StyleGAN2GeneratorSFT(
            out_size=32,
            num_style_feat=STYLE,
            num_mlp=8,
            channel_multiplier=1,
            resample_kernel=(1, 3, 3, 1),
            lr_mlp=0.01,
            narrow=NARROW,
            sft_half=False).eval())


def test_stylegan2_generator_csft():
    torch.manual_seed(0)
    _check_sft_generator(
        StyleGAN2GeneratorCSFT(
            out_size=32, num_style_feat=STYLE, num_mlp=8, channel_multiplier=1, narrow=NARROW, sft_half=False).eval())


def _check_gfpgan(net):
    img = torch.rand((1, 3, 32, 32))
    with torch.no_grad():
        out = net(img)
        assert out[0].shape == (1, 3, 32, 32) and len(out[1]) == 3  # the restored face and the pyramid outputs
        assert [tuple(o.shape) for o in out[1]] == [(1, 3, 8, 8), (1, 3, 16, 16), (1, 3, 32, 32)]
        out = net(img, return_rgb=False)
        assert out[0].shape == (1, 3, 32, 32) and out[1] == []
        out = net(img, return_latents=True, randomize_noise=False)
        assert out[0].shape == (1, 3, 32, 32)


@pytest.mark.parametrize('different_w', [False, True])
def test_gfpganv1(different_w):
    torch.manual_seed(0)
    net = GFPGANv1(
        out_size=32,
        num_style_feat=STYLE,
        channel_multiplier=1,
        resample_kernel=(1, 3, 3, 1),
        decoder_load_path=None,
        fix_decoder=True,
        num_mlp=8,
        lr_mlp=0.01,
        input_is_latent=False,
        different_w=different_w,
        narrow=NARROW,
        sft_half=True).eval()
    _check_gfpgan(net)
    assert not any(p.requires_grad for p in net.stylegan_decoder.parameters())  # fix_decoder


@pytest.mark.parametrize('different_w', [False, True])
def test_gfpganv1_clean(different_w):
    torch.manual_seed(0)
    net = GFPGANv1Clean(
        out_size=32,
        num_style_feat=STYLE,
        channel_multiplier=1,
        decoder_load_path=None,
        fix_decoder=True,
        num_mlp=8,
        input_is_latent=False,
        different_w=different_w,
        narrow=NARROW,
        sft_half=True).eval()
    _check_gfpgan(net)


def test_facial_component_discriminator():
    torch.manual_seed(0)
    net = FacialComponentDiscriminator().eval()
    img = torch.rand((1, 3, 32, 32))
    with torch.no_grad():
        out = net(img)
        assert len(out) == 2 and out[0].shape == (1, 1, 8, 8) and out[1] is None
        out = net(img, return_feats=True)
    assert len(out) == 2 and out[0].shape == (1, 1, 8, 8) and len(out[1]) == 2
    assert out[1][0].shape == (1, 128, 16, 16) and out[1][1].shape == (1, 256, 8, 8)


def test_conv_up_layer_and_res_up_block():
    img = torch.rand((1, 3, 32, 32))
    assert ConvUpLayer(3, 3, 3, 1, 1)(img).shape == (1, 3, 64, 64)
    assert ConvUpLayer(3, 3, 3, 1, 1, bias=False, activate=False)(img).shape == (1, 3, 64, 64)
    assert ConvUpLayer(3, 5, 3, 1, 1, bias=True, activate=True)(img).shape == (1, 5, 64, 64)
    assert ResUpBlock(3, 3)(img).shape == (1, 3, 64, 64)
    assert ResUpBlock(3, 6)(img).shape == (1, 6, 64, 64)


# ------------------------------------------------------------ FFHQDegradationDataset (test_ffhq_degradation_dataset.py)
@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """gt/ with three faces named as the original's tests/data/gt (00000000.png, ...), the same faces in
    ffhq_gt.lmdb, and eye / mouth boxes (512 frame) for them in test_eye_mouth_landmarks.pth."""
    root = tmp_path_factory.mktemp('original_data')
    (root / 'gt').mkdir()
    for i in range(3):
        cv2.imwrite(str(root / 'gt' / f'{i:08d}.png'), face_bgr(SIZE, i))
    create_lmdb(str(root / 'gt'), str(root / 'ffhq_gt.lmdb'), progress=False)
    boxes = {f'{i:08d}': {part: [v + 4 * i for v in box] for part, box in BOXES.items()} for i in range(3)}
    save_component_boxes(boxes, root / 'test_eye_mouth_landmarks.pth')
    return root


DATASET_YAML = """\
name: UnitTest
type: FFHQDegradationDataset
dataroot_gt: {gt}
io_backend:
  type: disk

use_hflip: true
mean: [0.5, 0.5, 0.5]
std: [0.5, 0.5, 0.5]
out_size: {size}

blur_kernel_size: 41
kernel_list: ['iso', 'aniso']
kernel_prob: [0.5, 0.5]
blur_sigma: [0.1, 10]
downsample_range: [0.8, 8]
noise_range: [0, 20]
jpeg_range: [60, 100]

# color jitter and gray
color_jitter_prob: 1
color_jitter_shift: 20
color_jitter_pt_prob: 1
gray_prob: 1
"""


def dataset_options(data_root):
    """The options of the original's tests/data/test_ffhq_degradation_dataset.yml, read from a YAML file."""
    path = data_root / 'test_ffhq_degradation_dataset.yml'
    path.write_text(DATASET_YAML.format(gt=data_root / 'gt', size=SIZE))
    with open(path) as f:
        return yaml.safe_load(f)


def check_sample(sample, gt_path, components=False):
    keys = {'gt', 'lq', 'gt_path'} | ({f'loc_{p}' for p in PARTS} if components else set())
    assert keys <= set(sample)
    assert sample['gt'].shape == sample['lq'].shape == (3, SIZE, SIZE)
    for name in ('gt', 'lq'):
        assert sample[name].dtype == torch.float32
        assert -1 - 1e-5 <= sample[name].min() and sample[name].max() <= 1 + 1e-5  # normalised by mean, std 0.5
    assert sample['gt_path'] == gt_path
    if components:
        for part in PARTS:
            loc = sample[f'loc_{part}']
            assert loc.shape == (4, ) and loc.dtype == torch.float32
            assert 0 <= loc[0] < loc[2] <= SIZE and 0 <= loc[1] < loc[3] <= SIZE


def test_ffhq_degradation_dataset_disk_and_lmdb(data_root):
    opt = dataset_options(data_root)
    dataset = FFHQDegradationDataset(opt)
    assert dataset.io_backend_opt['type'] == 'disk' and len(dataset) == 3
    assert dataset.kernel_list == ['iso', 'aniso'] and dataset.kernel_prob == [0.5, 0.5]
    assert dataset.color_jitter_prob == 1 and dataset.gray_prob == 1 and dataset.crop_components is False
    assert dataset.gt_folder == str(data_root / 'gt') and dataset.paths[0] == str(data_root / 'gt' / '00000000.png')
    check_sample(dataset[0], str(data_root / 'gt' / '00000000.png'))

    # ------------------ with every probability 0 -------------------- #
    opt.update(color_jitter_prob=0, color_jitter_pt_prob=0, gray_prob=0, io_backend=dict(type='disk'))
    dataset = FFHQDegradationDataset(opt)
    assert dataset.io_backend_opt['type'] == 'disk' and len(dataset) == 3 and dataset.color_jitter_prob == 0
    check_sample(dataset[1], str(data_root / 'gt' / '00000001.png'))

    # ------------------ the lmdb backend -------------------- #
    opt.update(dataroot_gt=str(data_root / 'ffhq_gt.lmdb'), io_backend=dict(type='lmdb'))
    dataset = FFHQDegradationDataset(opt)
    assert dataset.io_backend_opt['type'] == 'lmdb' and len(dataset) == 3
    assert dataset.kernel_list == ['iso', 'aniso'] and dataset.color_jitter_prob == 0
    assert list(dataset.paths) == ['00000000', '00000001', '00000002']
    check_sample(dataset[0], '00000000')

    # ------------------ crop_components, gt_gray, lmdb -------------------- #
    opt.update(
        crop_components=True,
        component_path=str(data_root / 'test_eye_mouth_landmarks.pth'),
        eye_enlarge_ratio=1.4,
        gt_gray=True,
        gray_prob=1,
        io_backend=dict(type='lmdb'))
    dataset = FFHQDegradationDataset(opt)
    assert dataset.crop_components is True and dataset.eye_enlarge_ratio == 1.4
    sample = dataset[2]
    check_sample(sample, '00000002', components=True)
    for name in ('gt', 'lq'):  # gray_prob 1 and gt_gray: both gray, three equal channels
        torch.testing.assert_close(sample[name][0], sample[name][1])
        torch.testing.assert_close(sample[name][1], sample[name][2])


def test_ffhq_degradation_dataset_components_from_the_disk_folder(data_root):
    opt = dataset_options(data_root)
    opt.update(crop_components=True, component_path=str(data_root / 'test_eye_mouth_landmarks.pth'), gray_prob=0)
    dataset = FFHQDegradationDataset(opt)
    for index in range(len(dataset)):
        check_sample(dataset[index], str(data_root / 'gt' / f'{index:08d}.png'), components=True)


# ------------------------------------------------------------------------------ GFPGANModel (test_gfpgan_model.py)
MODEL_YAML = """\
num_gpu: 0  # the original's file says 1 (a GPU); these tests run on the CPU
manual_seed: 0
is_train: True
dist: False

# network structures
network_g:
  type: GFPGANv1
  out_size: {size}
  num_style_feat: 32
  channel_multiplier: 1
  resample_kernel: [1, 3, 3, 1]
  decoder_load_path: ~
  fix_decoder: true
  num_mlp: 2
  lr_mlp: 0.01
  input_is_latent: true
  different_w: true
  narrow: 0.125
  sft_half: true

network_d:
  type: StyleGAN2Discriminator
  out_size: {size}
  channel_multiplier: 1
  resample_kernel: [1, 3, 3, 1]
  narrow: 0.125

network_d_left_eye:
  type: FacialComponentDiscriminator

network_d_right_eye:
  type: FacialComponentDiscriminator

network_d_mouth:
  type: FacialComponentDiscriminator

network_identity:
  type: ResNetArcFace
  block: IRBlock
  layers: [1, 1, 1, 1]
  use_se: False

# path
path:
  pretrain_network_g: ~
  param_key_g: params_ema
  strict_load_g: true
  resume_state: ~
  pretrain_network_identity: ~
  models: {models}
  training_states: {states}
  visualization: {visualization}

# training settings
train:
  optim_g:
    type: Adam
    lr: !!float 2e-3
  optim_d:
    type: Adam
    lr: !!float 2e-3
  optim_component:
    type: Adam
    lr: !!float 2e-3

  scheduler:
    type: MultiStepLR
    milestones: [6000]
    gamma: 0.5

  total_iter: 6000
  warmup_iter: -1  # no warm up

  # losses
  # pixel loss
  pixel_opt:
    type: L1Loss
    loss_weight: !!float 1e-1
    reduction: mean
  # L1 loss used in pyramid loss, component style loss and identity loss
  L1_opt:
    type: L1Loss
    loss_weight: 1
    reduction: mean

  # image pyramid loss
  pyramid_loss_weight: !!float 1
  remove_pyramid_loss: 50000
  # perceptual loss (content and style losses); a VGG with random weights: no download
  perceptual_opt:
    type: PerceptualLoss
    layer_weights:
      'conv1_2': 0.1
      'conv2_2': 0.1
      'conv3_4': 1
      'conv4_4': 1
      'conv5_4': 1
    vgg_type: vgg19
    use_input_norm: true
    perceptual_weight: !!float 1
    style_weight: 50
    range_norm: true
    criterion: l1
    pretrained: false
  # gan loss
  gan_opt:
    type: GANLoss
    gan_type: wgan_softplus
    loss_weight: !!float 1e-1
  # r1 regularization for discriminator
  r1_reg_weight: 10
  # facial component loss
  gan_component_opt:
    type: GANLoss
    gan_type: vanilla
    real_label_val: 1.0
    fake_label_val: 0.0
    loss_weight: !!float 1
  comp_style_weight: 200
  # identity loss
  identity_weight: 10

  net_d_iters: 1
  net_d_init_iters: 0
  net_d_reg_every: 1

# validation settings
val:
  val_freq: !!float 5e3
  save_img: True
  use_pbar: True

  metrics:
    psnr: # metric name
      type: calculate_psnr
      crop_border: 0
      test_y_channel: false
"""

LOG_KEYS = {
    'l_g_pix', 'l_g_percep', 'l_g_style', 'l_g_gan', 'l_g_gan_left_eye', 'l_g_gan_right_eye', 'l_g_gan_mouth',
    'l_g_comp_style_loss', 'l_identity', 'l_d', 'real_score', 'fake_score', 'l_d_r1', 'l_d_left_eye',
    'l_d_right_eye', 'l_d_mouth'
}


def model_options(tmp_path):
    """The original's tests/data/test_gfpgan_model.yml at 64x64 with narrow networks, written and read back."""
    path = tmp_path / 'test_gfpgan_model.yml'
    path.write_text(
        MODEL_YAML.format(
            size=SIZE,
            models=tmp_path / 'models',
            states=tmp_path / 'training_states',
            visualization=tmp_path / 'visualization'))
    with open(path) as f:
        return yaml.safe_load(f)


def dataset_batch(data_root, batch_size=2):
    opt = dataset_options(data_root)
    opt.update(crop_components=True, component_path=str(data_root / 'test_eye_mouth_landmarks.pth'), gray_prob=0.5)
    dataset = FFHQDegradationDataset(opt)
    return next(iter(torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)))


def test_gfpgan_model_trains_and_saves(data_root, tmp_path):
    torch.manual_seed(0)
    model = GFPGANModel(model_options(tmp_path))
    assert model.__class__.__name__ == 'GFPGANModel' and model.is_train is True
    assert isinstance(model.net_g, GFPGANv1) and isinstance(model.net_g_ema, GFPGANv1)
    assert isinstance(model.net_d, StyleGAN2Discriminator)
    for part in PARTS:
        assert isinstance(getattr(model, f'net_d_{part}'), FacialComponentDiscriminator)
    assert isinstance(model.network_identity, ResNetArcFace)
    assert isinstance(model.cri_pix, L1Loss) and isinstance(model.cri_l1, L1Loss)
    assert isinstance(model.cri_perceptual, PerceptualLoss)
    assert isinstance(model.cri_gan, GANLoss) and isinstance(model.cri_component, GANLoss)
    assert isinstance(model.optimizer_g, torch.optim.Adam) and isinstance(model.optimizer_d, torch.optim.Adam)
    assert model.optimizers[0] is model.optimizer_g and model.optimizers[1] is model.optimizer_d
    assert all(isinstance(o, torch.optim.Adam) for o in model.optimizers) and len(model.optimizers) == 5
    assert all(isinstance(getattr(model, f'optimizer_d_{part}'), torch.optim.Adam) for part in PARTS)
    assert (model.log_size, model.r1_reg_weight, model.net_d_iters, model.net_d_init_iters) == (6, 10, 1, 0)
    assert model.net_d_reg_every == 1 and model.use_facial_disc is True

    data = dataset_batch(data_root)
    model.feed_data(data)
    assert model.lq.shape == model.gt.shape == (2, 3, SIZE, SIZE)
    for part in PARTS:
        assert getattr(model, f'loc_{part}s').shape == (2, 4)

    # ----------------- optimize_parameters: two steps -------------------- #
    model.optimize_parameters(1)
    assert model.output.shape == (2, 3, SIZE, SIZE)
    assert isinstance(model.log_dict, dict) and LOG_KEYS <= set(model.log_dict)
    assert {'l_p_8', 'l_p_16', 'l_p_32', 'l_p_64'} <= set(model.log_dict)  # the pyramid loss
    log = model.get_current_log()
    assert LOG_KEYS <= set(log) and all(np.isfinite(v) for v in log.values())

    model.feed_data(data)
    model.optimize_parameters(100000)  # past remove_pyramid_loss (50000): the pyramid loss weight drops to 1e-12
    assert model.output.shape == (2, 3, SIZE, SIZE)
    assert LOG_KEYS <= set(model.log_dict)
    assert all(abs(model.log_dict[f'l_p_{s}']) < 1e-9 for s in (8, 16, 32, 64))

    # ----------------- save -------------------- #
    model.save(0, 1)
    saved = sorted(os.listdir(tmp_path / 'models'))
    assert saved == ['net_d_1.pth', 'net_d_left_eye_1.pth', 'net_d_mouth_1.pth', 'net_d_right_eye_1.pth', 'net_g_1.pth']
    assert os.listdir(tmp_path / 'training_states') == ['1.state']
    g = torch.load(tmp_path / 'models' / 'net_g_1.pth', map_location='cpu', weights_only=True)
    assert {'params', 'params_ema'} <= set(g) and g['params'].keys() == model.net_g.state_dict().keys()
    state = torch.load(tmp_path / 'training_states' / '1.state', map_location='cpu', weights_only=True)
    assert state['epoch'] == 0 and state['iter'] == 1 and len(state['optimizers']) == 5

    # ----------------- test -------------------- #
    model.test()
    assert model.output.shape == (2, 3, SIZE, SIZE)
    model.__delattr__('net_g_ema')  # without the EMA copy test() uses net_g ...
    model.test()
    assert model.output.shape == (2, 3, SIZE, SIZE)
    assert model.net_g.training is True  # ... and puts it back in training mode


def test_gfpgan_model_with_the_original_random_batch(tmp_path):
    """The original test's own data: one random (lq, gt) pair and random boxes inside a pixel."""
    torch.manual_seed(0)
    model = GFPGANModel(model_options(tmp_path))
    data = dict(gt=torch.rand((1, 3, SIZE, SIZE)), lq=torch.rand((1, 3, SIZE, SIZE)))
    data.update({f'loc_{part}': torch.rand((1, 4)) for part in PARTS})
    model.feed_data(data)
    assert model.lq.shape == model.gt.shape == (1, 3, SIZE, SIZE)
    assert all(getattr(model, f'loc_{part}s').shape == (1, 4) for part in PARTS)
    model.optimize_parameters(1)
    assert model.output.shape == (1, 3, SIZE, SIZE) and LOG_KEYS <= set(model.log_dict)
    assert all(np.isfinite(v) for v in model.get_current_log().values())


def test_gfpgan_model_validation_writes_the_original_image_names(data_root, tmp_path):
    torch.manual_seed(0)
    model = GFPGANModel(model_options(tmp_path))
    dataset = PairedImageDataset(
        dict(
            name='Demo',
            dataroot_gt=str(data_root / 'gt'),
            dataroot_lq=str(data_root / 'gt'),
            io_backend=dict(type='disk'),
            scale=1,
            phase='val',
            mean=[0.5, 0.5, 0.5],
            std=[0.5, 0.5, 0.5]))
    dataloader = torch.utils.data.DataLoader(dataset=dataset, batch_size=1, shuffle=False, num_workers=0)
    names = [f'{i:08d}' for i in range(3)]
    visualization = tmp_path / 'visualization'

    model.validation(dataloader, 1, None, save_img=True)  # in training: <name>/<name>_<iter>.png
    assert model.is_train is True
    assert isinstance(model.metric_results['psnr'], float)
    for name in names:
        assert cv2.imread(str(visualization / name / f'{name}_1.png')).shape == (SIZE, SIZE, 3)

    model.opt['is_train'] = False  # outside training: <dataset>/<name>_<suffix>.png
    model.opt['val']['suffix'] = 'test'
    model.opt['val']['pbar'] = True
    model.nondist_validation(dataloader, 1, None, save_img=True)
    assert isinstance(model.metric_results['psnr'], float)
    assert sorted(os.listdir(visualization / 'Demo')) == [f'{name}_test.png' for name in names]

    model.opt['val']['suffix'] = None  # no suffix: the run's name
    model.opt['name'] = 'demo'
    model.nondist_validation(dataloader, 1, None, save_img=True)
    assert isinstance(model.metric_results['psnr'], float)
    assert {f'{name}_demo.png' for name in names} <= set(os.listdir(visualization / 'Demo'))


# ------------------------------------------------------------------------------------- GFPGANer (test_utils.py)
def release_file(tmp_path, arch, channel_multiplier):
    """A release-layout file ({'params_ema': state_dict}) of random weights for the release network of ``arch``."""
    net = (GFPGANv1Clean if arch == 'clean' else GFPGANv1)(
        out_size=512,
        num_style_feat=512,
        channel_multiplier=channel_multiplier,
        decoder_load_path=None,
        fix_decoder=False,
        num_mlp=8,
        input_is_latent=True,
        different_w=True,
        narrow=1,
        sft_half=True)
    path = tmp_path / f'{arch}.pth'
    torch.save({'params_ema': net.state_dict()}, path)
    return str(path)


def test_gfpganer(tmp_path):
    torch.manual_seed(0)
    # the clean model (GFPGANCleanv1-NoCE-C2.pth in the original's test)
    path = release_file(tmp_path, 'clean', 2)
    restorer = GFPGANer(model_path=path, upscale=2, arch='clean', channel_multiplier=2, bg_upsampler=None)
    assert isinstance(restorer.gfpgan, GFPGANv1Clean) and isinstance(restorer.face_helper, FaceRestoreHelper)
    del restorer
    os.remove(path)

    # the original model (GFPGANv1.pth); RetinaFace's weights are not available: the FFHQ template's landmarks
    # stand in for its detection, and no face parsing (its weights neither)
    path = release_file(tmp_path, 'original', 1)
    restorer = GFPGANer(
        model_path=path,
        upscale=2,
        arch='original',
        channel_multiplier=1,
        bg_upsampler=None,
        use_parse=False,
        detector=LandmarksDetector(FFHQ_LANDMARKS))
    assert isinstance(restorer.gfpgan, GFPGANv1) and isinstance(restorer.face_helper, FaceRestoreHelper)

    img = face_bgr(512)
    cropped_faces, restored_faces, restored_img = restorer.enhance(img, has_aligned=False, paste_back=True)
    assert len(cropped_faces) == len(restored_faces) == 1
    assert cropped_faces[0].shape == restored_faces[0].shape == (512, 512, 3)
    assert restored_img.shape == (1024, 1024, 3) and restored_img.dtype == np.uint8

    cropped_faces, restored_faces, restored_img = restorer.enhance(img, has_aligned=True, paste_back=False)
    assert cropped_faces[0].shape == restored_faces[0].shape == (512, 512, 3)
    assert restored_img is None
