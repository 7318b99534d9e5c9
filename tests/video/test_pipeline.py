"""restore_frames: the all-off path is the photo path, fixed noise, smoothing that lowers flicker and never crosses a
cut, smoothed masks, batching and bounded buffering; restore_video: timestamps and rotation kept, nothing left behind
by an interrupted run (tiny random network, known landmarks)."""
import os

import cv2
import numpy as np
import pytest
import torch

from gfpgan.faces.alignment import estimate_alignment
from gfpgan.faces.detectors import LandmarksDetector
from gfpgan.faces.templates import FFHQ_TEMPLATE_5
from gfpgan.video.io import VideoReader, probe
from gfpgan.video.pipeline import StabilityOptions, restore_frames, restore_video
from gfpgan.video.synthetic import moving_face_clip, write_clip
from stable_clip import FACE_SIZE, face_clip, single_torch_thread, tiny_restorer  # noqa: F401 (autouse)


def _restore(restorer, frames, options=None, **kw):
    return [img for _, img in restore_frames(restorer, list(enumerate(frames)), options, **kw)]


def test_all_options_off_is_the_photo_path_frame_by_frame():
    path = [(150 + 5 * t, 120 - 2 * t, 0.45) for t in range(4)]
    frames, _, detector = face_clip([path, [(260, 150, 0.3)] * 4], noise=1.0)
    restorer = tiny_restorer(detector, upscale=2)
    torch.manual_seed(1)
    photos = [restorer.enhance(img)[2] for img in frames]
    torch.manual_seed(1)
    stats = {}
    video = _restore(restorer, frames, StabilityOptions.off(), stats=stats)
    for photo, frame, img in zip(photos, frames, video):
        assert img.shape == (480, 640, 3)
        assert np.array_equal(img, photo)
        assert np.abs(img.astype(int) - cv2.resize(frame, (640, 480)).astype(int)).mean() > 1  # faces changed
    assert stats == dict(frames=4, faces=8, tracks=8, cuts=0)


def test_fixed_noise_gives_identical_frames_for_identical_input_fresh_noise_does_not():
    frames, _, detector = face_clip([[(160, 120, 0.5)] * 4])
    restorer = tiny_restorer(detector)
    fixed = _restore(restorer, frames)
    assert all(np.array_equal(fixed[0], img) for img in fixed[1:])
    fresh = _restore(restorer, frames, StabilityOptions(fixed_noise=False))
    assert not np.array_equal(fresh[0], fresh[1])
    assert not np.array_equal(fresh[0], fixed[0])


def _face_flicker(outputs, truth):
    """Mean absolute change between consecutive restored faces, each cut out at its true landmarks (so the face's
    own motion is compensated and what remains is flicker)."""
    crops = []
    for img, points in zip(outputs, truth):
        matrix = estimate_alignment(points[0], FFHQ_TEMPLATE_5 * (FACE_SIZE / 512))
        crops.append(cv2.warpAffine(img, matrix, (FACE_SIZE, FACE_SIZE)).astype(np.float64))
    return float(np.mean([np.abs(a - b).mean() for a, b in zip(crops, crops[1:])]))


def test_stabilised_restoration_flickers_less_than_per_frame_restoration():
    path = [(130 + 3 * t, 110 + 1.5 * t, 0.5) for t in range(16)]
    frames, truth, detector = face_clip([path], noise=1.5, seed=3)
    restorer = tiny_restorer(detector)
    input_flicker = _face_flicker(frames, truth)
    stable = _face_flicker(_restore(restorer, frames), truth)
    torch.manual_seed(0)
    per_frame = _face_flicker(_restore(restorer, frames, StabilityOptions.off()), truth)
    torch.manual_seed(0)
    smooth_only = _face_flicker(_restore(restorer, frames, StabilityOptions(fixed_noise=False)), truth)
    noise_only = _face_flicker(_restore(restorer, frames, StabilityOptions(smooth_landmarks=False)), truth)
    # measured (tiny random net, noise strengths 0.2, landmark noise 1.5 px): input 2.98, per-frame 14.9, landmarks
    # smoothed only 9.5, noise fixed only 10.8, both 2.44: the targets (<= 1.1x the input, >= 3x below
    # per-frame) hold here
    assert stable < per_frame / 3
    assert stable < 0.5 * noise_only and stable < 0.5 * smooth_only
    assert stable < 1.1 * input_flicker


