"""Restoring with a model trained here: its checkpoint carries the network options it was trained with, so GFPGANer,
the inference command line and the checkpoint evaluation build that network (at its own face size) by themselves;
--opt builds the network_g of a training YAML instead; release-layout files load as before."""
import os

import cv2
import pytest
import torch
from skimage import data as skdata

from gfpgan import GFPGANer
from gfpgan.archs import build_network
from gfpgan.archs.presets import generator_options, training_network_options
from gfpgan.metrics.checkpoint_test import build_generator
from gfpgan.restoration import cli
from gfpgan.utils.checkpoint import (NETWORK_OPTIONS_KEY, CheckpointError, extract_state_dict, load_checkpoint_file,
                                     save_network)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = os.path.join(ROOT, 'options', 'train_gfpgan_tiny.yml')


def astronaut_face(size):
    """The astronaut's face, roughly aligned, as a (size, size, 3) BGR uint8 photo."""
    return cv2.resize(skdata.astronaut()[0:300, 100:400, ::-1], (size, size), interpolation=cv2.INTER_AREA)


@pytest.fixture(scope='module')
def tiny_options():
    """The network_g of the tiny training config: a 64x64 narrow GFPGANv1."""
    return training_network_options(TINY)


@pytest.fixture
def own_model(tmp_path, tiny_options):
    """net_g_latest.pth as training writes it: {params, params_ema, network_options}."""
    torch.manual_seed(0)
    net, ema = build_network(dict(tiny_options)), build_network(dict(tiny_options))
    path = tmp_path / 'net_g_latest.pth'
    save_network(net, path, param_key='params', ema_net=ema, options=tiny_options)
    return path


@pytest.fixture
def release_layout(tmp_path, tiny_options):
    """The same network saved without its options, as the release files are: {params_ema} only."""
    torch.manual_seed(0)
    path = tmp_path / 'tiny_release_layout.pth'
    torch.save({'params_ema': build_network(dict(tiny_options)).state_dict()}, path)
    return path


def test_the_checkpoint_carries_plain_options_beside_the_official_keys(own_model, tiny_options):
    obj = torch.load(own_model, map_location='cpu', weights_only=True)
    assert set(obj) == {'params', 'params_ema', NETWORK_OPTIONS_KEY}
    assert obj[NETWORK_OPTIONS_KEY] == tiny_options  # plain values: weights_only loads them
    assert list(extract_state_dict(obj)) == list(obj['params_ema'])  # the loaders ignore the new key
    assert generator_options(obj)['type'] == 'GFPGANv1' and generator_options(obj)['out_size'] == 64


def test_gfpganer_builds_the_carried_network_and_restores_aligned_faces(own_model):
    restorer = GFPGANer(model_path=own_model, device='cpu', use_parse=False)
    assert type(restorer.gfpgan).__name__ == 'GFPGANv1' and restorer.face_size == 64
    cropped, restored, whole = restorer.enhance(astronaut_face(200), has_aligned=True)
    assert whole is None and cropped[0].shape == restored[0].shape == (64, 64, 3) and restored[0].std() > 0


def test_a_whole_photo_is_aligned_at_64_and_pasted_back(own_model, centre_face):
    restorer = GFPGANer(model_path=own_model, upscale=2, device='cpu', detector=centre_face, det_model=None,
                        use_parse=False)
    cropped, restored, whole = restorer.enhance(astronaut_face(128))
    assert cropped[0].shape == restored[0].shape == (64, 64, 3)
    assert whole.shape == (256, 256, 3)


def test_a_forced_release_architecture_names_the_saved_network(own_model):
    with pytest.raises(CheckpointError, match='saved from a GFPGANv1 of out_size 64'):
        GFPGANer(model_path=own_model, arch='original', channel_multiplier=1, device='cpu', use_parse=False)


def test_opt_builds_the_network_g_of_a_training_yaml(release_layout):
    restorer = GFPGANer(model_path=release_layout, opt=TINY, device='cpu', use_parse=False)
    assert restorer.face_size == 64
    assert restorer.enhance(astronaut_face(64), has_aligned=True)[1][0].shape == (64, 64, 3)


def test_checkpoint_evaluation_shares_the_home(own_model, release_layout):
    net, size = build_generator(own_model)
    assert type(net).__name__ == 'GFPGANv1' and size == 64
    assert build_generator(release_layout, opt=TINY)[1] == 64


