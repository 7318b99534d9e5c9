"""The temporal-stability metrics: face flicker is ~0 for a static face, grows with per-frame noise in the face,
stays small under a smooth translation / rotation (motion compensation, both kinds), skips pairs across a cut or
without a face, and compares an upscaled output with its input; the consecutive identity angle is 0 for identical
faces and positive for different ones (random ArcFace)."""
import json
import math

import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan.benchmark.suites import ASTRONAUT_LANDMARKS
from gfpgan.errors import run_cli
from gfpgan.metrics.cli import evaluate_main
from gfpgan.metrics.identity_angle import IdentityAngle
from gfpgan.metrics.temporal import (aligned_faces, consecutive_identity_angle, face_flicker, face_region_mask,
                                     scale_affine, track_segments)

ASTRONAUT_5 = np.asarray(ASTRONAUT_LANDMARKS, np.float64)  # eyes, nose tip, mouth corners in the 512x512 photo
SIZE = (320, 240)  # clip frame (w, h)


@pytest.fixture(scope='module')
def photo():
    return np.ascontiguousarray(skdata.astronaut()[..., ::-1])


def clip(photo, path):
    """Frames of ``photo`` moved along ``path`` [(dx, dy, degrees)] (rotation about the face) and their landmarks."""
    frames, landmarks = [], []
    centre = tuple(ASTRONAUT_5.mean(0))
    for dx, dy, angle in path:
        matrix = cv2.getRotationMatrix2D(centre, angle, 1.0)
        matrix[:, 2] += (dx - 60, dy - 20)
        frames.append(cv2.warpAffine(photo, matrix, SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
        landmarks.append(ASTRONAUT_5 @ matrix[:, :2].T + matrix[:, 2])
    return frames, landmarks


def face_noise(frames, landmarks, sigma, seed=0):
    """Each frame with fresh Gaussian noise of ``sigma`` grey levels inside its face region only."""
    rng = np.random.default_rng(seed)
    noisy = []
    for frame, points in zip(frames, landmarks):
        mask, (x0, y0, x1, y1) = face_region_mask(frame.shape, points, erode=0.0)
        out = frame.astype(np.float64)
        out[y0:y1, x0:x1] += rng.normal(0, sigma, (y1 - y0, x1 - x0, 3)) * mask[..., None]
        noisy.append(np.clip(out, 0, 255).round().astype(np.uint8))
    return noisy


@pytest.mark.parametrize('motion', ['flow', 'landmarks'])
def test_static_face_has_no_flicker(photo, motion):
    frames, landmarks = clip(photo, [(0, 0, 0)] * 8)
    result = face_flicker(frames, landmarks, motion=motion)
    assert result.compared == 7 and result.skipped == 0
    assert result.mean < 1e-3


def test_flicker_grows_with_noise_in_the_face(photo):
    frames, landmarks = clip(photo, [(0, 0, 0)] * 8)
    means = [face_flicker(face_noise(frames, landmarks, sigma), landmarks).mean for sigma in (2, 4, 8)]
    assert 0.5 < means[0] < means[1] < means[2]
    # fresh noise of sigma s in each of two frames: |difference| of grey noise, ~ 0.67 s * sqrt(2) * 0.8 on average
    assert means[2] == pytest.approx(0.67 * 8 * math.sqrt(2) * math.sqrt(2 / math.pi), rel=0.2)


@pytest.mark.parametrize('motion', ['flow', 'landmarks'])
def test_smooth_motion_is_compensated(photo, motion):
    path = [(1.3 * t, 0.6 * t, 0.7 * t) for t in range(12)]  # translation and rotation, sub-pixel steps
    frames, landmarks = clip(photo, path)
    moving = face_flicker(frames, landmarks, motion=motion).mean
    still_landmarks = [landmarks[0]] * len(frames)  # the same region, motion taken as none
    uncompensated = face_flicker(frames, still_landmarks, motion='landmarks').mean
    noisy = face_flicker(face_noise(frames, landmarks, 8), landmarks, motion=motion).mean
    assert moving < 0.4 * uncompensated
    assert moving < 0.4 * noisy  # what is left is interpolation, well below a restorer's noise


def test_landmark_motion_ignores_detector_jitter_after_smoothing(photo):
    frames, landmarks = clip(photo, [(0, 0, 0)] * 16)
    rng = np.random.default_rng(1)
    jittered = [p + rng.normal(0, 0.5, p.shape) for p in landmarks]
    raw = face_flicker(frames, jittered, motion='landmarks', smooth_window=1).mean
    smoothed = face_flicker(frames, jittered, motion='landmarks', smooth_window=15).mean
    flow = face_flicker(frames, jittered, motion='flow').mean
    assert smoothed < 0.6 * raw
    assert flow < 1e-3  # the flow of the input video does not see the landmarks' jitter at all


def test_pairs_across_a_cut_or_without_a_face_are_skipped(photo):
    first, lm_first = clip(photo, [(0, 0, 0)] * 5)
    second, lm_second = clip(np.ascontiguousarray(photo[:, ::-1]), [(3, 2, 0)] * 5)
    frames, landmarks = first + second, lm_first + lm_second
    by_cut = face_flicker(frames, landmarks, cuts=[5], max_jump=100)
    assert by_cut.values[4] is None and by_cut.compared == 8 and by_cut.mean < 1e-3
    without_cut = face_flicker(frames, landmarks, max_jump=100)
    assert without_cut.values[4] > 5  # the cut pair would dominate the mean
    by_jump = face_flicker(frames, [p if t < 5 else p + 80 for t, p in enumerate(landmarks)])
    assert by_jump.values[4] is None  # the landmarks jumped farther than max_jump: another face or shot
    missing = list(landmarks)
    missing[2] = None
    result = face_flicker(frames, missing, cuts=[5])
    assert result.values[1] is None and result.values[2] is None and result.compared == 6
    assert track_segments(missing, cuts=[5]) == [(0, 2), (3, 5), (5, 10)]


def test_upscaled_output_is_compared_with_its_input(photo):
    path = [(1.3 * t, 0.6 * t, 0) for t in range(8)]
    frames, landmarks = clip(photo, path)
    rng = np.random.default_rng(2)
    big = [cv2.resize(f, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for f in frames]
    big_noisy = [np.clip(b + rng.normal(0, 8, b.shape), 0, 255).astype(np.uint8) for b in big]
    for motion in ('flow', 'landmarks'):
        plain = face_flicker(big, landmarks, reference_frames=frames, motion=motion).mean
        noisy = face_flicker(big_noisy, landmarks, reference_frames=frames, motion=motion).mean
        native = face_flicker(frames, landmarks, motion=motion).mean
        assert plain < 1.5 * native + 0.5 and noisy > 2 * plain
    with pytest.raises(ValueError, match='fewer frames'):
        face_flicker(big, landmarks, reference_frames=frames[:3])


def test_scale_affine_maps_pixel_centres():
    matrix = np.array([[1.0, 0, 2.5], [0, 1.0, -1.0]])
    big = scale_affine(matrix, 4)
    point = np.array([10.0, 7.0])
    moved = matrix[:, :2] @ point + matrix[:, 2]
    assert np.allclose(big[:, :2] @ (4 * (point + 0.5) - 0.5) + big[:, 2], 4 * (moved + 0.5) - 0.5)


@pytest.fixture(scope='module')
def random_identity():
    torch.manual_seed(0)
    return IdentityAngle(pretrained=False, device='cpu')


def test_consecutive_identity_angle(photo, random_identity):
    frames, landmarks = clip(photo, [(0, 0, 0)] * 4)
    faces = list(aligned_faces(frames, landmarks, size=128))
    same = consecutive_identity_angle(faces, random_identity)
    assert same.compared == 3 and same.mean < 1e-2
    other = cv2.resize(np.ascontiguousarray(skdata.chelsea()[..., ::-1]), (128, 128))
    mixed = consecutive_identity_angle([faces[0], other, faces[1], None, faces[2]], random_identity, batch_size=2)
    assert mixed.values[0] > 1 and mixed.values[1] > 1
    assert mixed.values[2] is None and mixed.values[3] is None and mixed.compared == 2


# ---------------------------------------------------------------------------------------- evaluate.py video


@pytest.fixture(scope='module')
def videos(tmp_path_factory):
    """in.mp4 (a face on a smooth path, 16 frames at 192x144), its 2x upscale (steady.mp4), the upscale with fresh
    noise on every frame (noisy.mp4), a shorter one, a half-size one, and the clip's landmarks as .npy."""
    pytest.importorskip('av')
    from gfpgan.benchmark.video import talking_head_clip
    from gfpgan.video.synthetic import write_clip
    folder = tmp_path_factory.mktemp('videos')
    clip = talking_head_clip(16, (192, 144), landmark_noise=0.5, span=0.5)
    rng = np.random.default_rng(0)
    big = [cv2.resize(f, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC) for f in clip.frames]
    noisy = [np.clip(b + rng.normal(0, 10, b.shape), 0, 255).astype(np.uint8) for b in big]
    paths = {name: str(folder / f'{name}.mp4') for name in ('in', 'steady', 'noisy', 'short', 'small')}
    write_clip(paths['in'], clip.frames, audio=None)
    write_clip(paths['steady'], big, audio=None)
    write_clip(paths['noisy'], noisy, audio=None)
    write_clip(paths['short'], big[:10], audio=None)
    write_clip(paths['small'], [cv2.resize(f, (128, 72)) for f in clip.frames], audio=None)
    paths['landmarks'] = str(folder / 'landmarks.npy')
    np.save(paths['landmarks'], np.stack(clip.noisy_landmarks))
    return paths


def evaluate_video(*args):
    lines = []
    from gfpgan.metrics.video_cli import video_evaluate_main
    code = video_evaluate_main(['--no-progress', *args], log=lines.append)
    return code, '\n'.join(lines)


def test_evaluate_video_measures_added_flicker(videos, tmp_path):
    report = tmp_path / 'steady.json'
    code, text = evaluate_video('--input', videos['in'], '--restored', videos['steady'], '--landmarks',
                                videos['landmarks'], '--allow_random_identity', '--json', str(report))
    steady = json.loads(report.read_text())
    assert code == 0 and 'face flicker' in text and 'RANDOM ArcFace' in text
    assert steady['frames'] == 16 and steady['scale'] == 2 and steady['flicker_input']['pairs'] == 15
    assert 0.9 < steady['flicker_ratio'] < 1.1  # an upscale adds no flicker (the input is measured upscaled)
    assert steady['identity_restored']['pairs'] == 15 and steady['identity_restored']['mean'] >= 0
    code, text = evaluate_video('--input', videos['in'], '--restored', videos['noisy'], '--landmarks',
                                videos['landmarks'], '--json', str(tmp_path / 'noisy.json'))
    noisy = json.loads((tmp_path / 'noisy.json').read_text())
    assert noisy['flicker_ratio'] > 1.5 * steady['flicker_ratio']
    assert noisy['flicker_input']['mean'] == pytest.approx(steady['flicker_input']['mean'], rel=1e-6)
    assert 'identity_restored' not in noisy and 'identity angle skipped' in text


def test_evaluate_video_tracks_faces_with_a_detector(videos):
    code, text = evaluate_video('--input', videos['in'], '--restored', videos['steady'], '--landmarks', 'auto')
    assert code == 0 and '1 face track(s)' in text
    ratio = float(text.split('ratio restored / input |')[1].split('|')[0])
    assert 0.9 < ratio < 1.1


def test_evaluate_video_bad_inputs_are_one_sentence_each(videos, tmp_path, capsys):
    not_video = tmp_path / 'notes.mp4'
    not_video.write_text('not a video')
    cases = [
        (['--restored', str(not_video)], 'is not a video FFmpeg can read'),
        (['--restored', videos['short']], 'The input has 16 frames and the restored video 10'),
        (['--restored', videos['small']], 'not the input frames (192x144) times one scale factor'),
        (['--restored', videos['in']], 'are the same file'),
        (['--restored', videos['steady'], '--landmarks', str(not_video)], 'is not a landmarks file'),
    ]
    for args, message in cases:
        code = run_cli(evaluate_main, ['video', '--input', videos['in'], *args])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.count('error:') == 1, err


def test_evaluate_video_never_compares_across_a_shot_cut(tmp_path):
    pytest.importorskip('av')
    from gfpgan.benchmark.video import astronaut_face
    from gfpgan.video.synthetic import moving_face_clip, write_clip
    face, landmarks = astronaut_face()
    clip = moving_face_clip(face, landmarks, frames=16, size=(192, 144), path='pan', cut_at=8)
    write_clip(str(tmp_path / 'in.mp4'), clip.frames, audio=None)
    write_clip(str(tmp_path / 'out.mp4'), [cv2.resize(f, (384, 288), interpolation=cv2.INTER_CUBIC)
                                           for f in clip.frames], audio=None)
    code, text = evaluate_video('--input', str(tmp_path / 'in.mp4'), '--restored', str(tmp_path / 'out.mp4'),
                                '--json', str(tmp_path / 'cut.json'))
    summary = json.loads((tmp_path / 'cut.json').read_text())
    assert code == 0 and summary['cuts'] == [8] and '1 shot cut(s)' in text
    tracks = list(summary['tracks'].values())
    assert len(tracks) == 2 and [t['flicker_input']['pairs'] for t in tracks] == [7, 7]  # pair (7, 8) is left out
    assert summary['flicker_input']['pairs'] == 14 and 0.9 < summary['flicker_ratio'] < 1.1
