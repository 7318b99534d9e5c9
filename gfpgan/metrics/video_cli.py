"""``python scripts/evaluate.py video``: the temporal stability of a restored video against its input (face-region
flicker of both, their ratio, and the identity angle between consecutive faces; ``gfpgan.metrics.temporal``), as a
table and, on request, JSON. The faces are found and tracked on the input (``gfpgan.video.tracking.FaceTracker`` with
a registered detector) or read from a landmarks file."""
import argparse
import json
import math
import os

import numpy as np

from gfpgan.errors import GFPGANError, add_debug_argument
from gfpgan.preflight import Preflight
from gfpgan.utils.benchmark import json_safe, markdown_table
from gfpgan.utils.device import resolve_device
from gfpgan.utils.fileio import atomic_write

from .metric_util import package_problem
from .temporal import FlickerMeter, FlickerResult, IdentityMeter, aligned_face, pair_motions

__all__ = ['VIDEO_DOC', 'DETECTORS', 'VideoEvaluationError', 'read_landmarks_file', 'track_faces', 'measure_video',
           'video_table', 'check_video_evaluation', 'video_evaluate_main']

VIDEO_DOC = """\
Temporal stability of a restored video: face-region flicker of the input and of the restored video, their ratio,
and the identity angle between the faces of consecutive frames.

  python scripts/evaluate.py video --input clip.mp4 --restored results/clip.mp4 --json results/clip_stability.json

Flicker: for each pair of consecutive frames, the mean |frame t - frame t+1 warped back onto frame t| in 8-bit grey
levels per pixel, inside each tracked face's region (the FFHQ face ellipse, shrunk 15 %), after compensating the
face's own motion as measured on the INPUT (Farneback optical flow started from the landmarks' similarity, or
--motion landmarks: the similarity between the temporally smoothed 5-point landmarks). The same motion is applied
to the restored frames (scaled when they are larger) and the input is measured upscaled (bicubic) to their size, so
the two numbers compare: the ratio restored / input is the flicker the restoration added (1.0: none).
Pairs across a shot cut, where the face is missing, or where the landmarks jump are skipped and counted.

Identity angle: the mean ArcFace angle (degrees) between consecutive aligned faces of a track, with
arcface_resnet18.pth (--arcface); without that file it is skipped and said so (--allow_random_identity uses a random
network instead, for tests: its angles only compare runs, they do not measure identity).

Faces are detected on the input frames with --landmarks DETECTOR (auto: dlib's HOG detector when dlib is installed,
else the offline Haar cascade) and tracked (gfpgan.video.tracking), or read from --landmarks FILE: .npy of shape
(frames, 5, 2), NaN for a frame without the face, or .json, a list of null / [[x, y] x 5] per frame (one track).
The restored video must have the input's frame count and its frame size times one scale factor.
"""

DETECTORS = ('auto', 'dlib_hog', 'dlib_cnn', 'haar', 'retinaface_resnet50', 'retinaface_mobile0.25')
FLICKER_UNIT = 'grey levels / pixel / frame'


class VideoEvaluationError(GFPGANError, ValueError):
    """The videos cannot be compared (frame counts, sizes, landmarks); one sentence."""


def read_landmarks_file(path):
    """[(5, 2) float64 | None] per frame from a .npy (frames, 5, 2), NaN for a missing face, or a .json list of
    null / 5 [x, y] points; VideoEvaluationError when the file holds anything else."""
    try:
        if path.lower().endswith('.json'):
            with open(path, encoding='utf-8') as f:
                rows = json.load(f)
            if not isinstance(rows, list):
                raise ValueError('not a list')
            return [None if row is None else np.asarray(row, np.float64).reshape(5, 2) for row in rows]
        array = np.load(path, allow_pickle=False).astype(np.float64)
        if array.ndim != 3 or array.shape[1:] != (5, 2):
            raise ValueError(f'shape {array.shape}')
        return [None if np.isnan(points).any() else points for points in array]
    except (OSError, ValueError, TypeError) as err:
        raise VideoEvaluationError(f"--landmarks: '{path}' is not a landmarks file ({err}); give a .npy of shape "
                                   '(frames, 5, 2) or a .json list of null / five [x, y] points per frame.') from None


def _detector_name(name):
    if name != 'auto':
        return name
    return 'dlib_hog' if package_problem('dlib', 'dlib') is None else 'haar'