def test_smoothing_never_crosses_a_cut():
    path = [(120 + 3 * t, 120, 0.4) for t in range(7)] + [(200 - 2 * t, 100, 0.45) for t in range(7)]
    colours = [(90, 100, 110)] * 7 + [(20, 160, 40)] * 7
    frames, _, detector = face_clip([path], noise=1.5, backgrounds=colours)
    restorer = tiny_restorer(detector)
    stats = {}
    whole = _restore(restorer, frames, stats=stats)
    after = _restore(restorer, frames[7:])
    assert stats['cuts'] == 1 and stats['tracks'] == 2
    for a, b in zip(whole[7:], after):  # the frames after the cut know nothing of those before it
        assert np.array_equal(a, b)
    before = _restore(restorer, frames[:7])
    for a, b in zip(whole[:7], before):
        assert np.array_equal(a, b)


class _FlickeringParser:
    """A parser whose face region alternates between a large and a small disc at every call."""

    def __init__(self):
        self.calls = 0

    def __call__(self, face):
        self.calls += 1
        mask = np.zeros(face.shape[:2], np.float32)
        radius = 200 if self.calls % 2 else 120
        return cv2.circle(mask, (256, 256), radius, 1.0, -1)


def test_mask_smoothing_steadies_a_flickering_parser():
    frames, _, detector = face_clip([[(160, 120, 0.5)] * 10])
    diffs = {}  # measured: 16.4 without mask smoothing, 0.41 with
    for smooth in (True, False):
        parser = _FlickeringParser()
        restorer = tiny_restorer(detector, use_parse=True, parser=parser)
        out = _restore(restorer, frames, StabilityOptions(smooth_masks=smooth))
        assert parser.calls == 10
        diffs[smooth] = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(out[2:8], out[3:9])])
    assert diffs[False] > 5
    assert diffs[True] < 0.1 * diffs[False]


def test_batches_of_consecutive_frames_give_the_same_frames_and_buffers_stay_bounded():
    path = [(140 + 2 * t, 120, 0.4) for t in range(9)]
    frames, _, detector = face_clip([path, [(250, 120, 0.3)] * 9], noise=1.0)
    one = _restore(tiny_restorer(detector, batch_size=1), frames)
    pulled = []

    def source():
        for t, img in enumerate(frames):
            pulled.append(t)
            yield t, img

    options = StabilityOptions(lookahead=2, window=3)
    out = restore_frames(tiny_restorer(detector, batch_size=3), source(), options)
    (first_key, _), _ = next(out)
    assert first_key == 0 and len(pulled) <= options.lookahead + 3  # look-ahead plus a batch
    three = [_restore(tiny_restorer(detector, batch_size=3), frames)]
    for a, b in zip(one, three[0]):
        assert np.abs(a.astype(int) - b).max() <= 2  # batched convolutions round differently, by a level or two


def test_invalid_options_are_named():
    with pytest.raises(ValueError, match='detect_every'):
        StabilityOptions(detect_every=0).check()
    with pytest.raises(ValueError, match='cut_threshold'):
        StabilityOptions(cut_threshold=2).check()
    assert StabilityOptions(window=-1).problems()


def _still_video(tmp_path, astronaut_face, **kw):
    face, landmarks = astronaut_face
    clip = moving_face_clip(face, landmarks, frames=10, size=(160, 120), path='static', landmark_noise=0)
    return clip, write_clip(tmp_path / 'in.mp4', clip.frames, audio='sine', **kw)


