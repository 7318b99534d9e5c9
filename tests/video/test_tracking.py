"""Face tracking across frames: identities kept while faces move (even when the detector lists them in another
order), faces entering and leaving, shot cuts ending every track, optical flow between sparse detections."""
import numpy as np
import pytest

from gfpgan.video.tracking import FaceTracker, ShotCutDetector, box_iou
from gfpgan.video.synthetic import moving_face_clip
from stable_clip import KnownLandmarks, face_clip


def _run(tracker, frames):
    return [tracker.update(img) for img in frames]


def test_two_faces_keep_their_tracks_even_when_the_detector_swaps_them():
    left = [(80 + 2 * t, 120, 0.5) for t in range(12)]
    right = [(240 - 2 * t, 120 + t, 0.5) for t in range(12)]
    frames, _, detector = face_clip([left, right])
    for t, img in enumerate(frames):  # every other frame, the detector reports them right first
        if t % 2:
            detector.table[img.tobytes()].reverse()
    seen = _run(FaceTracker(detector), frames)
    for faces in seen:
        assert len(faces) == 2
        by_id = {f.track_id: f.landmarks[:, 0].mean() for f in faces}
        assert by_id[0] < by_id[1]  # track 0 is always the left face
    assert {f.track_id for faces in seen for f in faces} == {0, 1}


def test_a_face_entering_and_leaving_gets_one_track_that_ends(astronaut_face):
    face, landmarks = astronaut_face
    clip = moving_face_clip(face, landmarks, frames=30, size=(320, 240), enter_leave=True, landmark_noise=1.0)
    detector = KnownLandmarks()
    for img, points in zip(clip.frames, clip.noisy_landmarks):
        detector.set(img, [] if points is None else [points])
    tracker = FaceTracker(detector, max_lost=3)
    seen = _run(tracker, clip.frames)
    present = [points is not None for points in clip.noisy_landmarks]
    first, last = present.index(True), len(present) - 1 - present[::-1].index(True)
    assert first > 0 and last < len(present) - 5  # the clip has frames before and after the face
    assert not any(seen[:first])
    for faces in seen[first:last + 1]:  # born once, kept while it crosses
        assert [(f.track_id, f.detected) for f in faces] == [(0, True)]
    after = [t for t in range(last + 1, len(seen)) if seen[t]]
    assert len(after) <= tracker.fill_gaps and after == list(range(last + 1, last + 1 + len(after)))
    assert all(not f.detected for t in after for f in seen[t])  # at most a short flow-carried tail at the edge
    assert tracker.tracks == []  # ended after max_lost unmatched frames


def test_a_face_the_detector_misses_for_a_frame_is_carried_by_flow():
    path = [(120 + 4 * t, 120, 0.5) for t in range(10)]
    frames, truth, detector = face_clip([path, [(285, 60, 0.2)] * 10])
    detector.set(frames[5], [truth[5][1]])  # frame 5: only the other face is found
    seen = _run(FaceTracker(detector), frames)
    carried = {f.track_id: f for f in seen[5]}
    assert set(carried) == {0, 1} and not carried[0].detected and carried[1].detected
    assert np.abs(carried[0].landmarks - truth[5][0]).max() < 1.5
    assert all(0 in {f.track_id for f in faces} for faces in seen[6:])  # the same track goes on
    detector.set(frames[5], [])
    detector.set(frames[6], [])
    detector.set(frames[7], [])
    gap = _run(FaceTracker(detector, fill_gaps=2), frames)
    assert [len(faces) for faces in gap[4:9]] == [2, 2, 2, 0, 2]  # carried two frames, then no longer
    assert {f.track_id for f in gap[8]} == {0, 1}  # found again: the same tracks


def test_a_cut_ends_every_track_so_the_same_place_starts_a_new_one():
    path = [(160, 120, 0.4)] * 12
    colours = [(90, 100, 110)] * 6 + [(20, 160, 40)] * 6
    frames, _, detector = face_clip([path], backgrounds=colours)
    tracker = FaceTracker(detector)
    cuts, ids = [], []
    for img in frames:
        faces = tracker.update(img)
        cuts.append(tracker.cut)
        ids.append(faces[0].track_id)
    assert cuts == [False] * 6 + [True] + [False] * 5
    assert ids == [0] * 6 + [1] * 6 and tracker.num_cuts == 1


def test_shot_cut_distance_is_small_inside_a_shot_and_large_across_a_cut():
    path = [(100 + 6 * t, 120, 0.5) for t in range(6)]
    frames, _, _ = face_clip([path])
    other, _, _ = face_clip([[(200, 100, 0.7)]], backgrounds=[(30, 30, 200)])
    cuts = ShotCutDetector()
    distances = []
    for img in frames + other:
        cuts.is_cut(img)
        distances.append(cuts.last_distance)
    assert max(distances[1:6]) < 0.1 and distances[6] > 0.3  # measured ~0.02 inside, 0.43 across
    with pytest.raises(ValueError):
        ShotCutDetector(0)


def test_sparse_detection_follows_the_face_by_optical_flow():
    path = [(100 + 4 * t, 110 + 2 * t, 0.6) for t in range(10)]
    frames, truth, detector = face_clip([path])
    tracker = FaceTracker(detector, detect_every=4)
    seen = _run(tracker, frames)
    assert detector.calls == 3  # frames 0, 4, 8
    assert [faces[0].detected for faces in seen] == [t % 4 == 0 for t in range(10)]
    assert {faces[0].track_id for faces in seen} == {0}
    errors = [np.linalg.norm(faces[0].landmarks - truth[t][0], axis=1).max() for t, faces in enumerate(seen)]
    assert max(errors) < 1.5  # measured ~0.3 px on this textured face
    with pytest.raises(ValueError, match='detect_every'):
        FaceTracker(detector, detect_every=0)


def test_box_iou():
    assert box_iou([0, 0, 10, 10], [0, 0, 10, 10]) == 1
    assert box_iou([0, 0, 10, 10], [5, 0, 15, 10]) == pytest.approx(1 / 3)
    assert box_iou([0, 0, 10, 10], [20, 20, 30, 30]) == 0