def track_faces(input_path, detector='auto', detect_every=1, progress=True):
    """``(tracks, cuts, frames)``: {track id: [(5, 2) landmarks | None] per frame} of every face followed over at
    least two frames of the video ``input_path``, the frames that start a new shot, and the frame count."""
    from gfpgan.faces.detectors import build_detector
    from gfpgan.video.io import VideoReader
    from gfpgan.video.tracking import FaceTracker
    tracker = FaceTracker(build_detector(_detector_name(detector)), detect_every=detect_every)
    seen, cuts, count = {}, [], 0
    with VideoReader(input_path) as reader:
        for frame in _progress(reader, len(reader), 'tracking faces', progress):
            for face in tracker.update(frame.image):
                seen.setdefault(face.track_id, {})[frame.index] = face.landmarks
            if tracker.cut:
                cuts.append(frame.index)
            count += 1
    tracks = {tid: [points.get(t) for t in range(count)] for tid, points in seen.items() if len(points) >= 2}
    return tracks, cuts, count


def _progress(iterable, total, what, enabled):
    if not enabled:
        return iterable
    from tqdm import tqdm
    return tqdm(iterable, total=total or None, desc=what, unit='frame')


def measure_video(input_path, restored_path, tracks, cuts=(), motion='flow', identity=None, progress=True):
    """Flicker (the input's measured upscaled to the restored size) and consecutive identity angle of every track
    on the input and the restored video, read together in one pass (bounded memory). Returns the summary:
    {'flicker_input', 'flicker_restored', 'flicker_ratio', ('identity_...'), 'tracks', 'frames', 'scale'}."""
    from gfpgan.video.io import VideoReader, probe
    info = probe(restored_path)
    meters = {}
    for tid, landmarks in tracks.items():
        meters[tid] = {
            'flicker': {'input': FlickerMeter(landmarks, cuts, motion, size=(info.width, info.height)),
                        'restored': FlickerMeter(landmarks, cuts, motion)},
            'aligned_at': pair_motions(landmarks, cuts)[0],  # smoothed: the aligned faces do not jitter
            'identity': {k: IdentityMeter(identity) for k in ('input', 'restored')} if identity else None,
        }
    count, scale, length = 0, None, min((len(v) for v in tracks.values()), default=0)
    with VideoReader(input_path) as source, VideoReader(restored_path) as restored:
        pairs, outputs = _progress(source, len(source), 'measuring flicker', progress), iter(restored)
        for src in pairs:
            out = next(outputs, None)
            if out is None:
                count += 1 + sum(1 for _ in pairs)
                _frame_count_error(count, restored.frames_read)
            if count >= length:
                raise VideoEvaluationError(f"The landmarks cover {length} frames but '{input_path}' has more: give "
                                           'one entry per frame.')
            scale = out.image.shape[1] / src.image.shape[1]
            for meter in meters.values():
                meter['flicker']['input'].add(src.image, src.image)
                meter['flicker']['restored'].add(out.image, src.image)
                if meter['identity']:
                    smoothed = meter['aligned_at'][src.index]
                    meter['identity']['input'].add(aligned_face(src.image, smoothed))
                    meter['identity']['restored'].add(aligned_face(out.image, smoothed, scale=scale))
            count += 1
        extra = sum(1 for _ in outputs)
        if extra:
            _frame_count_error(count, count + extra)
    spans = {tid: _span(landmarks) for tid, landmarks in tracks.items()}
    return _summary(meters, spans, count, scale, identity is not None)


def _frame_count_error(frames, restored_frames):
    raise VideoEvaluationError(f'The input has {frames} frames and the restored video {restored_frames}: a restored '
                               'video keeps every frame of its input; compare the video restored from this input.')


def _stats(result):
    return {'mean': result.mean, 'pairs': result.compared, 'skipped': result.skipped}


def _span(landmarks):
    """The pairs (first, last) of a track: from its first frame with a face to its last."""
    present = [t for t, points in enumerate(landmarks) if points is not None]
    return (present[0], present[-1]) if present else (0, 0)


