"""The video side of the inference command (``gfpgan.restoration.cli``): its options, their preflight, where a
restored video goes, and the loop over the videos of a run."""
import os
import sys

from gfpgan.errors import GFPGANError, is_fatal_os_error

from .io import is_video_file, is_video_input

__all__ = ['VIDEO_EPILOG', 'add_video_arguments', 'stability_options', 'video_output_path', 'check_videos',
           'restore_videos', 'is_video_file', 'is_video_input', 'split_inputs']

VIDEO_EPILOG = """Videos: -i clip.mp4 (or a folder mixing photos and videos, told apart by extension: .mp4 .mov .mkv
.avi .webm .m4v .mpg .ts ...; a file of any other extension but a photo's, such as .vob or .y4m, is opened to see
whether FFmpeg reads it as a video) writes <output>/restored_videos/<name>[_suffix].<ext>, in the input's container when
it can be written (.mp4 .m4v .mov .mkv .webm .avi and the codec fits), else .mkv. Same frame count, timestamps
(variable frame rate too), rotation metadata and duration; the audio and subtitle streams are copied unchanged; the
file appears under its name only once complete. --video_codec auto (H.264 where this PyAV build has libx264, else
MPEG-4; VP9 for .webm), h264, hevc, mpeg4, vp9 or ffv1 (lossless, written as .mkv); --crf quality (lower is better,
18 default; 0..51 for h264, hevc, mpeg4, 0..63 for vp9, ignored by ffv1); --save_frames also writes every restored
frame as <output>/restored_frames/<name>[_suffix]/<index>.png, the index with six digits from 000000.png.

Temporal stability (each switch turns one off, to compare): faces are tracked across frames (--no_tracking) with the
detector run every --detect_every frames (optical flow in between) and shot cuts detected; each track's landmarks
are smoothed over 8 frames back and 4 ahead before alignment (--no_landmark_smoothing); the decoder's noise is fixed
instead of redrawn every frame (--fresh_noise); the parsed paste masks are smoothed the same way
(--no_mask_smoothing). With all four off each frame is restored exactly as a photo. A video that cannot be read is
an error before any work when it is the input, and is skipped, named and counted (exit 1) in a folder.
"""


def split_inputs(paths):
    """(photos, videos) of the run's input files, in order (``is_video_input``: only files of an extension that is
    neither a known photo's nor a known video's are opened)."""
    photos, videos = [], []
    for path in paths:
        (videos if is_video_input(path) else photos).append(path)
    return photos, videos


def add_video_arguments(parser):
    """The video options of the inference command."""
    group = parser.add_argument_group('videos')
    group.add_argument('--video_codec', default='auto', help='output video codec: auto (H.264 where available, else '
                       'MPEG-4), h264, hevc, mpeg4, vp9, ffv1 (default auto)')
    group.add_argument('--crf', type=int, default=18, help='video quality, lower is better: 0..51 for h264, hevc and '
                       'mpeg4 (mapped to qscale crf/6), 0..63 for vp9, ignored by the lossless ffv1 (default 18)')
    group.add_argument('--save_frames', action='store_true', help='also write the restored frames as PNG under '
                       '<output>/restored_frames/<name>/')
    group.add_argument('--detect_every', type=int, default=1, help='run the face detector every n-th frame, optical '
                       'flow in between (default 1)')
    group.add_argument('--no_tracking', action='store_true', help='detect every frame on its own (no tracks, so no '
                       'smoothing either)')
    group.add_argument('--no_landmark_smoothing', action='store_true', help='align each frame at its raw landmarks')
    group.add_argument('--fresh_noise', action='store_true', help='draw fresh decoder noise for every frame (as for '
                       'photos)')
    group.add_argument('--no_mask_smoothing', action='store_true', help='paste with each frame\'s own parsed mask')
    return parser


def stability_options(args):
    """The ``StabilityOptions`` of the command's switches."""
    from .pipeline import StabilityOptions
    return StabilityOptions(tracking=not args.no_tracking, smooth_landmarks=not args.no_landmark_smoothing,
                            fixed_noise=not args.fresh_noise, smooth_masks=not args.no_mask_smoothing,
                            detect_every=args.detect_every)


