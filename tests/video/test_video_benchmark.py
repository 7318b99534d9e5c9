"""scripts/benchmark_video.py at tiny sizes (--quick): the whole code path (clip, per-frame and stabilised restoration,
flicker and identity angle, targets, CPU throughput, JSON, Markdown and the picture) in seconds; and its parts."""
import contextlib
import io
import json
import math

import cv2
import numpy as np
import pytest
import torch

pytest.importorskip('av')

from gfpgan.benchmark.video import (ClipDetector, build_video_restorer, evaluate_targets, main,  # noqa: E402
                                    set_noise_strength, talking_head_clip)
from gfpgan.errors import run_cli  # noqa: E402


@pytest.fixture(scope='module')
def quick_run(tmp_path_factory):
    """One --quick run with every output: (folder, printed text)."""
    folder = tmp_path_factory.mktemp('video_bench')
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        assert main(['--quick', '--no_cuda', '--output', str(folder / 'bench.json'), '--markdown',
                     str(folder / 'bench.md'), '--picture', str(folder / 'stability.png')]) == 0
    return folder, printed.getvalue()


def test_quick_benchmark_writes_every_figure(quick_run):
    folder, printed = quick_run
    md = folder / 'bench.md'
    report = json.loads((folder / 'bench.json').read_text())
    stability = report['stability']
    for case in ('input', 'per_frame', 'stabilised'):
        assert stability[case]['pairs'] == 11 and math.isfinite(stability[case]['flicker'])
        assert stability[case]['identity'] >= 0
        values = stability[case]['values']  # per pair: what the mean and the picture's chart come from
        assert len(values) == 11 and stability[case]['flicker'] == pytest.approx(np.mean(values))
    assert stability['per_frame']['flicker'] > stability['input']['flicker']  # a random restorer adds flicker
    assert [t['target'] for t in report['targets']] == ['flicker_vs_input', 'flicker_gain', 'identity_gain',
                                                        'cuda_720p_fps']
    assert report['targets'][-1]['status'] == 'n/a'  # no CUDA row
    assert {t['status'] for t in report['targets'][:3]} <= {'pass', 'fail'}
    memory, files = report['throughput']
    assert memory['path'] == 'frames in memory' and files['path'].startswith('file to file')
    for row in (memory, files):
        assert row['device'] == 'cpu' and row['frames'] == 3 and row['fps'] > 0
    assert 'RANDOM ArcFace' in report['identity_network']
    assert 'stabilised flicker / input flicker <= 1.1' in printed and md.read_text().strip() in printed


def test_picture_shows_three_rows_of_faces_and_the_flicker_chart(quick_run):
    from gfpgan.benchmark.video_picture import (CASES, CHART_HEIGHT, CHART_MARGINS, HEADER_HEIGHT, LABEL_WIDTH, TILE,
                                                TITLE_HEIGHT)
    folder, printed = quick_run
    stability = json.loads((folder / 'bench.json').read_text())['stability']
    image = cv2.imread(str(folder / 'stability.png'))
    assert image is not None and image.shape == (TITLE_HEIGHT + HEADER_HEIGHT + 3 * TILE[1] + CHART_HEIGHT,
                                                 LABEL_WIDTH + 8 * TILE[0], 3)  # 8 of the 12 frames
    assert image.shape[1] <= 1200 and f"wrote {folder / 'stability.png'}" in printed
    top = TITLE_HEIGHT + HEADER_HEIGHT
    rows = [image[top + r * TILE[1]:top + (r + 1) * TILE[1], LABEL_WIDTH:].astype(np.float32) for r in range(3)]
    for row in rows:  # faces in every tile, not the dark background
        tiles = row.reshape(TILE[1], 8, TILE[0], 3)
        assert (tiles.std(axis=(0, 2, 3)) > 10).all()
    assert np.abs(rows[1] - rows[2]).mean() > 1  # the two restorations differ
    left, right, top, bottom = CHART_MARGINS
    chart = image[-CHART_HEIGHT + top:-bottom, left:-right].astype(np.int32)  # the plot area

    def line_height(colour):  # mean row of the pixels drawn in a case's colour (lower row: higher flicker)
        hits = np.nonzero((np.abs(chart - colour).max(axis=2) < 12))[0]
        assert hits.size > 20
        return hits.mean()

    heights = {key: line_height(colour) for key, _, colour in CASES}
    mean = {key: stability[key]['flicker'] for key in heights}
    for a, b in (('per_frame', 'input'), ('per_frame', 'stabilised')):
        if abs(mean[a] - mean[b]) > 2:  # the higher flicker is drawn higher up
            assert (heights[a] < heights[b]) == (mean[a] > mean[b])