def _summary(meters, spans, count, scale, with_identity):
    out = {'frames': count, 'scale': scale, 'tracks': {}}
    pooled = {('flicker', k): FlickerResult() for k in ('input', 'restored')}
    pooled.update({('identity', k): FlickerResult() for k in ('input', 'restored')})
    for tid, meter in meters.items():
        row = {}
        for kind in ('flicker', 'identity'):
            if kind == 'identity' and not with_identity:
                continue
            for video in ('input', 'restored'):
                first, last = spans[tid]
                result = FlickerResult(meter[kind][video].result.values[first:last])  # pairs inside the track
                pooled[kind, video].values.extend(result.values)
                row[f'{kind}_{video}'] = _stats(result)
        out['tracks'][str(tid)] = row
    for kind in ('flicker', 'identity'):
        if kind == 'identity' and not with_identity:
            continue
        for video in ('input', 'restored'):
            out[f'{kind}_{video}'] = _stats(pooled[kind, video])
        a, b = out[f'{kind}_input']['mean'], out[f'{kind}_restored']['mean']
        out[f'{kind}_ratio'] = b / a if a and math.isfinite(a) and math.isfinite(b) else math.nan
    return out


def video_table(summary):
    """The Markdown table of ``measure_video``'s summary (plus ``identity_note`` when given)."""
    rows = []
    for video in ('input', 'restored'):
        flicker = summary[f'flicker_{video}']
        identity = summary.get(f'identity_{video}', {})
        rows.append({'video': video, 'flicker': flicker['mean'], 'pairs': flicker['pairs'],
                     'skipped': flicker['skipped'], 'identity': identity.get('mean')})
    rows.append({'video': 'ratio restored / input', 'flicker': summary['flicker_ratio'],
                 'identity': summary.get('identity_ratio')})
    columns = [('video', 'video', None), ('flicker', f'face flicker ({FLICKER_UNIT})', '.3f'),
               ('pairs', 'pairs compared', None), ('skipped', 'pairs skipped', None),
               ('identity', 'consecutive identity angle (deg)', '.3f')]
    table = markdown_table(rows, columns)
    notes = [f"{summary['frames']} frames, {len(summary['tracks'])} face track(s), {len(summary.get('cuts', []))} "
             f"shot cut(s), restored at {summary['scale']:g}x, motion: {summary.get('motion', 'flow')}"]
    if summary.get('identity_note'):
        notes.append(summary['identity_note'])
    return table + '\n\n' + '\n'.join(notes)


def _identity_choice(args):
    """(weights path | None, note): the ArcFace file found without downloading, or why the angle is skipped."""
    from gfpgan.metrics.identity_angle import ARCFACE_WEIGHTS
    from gfpgan.utils.weights import WeightsNotFoundError, resolve_weights
    try:
        return resolve_weights(args.arcface or ARCFACE_WEIGHTS, progress=False, download=False), None
    except WeightsNotFoundError as err:
        if args.allow_random_identity:
            return None, ('identity angle: a RANDOM ArcFace (--allow_random_identity; arcface_resnet18.pth not found): '
                          'it compares runs, it does not measure identity')
        if args.arcface:
            return None, f'identity angle skipped: {err}'
        return None, (f'identity angle skipped: {ARCFACE_WEIGHTS} not found (fetch it with `python '
                      f'scripts/download_pretrained.py --files {ARCFACE_WEIGHTS}`, or give --arcface FILE)')