def video_output_path(args, path):
    """<output>/restored_videos/<name>[_suffix].<ext>: the input's container when it can be written and holds the
    codec, else .mkv (Matroska holds every codec and most audio)."""
    from .codecs import OUTPUT_FORMATS
    name, ext = os.path.splitext(os.path.basename(path))
    ext = ext.lower()
    codec = str(args.video_codec).strip().lower()
    if ext not in OUTPUT_FORMATS or (codec == 'ffv1' and ext not in ('.mkv', '.avi')) or \
            (ext == '.webm' and codec not in ('auto', 'vp9', 'libvpx-vp9', 'libvpx')):
        ext = '.mkv'
    suffix = f'_{args.suffix}' if args.suffix else ''
    return os.path.join(args.output, 'restored_videos', f'{name}{suffix}{ext}')


def check_videos(args, videos, pf, single):
    """Preflight of the videos of a run (into the Preflight ``pf``): the video options, PyAV, the codec for every
    output, outputs that would overwrite an input or each other; with ``single`` (the input is that one video) the
    file must also open as a video."""
    pf.check(0 <= args.crf <= 63, f'--crf must lie in 0..63 (lower is better quality), got {args.crf}.')
    pf.check(args.detect_every >= 1, f'--detect_every must be at least 1 frame, got {args.detect_every}.')
    if not videos:
        return
    pf.check(not args.aligned, '--aligned takes aligned face photos, not videos: drop --aligned for '
             f"'{videos[0]}'.")
    try:
        from .codecs import crf_problem, import_av, resolve_codec
        import_av()
    except GFPGANError as err:
        pf.add(f'{err}')
        return
    targets, codec, crf_problems = {}, None, []
    for path in videos:
        target = video_output_path(args, path)
        try:
            codec = resolve_codec(args.video_codec, target)[0]
        except GFPGANError as err:
            pf.add(f'--video_codec: {err}')
            break
        problem = crf_problem(codec, args.crf)
        if problem and problem not in crf_problems and 0 <= args.crf <= 63:
            crf_problems.append(problem)
            pf.add(f"--crf: for '{target}', {problem}")
        if os.path.abspath(target) == os.path.abspath(path):
            pf.add(f"Restoring '{path}' would overwrite it; choose another -o/--output.")
        other = targets.setdefault(os.path.abspath(target), path)
        if other != path:
            pf.add(f"'{other}' and '{path}' would both be restored into '{target}'; rename one of them.")
    if single:
        from .io import probe
        try:
            info = probe(videos[0])
        except GFPGANError as err:
            pf.add(f'-i/--input: {err}')
            return
        width, height = int(info.width * args.upscale), int(info.height * args.upscale)
        pf.check(codec is None or not codec.subsampled or (width % 2 == 0 and height % 2 == 0),
                 f"'{videos[0]}' restored at -s {args.upscale} is {width}x{height}, but {codec and codec.name} "
                 'needs an even width and height: use an even -s/--upscale or --video_codec ffv1.')


def restore_videos(args, restorer, videos, fail):
    """Restore each video of the run; a video that fails is reported through ``fail(path, error)`` and the run goes
    on (unless the error is fatal to every later one: a full disk, a lost permission). First removes the temporaries
    of killed runs from <output>/restored_videos (``writer.remove_stale_video_temporaries``: writer temporaries
    untouched for an hour) and says so. Returns the summaries."""
    from .codecs import VideoError
    from .pipeline import restore_video
    from .writer import STALE_AFTER_S, remove_stale_video_temporaries
    options = stability_options(args)
    summaries = []
    if videos:
        folder = os.path.dirname(video_output_path(args, videos[0]))
        removed = remove_stale_video_temporaries(folder)
        if removed:
            print(f'removed {len(removed)} temporary file(s) of an interrupted video run, untouched for over '
                  f'{STALE_AFTER_S / 3600:g} hour(s), from {folder} ({sum(size for _, size in removed):,d} bytes): '
                  f"{', '.join(os.path.basename(path) for path, _ in removed)}", file=sys.stderr)
    for path in videos:
        target = video_output_path(args, path)
        frames = None
        if args.save_frames:
            frames = os.path.join(args.output, 'restored_frames', os.path.splitext(os.path.basename(target))[0])
        try:
            summary = restore_video(restorer, path, target, options, codec=args.video_codec, crf=args.crf,
                                    save_frames=frames, progress=not args.no_progress, weight=args.weight,
                                    only_center_face=args.only_center_face)
        except (VideoError, ValueError, OSError) as err:
            if is_fatal_os_error(err):
                raise
            fail(path, err)
            continue
        summaries.append(summary)
        print(f"{path}: {summary['frames']} frame(s), {summary['faces']} face(s) in {summary['tracks']} track(s), "
              f"{summary['cuts']} cut(s), {summary['fps']:.2f} frames/s -> {target}")
    return summaries