def test_restore_video_keeps_variable_timestamps_and_rotation(tmp_path, astronaut_face):
    pts = [0, 3000, 9000, 12000, 20000, 21000, 30000, 33000, 36000, 45000]
    clip, source = _still_video(tmp_path, astronaut_face, vfr_pts=pts, rotation=90)
    restorer = tiny_restorer(LandmarksDetector(clip.true_landmarks[0]), upscale=2)
    out = tmp_path / 'out.mp4'
    summary = restore_video(restorer, source, out, progress=False)
    assert (summary['frames'], summary['faces'], summary['tracks'], summary['read_errors']) == (10, 10, 1, 0)
    info = probe(out)
    assert (info.width, info.height, info.rotation, info.audio_streams) == (320, 240, 90, 1)
    with VideoReader(out) as reader:
        assert [frame.pts for frame in reader] == pts


def test_a_failing_restoration_leaves_no_output(tmp_path, astronaut_face):
    clip, source = _still_video(tmp_path, astronaut_face)
    restorer = tiny_restorer(LandmarksDetector(clip.true_landmarks[0]))
    calls = []

    def broken(faces, weight=1.0, randomize_noise=True):
        calls.append(1)
        if len(calls) > 5:
            raise KeyboardInterrupt  # an interrupted run
        return faces

    restorer.restore_faces = broken
    with pytest.raises(KeyboardInterrupt):
        restore_video(restorer, source, tmp_path / 'out' / 'never.mp4', progress=False)
    assert not os.listdir(tmp_path / 'out')  # neither the output nor a temporary is left


def test_sparse_detection_restores_every_frame_with_a_third_of_the_detector_calls():
    path = [(130 + 3 * t, 110 + 1.5 * t, 0.5) for t in range(12)]
    frames, truth, detector = face_clip([path], noise=1.0)
    restorer = tiny_restorer(detector)
    stats = {}
    sparse = _restore(restorer, frames, StabilityOptions(detect_every=3), stats=stats)
    assert detector.calls == 4 and stats['faces'] == 12 and stats['tracks'] == 1
    torch.manual_seed(0)
    per_frame = _restore(restorer, frames, StabilityOptions.off())
    # measured: 2.6 (flow carries each detection's noise for 3 frames, so the window averages fewer independent
    # errors) against 1.6 detecting every frame and 12.2 per-frame restoration
    assert _face_flicker(sparse, truth) < _face_flicker(per_frame, truth) / 3


def test_smoothed_landmarks_move_the_crop_steadily_where_the_photo_fit_jumps():
    # a still face whose reported points sit a little off the template and whose nose drifts down 0.25 px a frame
    # (a talking, turning face): the photo path's robust LMEDS fit drops the nose once it disagrees, so its crop
    # jumps (measured: steps 0.52, 2.4, then 0 while the nose goes on drifting); the least-squares fit of the
    # smoothed points moves the crop by an even 0.52-0.61 grey levels a frame
    frames, truth, detector = face_clip([[(160, 120, 0.5)] * 10])
    offsets = 0.5 * np.array([[1, 0], [-1, 0.5], [0, 1.5], [0.5, -1], [-0.5, -1]])
    clip = []
    for t, img in enumerate(frames):
        img = img.copy()
        img[0, 0, 0] = t  # frames the detector tells apart
        points = truth[t][0] + offsets
        points[2, 1] += 0.25 * t
        detector.set(img, [points])
        clip.append(img)
    restorer = tiny_restorer(detector)
    crops, restore = [], restorer.restore_faces

    def recording(faces, weight=1.0, randomize_noise=True):
        crops.extend(face.astype(np.float64) for face in faces)
        return restore(faces, weight, randomize_noise)

    restorer.restore_faces = recording
    _restore(restorer, clip)
    steps = [np.abs(a - b).mean() for a, b in zip(crops, crops[1:])]
    assert len(steps) == 9
    assert 0.5 * np.median(steps) < min(steps) and max(steps) < 2 * np.median(steps)