def check_video_evaluation(args):
    """Every problem of the command line, before any frame is decoded: the videos (readable, not the same file,
    same frame count where the containers say, one scale factor between the sizes), the landmarks file or
    detector, the output file, the device. Returns (input info, restored info, landmarks or None)."""
    pf = Preflight()
    problem = package_problem('av', 'Reading videos')
    if problem:
        pf.add(f'{problem}.')
        pf.raise_if_any()
    from gfpgan.video.io import VideoError, probe
    infos = {}
    for path, flag in ((args.input, '--input'), (args.restored, '--restored')):
        if pf.file(path, flag):
            try:
                infos[flag] = probe(path)
            except VideoError as err:
                pf.add(f'{flag}: {err}')
    if pf.check(os.path.abspath(args.input) != os.path.abspath(args.restored),
                '--input and --restored are the same file; give the input video and its restoration.') \
            and len(infos) == 2:
        src, out = infos['--input'], infos['--restored']
        pf.check(not (src.frame_count and out.frame_count) or src.frame_count == out.frame_count,
                 f"The input has {src.frame_count} frames and the restored video {out.frame_count}: a restored video "
                 'keeps every frame of its input; compare the video restored from this input.')
        sx, sy = out.width / src.width, out.height / src.height
        pf.check(abs(sx - sy) <= 0.01 * max(sx, sy),
                 f'The restored frames ({out.width}x{out.height}) are not the input frames ({src.width}x{src.height}) '
                 'times one scale factor: compare the video restored from this input.')
    landmarks = None
    if args.landmarks not in DETECTORS:
        if pf.file(args.landmarks, f'--landmarks (a detector: {", ".join(DETECTORS)}; or a landmarks file)'):
            try:
                landmarks = read_landmarks_file(args.landmarks)
            except VideoEvaluationError as err:
                pf.add(str(err))
            count = infos['--input'].frame_count if '--input' in infos else None
            pf.check(landmarks is None or not count or len(landmarks) == count,
                     f"--landmarks: '{args.landmarks}' has {len(landmarks or [])} frames, the input {count}.")
    elif args.landmarks in ('dlib_hog', 'dlib_cnn'):
        problem = package_problem('dlib', f'The {args.landmarks} detector')
        pf.check(problem is None, f'{problem}.')
    elif args.landmarks.startswith('retinaface'):
        from gfpgan.faces.detectors import RETINAFACE_MODELS
        pf.weights(RETINAFACE_MODELS[args.landmarks][1], f'the {args.landmarks} detector (--landmarks)')
    if args.arcface:
        pf.file(args.arcface, '--arcface')
    if args.json:
        pf.check(not os.path.isdir(args.json), f"--json: '{args.json}' is a folder; give a file name.")
        pf.output_folder(os.path.dirname(os.path.abspath(args.json)), '--json')
    pf.check(args.detect_every >= 1, f'--detect_every must be at least 1, got {args.detect_every}.')
    try:
        resolve_device(args.device)
    except (RuntimeError, ValueError) as err:
        pf.add(f"--device: '{args.device}' is not a device torch knows ({err}).")
    pf.raise_if_any()
    return infos['--input'], infos['--restored'], landmarks


def video_evaluate_main(argv=None, log=print):
    """scripts/evaluate.py video: the temporal stability of a restored video. Returns 0; the summary is printed
    and written to --json."""
    parser = argparse.ArgumentParser(prog='evaluate.py video', description=VIDEO_DOC,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--input', required=True, metavar='VIDEO', help='the video that was restored')
    parser.add_argument('--restored', required=True, metavar='VIDEO', help='its restoration (same frames)')
    parser.add_argument('--landmarks', default='auto', metavar='DETECTOR|FILE',
                        help=f"face detector on the input ({', '.join(DETECTORS)}; default auto) or a landmarks file")
    parser.add_argument('--detect_every', type=int, default=1, help='detect every N frames, track between (default 1)')
    parser.add_argument('--motion', choices=('flow', 'landmarks'), default='flow',
                        help='motion compensation: optical flow of the input (default) or smoothed landmarks')
    parser.add_argument('--arcface', metavar='FILE', help='ArcFace weights (default arcface_resnet18.pth if present)')
    parser.add_argument('--allow_random_identity', action='store_true',
                        help='without ArcFace weights, measure the identity angle with a random network (tests)')
    parser.add_argument('--json', metavar='FILE', help='also write the summary as JSON')
    parser.add_argument('--device', default='auto', help='ArcFace device: auto, cpu, cuda ... (default auto)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bars')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    _, _, landmarks = check_video_evaluation(args)
    progress = not args.no_progress
    if landmarks is None:
        tracks, cuts, _ = track_faces(args.input, args.landmarks, args.detect_every, progress)
    else:
        tracks, cuts = {0: landmarks}, []
    if not tracks:
        raise VideoEvaluationError(f"No face was found in two or more frames of '{args.input}' with --landmarks "
                                   f'{args.landmarks}: try another detector, or give the landmarks as a file.')
    weights, note = _identity_choice(args)
    identity = None
    if weights is not None or args.allow_random_identity:
        import torch

        from .identity_angle import IdentityAngle
        torch.manual_seed(0)
        identity = IdentityAngle(weights=weights, device=resolve_device(args.device), pretrained=weights is not None)
    summary = measure_video(args.input, args.restored, tracks, cuts, args.motion, identity, progress)
    summary.update(input=args.input, restored=args.restored, cuts=cuts, motion=args.motion, unit=FLICKER_UNIT,
                   landmarks=args.landmarks, identity_note=note)
    log(video_table(summary))
    if args.json:
        with atomic_write(args.json) as f:
            f.write(json.dumps(json_safe(summary), indent=2, allow_nan=False).encode('utf-8'))
        log(f'\nwrote {args.json}')
    return 0
