"""scripts/demo.py end to end at a few iterations, offline (installed packages' faces only)."""
import json
import os

import cv2
from scriptload import load_script


def test_demo_builds_faces_trains_restores_and_reports(tmp_path, monkeypatch):
    monkeypatch.setenv('GFPGAN_CACHE', str(tmp_path / 'cache'))
    demo = load_script('demo')
    code = demo.main(['--iters', '2', '--copies', '2', '--no-download', '--faces', str(tmp_path / 'faces'),
                      '--workdir', str(tmp_path)])
    assert code == 0
    out = tmp_path / 'results' / 'demo_gfpgan_tiny'
    report = json.loads((out / 'metrics.json').read_text())
    assert set(report['metrics']) == {'degraded', 'restored'}
    assert report['held_out_samples'] == 2 * len(os.listdir(tmp_path / 'faces' / 'test'))
    for scores in report['metrics'].values():
        assert 0 < scores['psnr'] < 60 and -1 <= scores['ssim'] <= 1
    grid = cv2.imread(str(out / 'comparison.png'))
    assert grid.shape[1] == 3 * 64 * 3  # degraded | restored | original, enlarged 3x
    assert (tmp_path / 'experiments' / 'demo_gfpgan_tiny' / 'models' / 'net_g_latest.pth').exists()