def test_targets_pass_and_fail_by_the_issue_thresholds():
    good = {'input': {'flicker': 2.0}, 'per_frame': {'flicker': 6.5, 'identity': 4.0},
            'stabilised': {'flicker': 2.1, 'identity': 1.9}}
    rows = {r['target']: r for r in evaluate_targets(good, [{'fps': 30.0}])}
    assert [rows[k]['status'] for k in rows] == ['pass'] * 4
    assert rows['flicker_gain']['value'] == pytest.approx(6.5 / 2.1)
    bad = {'input': {'flicker': 2.0}, 'per_frame': {'flicker': 6.0, 'identity': 3.0},
           'stabilised': {'flicker': 2.3, 'identity': 2.0}}
    rows = {r['target']: r for r in evaluate_targets(bad, [{'fps': 20.0}])}
    assert [rows[k]['status'] for k in rows] == ['fail'] * 4


def test_clip_detector_and_fresh_noise():
    clip = talking_head_clip(4, (96, 72), landmark_noise=1.0)
    detector = ClipDetector(clip.frames, clip.noisy_landmarks)
    (face, ) = detector.detect(clip.frames[2].copy())
    assert np.allclose(face['landmarks'], clip.noisy_landmarks[2])
    assert detector.detect(np.zeros_like(clip.frames[0])) == []
    in_order = ClipDetector(clip.frames, clip.noisy_landmarks, in_order=True)
    for k in range(2):  # frames it cannot recognise (decoded copies) are taken in order
        (face, ) = in_order.detect(np.zeros_like(clip.frames[0]))
        assert np.allclose(face['landmarks'], clip.noisy_landmarks[k])
    restorer, what = build_video_restorer(detector, face_size=32, upscale=1)
    assert 'random' in what
    crop = np.ascontiguousarray(clip.frames[0][:32, :32])
    torch.manual_seed(1)
    fresh = [restorer.restore_faces([crop], randomize_noise=True)[0] for _ in range(2)]
    fixed = [restorer.restore_faces([crop], randomize_noise=False)[0] for _ in range(2)]
    assert np.array_equal(fixed[0], fixed[1]) and not np.array_equal(fresh[0], fresh[1])
    assert set_noise_strength(restorer.gfpgan, 0.0) > 0
    silent = [restorer.restore_faces([crop], randomize_noise=True)[0] for _ in range(2)]
    assert np.array_equal(silent[0], silent[1])  # strength 0: fresh noise changes nothing


def test_bad_options_are_reported_before_any_work(tmp_path, capsys):
    code = run_cli(main, ['--frames', '4', '--span', '2', '--output', str(tmp_path), '--picture', 'faces.gif'])
    err = capsys.readouterr().err
    assert code == 2 and '--frames must be at least 8' in err and '--span must lie in (0, 1]' in err
    assert "--picture: 'faces.gif' must end in .jpg, .jpeg or .png." in err
    assert 'is a folder; give a file name' in err


def test_restorer_in_reduced_precision_restores_a_frame():
    """The throughput cases' precision path (bfloat16 autocast here; float16 needs CUDA)."""
    from gfpgan.benchmark.video import _restore
    from gfpgan.video.pipeline import StabilityOptions
    clip = talking_head_clip(3, (96, 72))
    restorer, _ = build_video_restorer(ClipDetector(clip.frames, clip.noisy_landmarks), face_size=32,
                                       dtype=torch.bfloat16, batch_size=2)
    assert restorer.dtype == torch.bfloat16 and restorer.batch_size == 2
    restored = _restore(restorer, clip.frames, StabilityOptions())
    assert len(restored) == 3 and restored[0].shape == (144, 192, 3) and restored[0].dtype == np.uint8
