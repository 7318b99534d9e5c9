"""The demo (scripts/demo.py, gfpgan.demo.walkthrough) end to end at a few iterations on a face set made here (the
real one needs downloads)."""
import importlib.util
import json

import cv2
import numpy as np
from skimage import data as skdata

from gfpgan.data.components import ffhq_template_boxes, save_component_boxes
from gfpgan.demo import walkthrough


def test_demo_trains_restores_and_reports(tmp_path):
    faces = tmp_path / 'faces'
    face = cv2.resize(skdata.astronaut()[20:220, 140:340, ::-1], (128, 128), interpolation=cv2.INTER_AREA)
    for split, count in (('train', 8), ('test', 2)):
        (faces / split).mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(
                str(faces / split / f'{split}{i}.png'), np.roll(face, 5 * i + (50 if split == 'test' else 0), 1))
    save_component_boxes({f'{i:08d}': ffhq_template_boxes() for i in range(8)}, faces / 'components.pth')

    code = walkthrough.main(
        ['--iters', '2', '--copies', '2', '--faces',
         str(faces), '--workdir', str(tmp_path)])
    assert code == 0
    out = tmp_path / 'results' / 'demo_gfpgan_tiny'
    report = json.loads((out / 'metrics.json').read_text())
    assert set(report['metrics']) == {'degraded', 'restored'} and report['held_out_samples'] == 4
    for scores in report['metrics'].values():
        assert 0 < scores['psnr'] < 60 and -1 <= scores['ssim'] <= 1
    assert set(report['restored_beats_degraded']) == {'psnr', 'ssim'}
    grid = cv2.imread(str(out / 'comparison.png'))
    assert grid.shape == (4 * 64 * 3, 3 * 64 * 3, 3)  # rows: degraded | restored | original, enlarged 3x
    assert (tmp_path / 'experiments' / 'demo_gfpgan_tiny' / 'models' / 'net_g_latest.pth').exists()
    if importlib.util.find_spec('av') is not None:  # step 5: the side-by-side video of a held-out face
        assert report['video']['frames'] == 48 and (out / report['video']['file']).exists()
        assert set(report['video']['flicker']) == {'input', 'per_frame', 'stabilised'}


def test_restore_photo_shrinks_restores_and_pastes_back_the_whole_photo():
    import torch
    import yaml

    from gfpgan.archs import build_network
    demo = walkthrough
    with open(demo.TINY) as f:
        options = yaml.safe_load(f)
    torch.manual_seed(0)
    net = build_network(options['network_g']).eval()
    photo = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
    landmarks = np.array([[202.5, 101.0], [246.0, 104.0], [222.5, 126.0], [202.5, 141.0], [245.0, 142.5]])
    comparison, scale = demo.restore_photo(net, photo, landmarks, face_size=64)
    assert scale == 3  # eyes 43.6 px apart, the 64-pixel template's 15.7
    side = 512 - 512 % 3
    assert comparison.shape == (side, 3 * side, 3)
    degraded, restored, original = np.split(comparison.astype(int), 3, axis=1)
    assert np.array_equal(original, photo[:side, :side])
    face = (slice(60, 180), slice(170, 280))
    assert np.abs(restored[face] - degraded[face]).mean() > 5  # the face was replaced by the restorer's output
    corner = (slice(420, side), slice(0, 100))
    assert np.abs(restored[corner] - degraded[corner]).max() <= 2  # the background is the same enlargement


def test_bad_numbers_and_an_unwritable_workdir_are_found_before_training(tmp_path, capsys):
    from gfpgan.errors import run_cli
    (tmp_path / 'a_file').write_text('x')
    argv = ['--iters', '0', '--faces', str(tmp_path / 'faces'), '--workdir', str(tmp_path / 'a_file')]
    assert run_cli(walkthrough.main, argv) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert lines[0] == 'error: 2 problems; nothing was started:' and 'Traceback' not in err
    assert '--iters must be at least 1' in lines[1] and "--workdir: cannot write to '" in lines[2]
    assert not (tmp_path / 'faces').exists()
