"""The made-up clips: the face follows its path, landmarks are where the face is, noise as asked, cuts, entering and
leaving; write_clip's tone, subtitles and timestamps."""
import cv2
import numpy as np
import pytest

av = pytest.importorskip('av')

from gfpgan.video.io import VideoReader, probe  # noqa: E402
from gfpgan.video.synthetic import SINE_HZ, make_background, moving_face_clip, write_clip  # noqa: E402


def test_clip_is_deterministic_and_landmarks_follow_the_face(astronaut_face):
    face, landmarks = astronaut_face
    clip = moving_face_clip(face, landmarks, frames=16, size=(160, 120), landmark_noise=1.5, seed=3)
    again = moving_face_clip(face, landmarks, frames=16, size=(160, 120), landmark_noise=1.5, seed=3)
    assert len(clip) == 16 and clip.frames[0].shape == (120, 160, 3) and clip.frames[0].dtype == np.uint8
    assert all(np.array_equal(a, b) for a, b in zip(clip.frames, again.frames))
    assert all(np.array_equal(a, b) for a, b in zip(clip.noisy_landmarks, again.noisy_landmarks))
    fh, fw = face.shape[:2]
    scale = np.sqrt(abs(np.linalg.det(clip.transforms[0][:, :2])))
    small = cv2.resize(face, (round(fw * scale), round(fh * scale)), interpolation=cv2.INTER_AREA)
    reference = cv2.resize(small, (fw, fh), interpolation=cv2.INTER_LINEAR).astype(int)
    centre = np.s_[fh // 4:3 * fh // 4, fw // 4:3 * fw // 4]
    for frame, points, matrix in zip(clip.frames, clip.true_landmarks, clip.transforms):
        # the frame warped back by the inverse of its transform shows the face photo (at the clip's resolution)
        back = cv2.warpAffine(frame, cv2.invertAffineTransform(matrix), (fw, fh), flags=cv2.INTER_LINEAR)
        assert np.abs(back[centre].astype(int) - reference[centre]).mean() < 8
        np.testing.assert_allclose(points, landmarks @ matrix[:, :2].T + matrix[:, 2])
    moves = [np.linalg.norm(b - a, axis=1).mean() for a, b in zip(clip.true_landmarks, clip.true_landmarks[1:])]
    assert 1 < np.mean(moves) < 12 and max(moves) < 16  # moving, a few pixels a frame (16 frames: a fast path)
    noise = np.concatenate([n - t for n, t in zip(clip.noisy_landmarks, clip.true_landmarks)])
    assert abs(noise.std() - 1.5) < 0.3 and abs(noise.mean()) < 0.3


def test_static_path_and_no_noise(astronaut_face):
    face, landmarks = astronaut_face
    clip = moving_face_clip(face, landmarks, frames=5, size=(160, 120), path='static', landmark_noise=0)
    assert all(np.array_equal(f, clip.frames[0]) for f in clip.frames)
    assert all(np.array_equal(n, t) for n, t in zip(clip.noisy_landmarks, clip.true_landmarks))
    backdrop = np.full((60, 80, 3), (10, 200, 30), np.uint8)
    clip = moving_face_clip(face, landmarks, frames=2, size=(160, 120), path='static', background=backdrop)
    assert tuple(clip.frames[0][2, 2]) == (10, 200, 30)  # a given background, resized to the frame
    with pytest.raises(ValueError, match='path must be one of'):
        moving_face_clip(face, landmarks, path='zigzag')


def test_shot_cut_changes_the_picture_at_once(astronaut_face):
    face, landmarks = astronaut_face
    clip = moving_face_clip(face, landmarks, frames=20, size=(160, 120), cut_at=12)
    change = [np.abs(b.astype(int) - a.astype(int)).mean() for a, b in zip(clip.frames, clip.frames[1:])]
    assert clip.cut == 12 and int(np.argmax(change)) == 11
    assert change[11] > 3 * max(change[:11] + change[12:])
    jump = np.abs(clip.true_landmarks[12][:, 0].mean() - clip.true_landmarks[11][:, 0].mean())
    assert jump > 10  # the face is elsewhere after the cut


def test_face_enters_and_leaves(astronaut_face):
    face, landmarks = astronaut_face
    clip = moving_face_clip(face, landmarks, frames=30, size=(160, 120), enter_leave=True, path='static')
    visible = [t is not None for t in clip.true_landmarks]
    assert not visible[0] and not visible[-1] and visible[15]
    first, last = visible.index(True), len(visible) - 1 - visible[::-1].index(True)
    assert all(visible[first:last + 1])
    for t, n, box in zip(clip.true_landmarks, clip.noisy_landmarks, clip.boxes):
        assert (t is None) == (n is None) == (box is None)
        if t is not None:
            assert np.all(t >= 0) and np.all(t < (160, 120))
            assert np.all(box[:2] <= t.min(0)) and np.all(box[2:] >= t.max(0))
    xs = [t[:, 0].mean() for t in clip.true_landmarks if t is not None]
    assert np.all(np.diff(xs) > 0)  # left to right


def test_backgrounds_differ_by_seed():
    a, b = make_background((64, 48), 0), make_background((64, 48), 1)
    assert a.shape == (48, 64, 3) and np.abs(a.astype(int) - b.astype(int)).mean() > 10
    assert np.array_equal(a, make_background((64, 48), 0))


def test_write_clip_tone_subtitles_and_timestamps(tmp_path, small_clip):
    pts = [0, 3600, 9000, 10800, 18000, 21600]
    path = write_clip(tmp_path / 'clip.mkv', small_clip.frames[:6], vfr_pts=pts, audio='sine',
                      subtitles=[(0.0, 0.2, 'hello')])
    info = probe(path)
    assert (info.audio_streams, info.subtitle_streams) == (1, 1)
    with VideoReader(path) as reader:
        assert [round(f.time * 1000) for f in reader] == [p // 90 for p in pts]
    with av.open(path) as container:
        samples = np.concatenate([f.to_ndarray().reshape(-1) for f in container.decode(audio=0)])
        container.seek(0)
        text = b''.join(bytes(p) for p in container.demux(subtitles=0))
    rate = 48000
    assert abs(len(samples) / rate - 0.28) < 0.05  # as long as the video (6 frames, the last one 40 ms)
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    assert abs(np.argmax(spectrum) * rate / len(samples) - SINE_HZ) < 5
    assert b'hello' in text
    with pytest.raises(ValueError, match='3 timestamps for 6 frames'):
        write_clip(tmp_path / 'bad.mkv', small_clip.frames[:6], vfr_pts=[0, 1, 2])
    with pytest.raises(ValueError, match='cannot hold subtitles'):
        write_clip(tmp_path / 'bad.avi', small_clip.frames[:2], subtitles=[(0, 1, 'x')])
    assert not (tmp_path / 'bad.avi').exists() and not (tmp_path / 'bad.mkv').exists()
