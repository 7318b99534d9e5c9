"""The option files in options/ load and validate; the official train_gfpgan_v1.yml, with only its data and
pretrained-file paths changed, builds its datasets and GFPGANModel and runs a training iteration at 512."""
import os

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan.archs import ResNetArcFace, StyleGAN2Generator
from gfpgan.data import build_dataset
from gfpgan.data.components import save_component_boxes
from gfpgan.models import build_model
from gfpgan.config.validation import load_options

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTIONS = os.path.join(ROOT, 'options')


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """512x512 faces (train folder + a validation pair), component boxes, a StyleGAN2 decoder and an ArcFace file
    with random weights, and stand-ins for the files only checked for existence."""
    root = tmp_path_factory.mktemp('v1')
    face = cv2.resize(skdata.astronaut()[:, :, ::-1], (512, 512), interpolation=cv2.INTER_AREA)
    for folder in ('train', 'val_lq', 'val_gt'):
        (root / folder).mkdir()
    for i in range(2):
        cv2.imwrite(str(root / 'train' / f'{i:05d}.png'), np.roll(face, 40 * i, axis=1))
    cv2.imwrite(str(root / 'val_lq' / 'a.png'), cv2.GaussianBlur(face, (9, 9), 3))
    cv2.imwrite(str(root / 'val_gt' / 'a.png'), face)
    box = {'left_eye': [195., 240., 24.], 'right_eye': [318., 239., 24.], 'mouth': [257., 379., 55.]}
    save_component_boxes({f'{i:08d}': box for i in range(2)}, root / 'components.pth')
    torch.manual_seed(0)
    decoder = StyleGAN2Generator(out_size=512, num_style_feat=512, num_mlp=8, channel_multiplier=1)
    torch.save({'params_ema': decoder.state_dict()}, root / 'decoder.pth')
    torch.save(ResNetArcFace('IRBlock', [2, 2, 2, 2], use_se=False).state_dict(), root / 'arcface.pth')
    (root / 'stand_in.pth').write_bytes(b'only its existence is checked here')
    return root


def path_overrides(files, *extra):
    return [
        f'datasets:train:dataroot_gt={files / "train"}', f'datasets:train:component_path={files / "components.pth"}',
        f'datasets:val:dataroot_lq={files / "val_lq"}', f'datasets:val:dataroot_gt={files / "val_gt"}',
        f'network_g:decoder_load_path={files / "decoder.pth"}',
        f'path:pretrain_network_identity={files / "arcface.pth"}', 'train:perceptual_opt:pretrained=false', *extra
    ]


def test_official_v1_options_build_and_train_one_iteration(files, tmp_path):
    overrides = path_overrides(files, 'datasets:train:batch_size_per_gpu=1', 'num_gpu=0')
    opt = load_options(os.path.join(OPTIONS, 'train_gfpgan_v1.yml'), overrides, root_path=str(tmp_path))
    train_set = build_dataset(opt['datasets']['train'])
    val_set = build_dataset(opt['datasets']['val'])
    assert len(train_set) == 2 and len(val_set) == 1
    sample = train_set[0]
    model = build_model(opt)
    assert model.use_facial_disc and model.use_identity and (model.eye_size, model.mouth_size) == (80, 120)
    batch = {k: v.unsqueeze(0) if torch.is_tensor(v) else [v] for k, v in sample.items()}
    model.feed_data(batch)
    model.optimize_parameters(current_iter=1)
    log = model.get_current_log()
    assert {'l_g_pix', 'l_p_512', 'l_g_percep', 'l_g_style', 'l_g_gan', 'l_g_gan_mouth', 'l_identity',
            'l_d'} <= set(log)
    assert all(np.isfinite(v) for v in log.values())


@pytest.mark.parametrize('name', ['train_gfpgan_v1_simple.yml', 'finetune_gfpgan_v1.4.yml', 'train_gfpgan_tiny.yml'])
def test_other_option_files_validate(files, tmp_path, name):
    overrides = {
        'train_gfpgan_v1_simple.yml': [
            f'datasets:train:dataroot_gt={files / "train"}', f'datasets:val:dataroot_lq={files / "val_lq"}',
            f'datasets:val:dataroot_gt={files / "val_gt"}', f'network_g:decoder_load_path={files / "decoder.pth"}',
            'train:perceptual_opt:pretrained=false'
        ],
        'finetune_gfpgan_v1.4.yml': [
            f'datasets:train:dataroot_gt={files / "train"}',
            f'datasets:train:component_path={files / "components.pth"}', f'datasets:val:dataroot_lq={files / "val_lq"}',
            f'datasets:val:dataroot_gt={files / "val_gt"}', f'path:pretrain_network_g={files / "stand_in.pth"}',
            f'path:pretrain_network_identity={files / "arcface.pth"}', 'train:perceptual_opt:pretrained=false'
        ],
        'train_gfpgan_tiny.yml':
        [f'datasets:train:dataroot_gt={files / "train"}', f'datasets:train:component_path={files / "components.pth"}'],
    }[name]
    opt = load_options(os.path.join(OPTIONS, name), overrides, root_path=str(tmp_path))
    assert opt['model_type'] == 'GFPGANModel'
    simple = 'simple' in name
    assert ('network_d_mouth' in opt) != simple
    assert ('network_identity' in opt) == (name.startswith('finetune'))
    if name.startswith('finetune'):
        assert opt['network_g']['type'] == 'GFPGANv1Clean' and opt['network_g']['channel_multiplier'] == 2
        assert opt['path'].get('pretrain_network_d') is None  # fresh discriminators
