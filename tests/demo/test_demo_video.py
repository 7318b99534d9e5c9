"""The demo's video step (gfpgan.demo.video) with a tiny random network: the side-by-side video, its audio, the
still and the flicker entries; and the walkthrough's --no-video / no-PyAV paths."""
import json
import math

import cv2
import numpy as np
import pytest
import torch
import yaml

from gfpgan.demo import video, walkthrough

pytest.importorskip('av')


@pytest.fixture(scope='module')
def tiny_net():
    from gfpgan.archs import build_network
    from gfpgan.benchmark.video import set_noise_strength
    with open(walkthrough.TINY) as f:
        options = yaml.safe_load(f)
    torch.manual_seed(0)
    net = build_network(options['network_g']).eval()
    assert set_noise_strength(net, 0.1) > 0  # a random decoder's noise strengths are 0: fresh noise would not show
    return net


def test_video_step_writes_three_panels_with_audio_and_the_flicker_of_each(tmp_path, tiny_net):
    from gfpgan.benchmark.video import astronaut_face
    from gfpgan.video.io import VideoReader, probe
    face, landmarks = astronaut_face()
    entry = video.restore_demo_video(tiny_net, face, landmarks, 64, str(tmp_path), upscale=2, frames=12,
                                     size=(96, 80), still_frames=3)
    info = probe(tmp_path / video.VIDEO_FILE)
    panel_w, panel_h = 2 * 96, 2 * 80
    assert (info.width, info.height) == (3 * panel_w, panel_h + video.LABEL_HEIGHT)
    assert info.audio_streams == 1 and entry['audio_streams'] == 1  # the input clip's sine tone, copied
    with VideoReader(str(tmp_path / video.VIDEO_FILE)) as reader:
        decoded = [frame.image for frame in reader]
    assert len(decoded) == entry['frames'] == 12
    assert entry['panel_size'] == [panel_w, panel_h] and entry['clip_size'] == [96, 80]
    last = decoded[-1][video.LABEL_HEIGHT:].astype(int)
    inp, per_frame, stabilised = np.split(last, 3, axis=1)
    assert np.abs(per_frame - inp).mean() > 3 and np.abs(stabilised - inp).mean() > 3  # the faces were replaced
    assert np.abs(per_frame[-20:, :20] - inp[-20:, :20]).mean() < 8  # the same background, enlarged alike
    assert set(entry['flicker']) == {'input', 'per_frame', 'stabilised'}
    assert all(math.isfinite(v) and v > 0 for v in entry['flicker'].values())
    assert entry['flicker']['per_frame'] != entry['flicker']['stabilised'] and entry['flicker_pairs'] > 0
    still = cv2.imread(str(tmp_path / video.STILL_FILE))
    assert still.shape == (3 * (panel_h + video.LABEL_HEIGHT), 3 * panel_w, 3)
    assert json.loads(json.dumps(entry)) == entry  # goes into metrics.json as it is


def test_demo_clip_shows_the_face_at_the_model_scale_and_jitters_the_reported_landmarks():
    from gfpgan.benchmark.video import astronaut_face
    face, landmarks = astronaut_face()
    clip = video.demo_clip(face, landmarks, 64, frames=10, size=(96, 80), landmark_noise=1.5, seed=3)
    eyes = [np.linalg.norm(p[1] - p[0]) for p in clip.true_landmarks]
    assert 14 < min(eyes) and max(eyes) < 17.5  # the 64-pixel template's 15.7 px, +-6 % zoom
    jitter = np.concatenate([n - t for n, t in zip(clip.noisy_landmarks, clip.true_landmarks)])
    assert 1.0 < jitter.std() < 2.0
    again = video.demo_clip(face, landmarks, 64, frames=10, size=(96, 80), landmark_noise=1.5, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(clip.frames, again.frames))  # seeded, degradation included


def test_video_step_is_skipped_with_one_line_without_pyav(tmp_path, monkeypatch, capsys, tiny_net):
    (tmp_path / 'test').mkdir()
    cv2.imwrite(str(tmp_path / 'test' / 'a.png'), np.zeros((128, 128, 3), np.uint8))
    monkeypatch.setattr(video, 'video_available', lambda: False)
    assert walkthrough.video_step(tiny_net, str(tmp_path / 'test'), 64, str(tmp_path / 'out')) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == '   skipped: PyAV is not installed (pip install av)'
    assert not (tmp_path / 'out').exists()
