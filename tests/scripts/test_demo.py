"""scripts/demo.py end to end at a few iterations on a face set made here (the real one needs downloads)."""
import json

import cv2
import numpy as np
from scriptload import load_script
from skimage import data as skdata

from gfpgan.data.components import ffhq_template_boxes, save_component_boxes


def test_demo_trains_restores_and_reports(tmp_path):
    faces = tmp_path / 'faces'
    face = cv2.resize(skdata.astronaut()[20:220, 140:340, ::-1], (128, 128), interpolation=cv2.INTER_AREA)
    for split, count in (('train', 8), ('test', 2)):
        (faces / split).mkdir(parents=True)
        for i in range(count):
            cv2.imwrite(
                str(faces / split / f'{split}{i}.png'), np.roll(face, 5 * i + (50 if split == 'test' else 0), 1))
    save_component_boxes({f'{i:08d}': ffhq_template_boxes() for i in range(8)}, faces / 'components.pth')

    code = load_script('demo').main(
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
