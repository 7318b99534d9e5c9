"""Face tracking across frames: identities kept while faces move (even when the detector lists them in another
order), faces entering and leaving, shot cuts ending every track, optical flow between sparse detections."""
import numpy as np
import pytest

from gfpgan.video.tracking import FaceTracker, ShotCutDetector, box_iou
from stable_clip import face_clip


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


def test_a_face_entering_and_leaving_gets_one_track_that_ends():
    path = [None] * 4 + [(60 + 8 * t, 120, 0.5) for t in range(10)] + [None] * 10
    still = [(250, 120, 0.4)] * 24
    frames, _, detector = face_clip([path, still])
    tracker = FaceTracker(detector, max_lost=3)
    seen = _run(tracker, frames)
    moving = [{f.track_id for f in faces} - {0} for faces in seen]
    assert all(not ids for ids in moving[:4])  # not there yet
    assert all(ids == {1} for ids in moving[4:14])  # born once, kept while it moves
    assert all(not ids for ids in moving[14:])
    assert [t.track_id for t in tracker.tracks] == [0]  # ended after max_lost unmatched frames
    assert all(0 in {f.track_id for f in faces} for faces in seen)  # the still face is never lost


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