def _aligned_folder(tmp_path):
    faces = tmp_path / 'faces'
    faces.mkdir()
    cv2.imwrite(str(faces / 'one.png'), astronaut_face(64))
    return faces


@pytest.mark.parametrize('route', ['carried', 'opt'])
def test_the_command_line_restores_with_an_own_model(tmp_path, own_model, release_layout, route, capsys):
    out = tmp_path / 'out'
    model = own_model if route == 'carried' else release_layout
    extra = ['--opt', TINY] if route == 'opt' else []
    argv = ['-i', str(_aligned_folder(tmp_path)), '-o', str(out), '--model_path', str(model), '--aligned',
            '--bg_upsampler', 'none', '--device', 'cpu', '--no_progress'] + extra
    assert cli.main(argv) == 0
    assert '1 photo(s), 1 face(s) restored' in capsys.readouterr().out
    assert cv2.imread(str(out / 'restored_faces' / 'one_00.png')).shape == (64, 64, 3)


def test_an_opt_without_network_g_is_one_sentence_of_the_preflight(tmp_path, own_model, capsys):
    bad = tmp_path / 'bad.yml'
    bad.write_text('name: no_network\n')
    argv = ['-i', str(_aligned_folder(tmp_path)), '-o', str(tmp_path / 'out'), '--model_path', str(own_model),
            '--opt', str(bad), '--aligned', '--bg_upsampler', 'none', '--device', 'cpu', '--no_progress']
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert '--opt' in err and 'no network_g section' in err and 'bad.yml' in err and 'Traceback' not in err


def test_a_checkpoint_saved_by_training_restores_without_a_key_mismatch(tmp_path):
    """GFPGANModel.save (what training calls) -> net_g_1.pth -> GFPGANer builds the trained 64x64 network."""
    import copy
    import json

    from refdata import TRAIN_STEP_REFERENCE

    from gfpgan.models.gfpgan_model import GFPGANModel
    with open(TRAIN_STEP_REFERENCE) as f:
        opt = copy.deepcopy(json.load(f)['options'])
    opt['train']['perceptual_opt']['pretrained'] = False
    opt['path'] = {'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'training_states')}
    torch.manual_seed(0)
    GFPGANModel(opt).save(epoch=0, current_iter=1)
    restorer = GFPGANer(model_path=tmp_path / 'models' / 'net_g_1.pth', device='cpu', use_parse=False)
    assert type(restorer.gfpgan).__name__ == opt['network_g']['type'] and restorer.face_size == 64
    assert restorer.enhance(astronaut_face(64), has_aligned=True)[1][0].shape == (64, 64, 3)


def test_train_two_iterations_then_restore_with_the_command_line(tmp_path, capsys):
    """train.py on the tiny config (narrowed further by --force_yml, so the YAML alone no longer describes the
    network) for 2 iterations, then inference on its net_g_latest.pth with no architecture given."""
    import subprocess
    import sys

    import numpy as np
    from test_train import TRAIN, overrides

    from gfpgan.data.components import save_component_boxes
    face_set = tmp_path / 'set'
    (face_set / 'train').mkdir(parents=True)
    for i in range(4):
        cv2.imwrite(str(face_set / 'train' / f'{i:03d}.png'), np.roll(astronaut_face(64), 3 * i, axis=1))
    box = {'left_eye': [200., 240., 20.], 'right_eye': [310., 240., 20.], 'mouth': [256., 370., 40.]}
    save_component_boxes({f'{i:08d}': box for i in range(4)}, face_set / 'components.pth')
    proc = subprocess.run(
        [sys.executable, TRAIN, '-opt', TINY, '--force_yml', *overrides(face_set, 'train:total_iter=2')],
        cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    model = tmp_path / 'experiments' / 'train_gfpgan_tiny' / 'models' / 'net_g_latest.pth'
    carried = load_checkpoint_file(model)[NETWORK_OPTIONS_KEY]
    assert carried['narrow'] == 0.125 and carried['num_style_feat'] == 32  # the options trained, overrides included
    out = tmp_path / 'out'
    argv = ['-i', str(_aligned_folder(tmp_path)), '-o', str(out), '--model_path', str(model), '--aligned',
            '--bg_upsampler', 'none', '--device', 'cpu', '--no_progress']
    assert cli.main(argv) == 0
    assert cv2.imread(str(out / 'restored_faces' / 'one_00.png')).shape == (64, 64, 3)
