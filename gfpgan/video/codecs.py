"""The video encoders a restored clip can be written with, and the containers it can be written to.

Each codec name maps to the FFmpeg encoders that implement it (the first one this PyAV build has wins), the pixel
format it is fed and its quality options. ``auto`` is H.264 (libx264) where the build has it, else MPEG-4 Part 2
(the ``mpeg4`` encoder FFmpeg always carries), and VP9 for ``.webm``, the only family WebM allows.
"""
import dataclasses
import functools
import os
from fractions import Fraction

from gfpgan.errors import GFPGANError, is_fatal_os_error
from gfpgan.utils.optional import import_optional

__all__ = [
    'VideoError', 'VideoCodec', 'VIDEO_CODECS', 'CODEC_ALIASES', 'OUTPUT_FORMATS', 'import_av', 'av_errors',
    'ffmpeg_reason', 'ffmpeg_failure', 'crf_problem', 'main_video_stream', 'stream_end', 'encoder_available',
    'available_video_codecs', 'output_format', 'resolve_codec', 'encoder_options'
]


class VideoError(GFPGANError):
    """A video cannot be read or written: not a video, no video stream, no frames, truncated, unsupported codec, or
    an output codec / container this FFmpeg build cannot write. The message names the file."""


@dataclasses.dataclass(frozen=True)
class VideoCodec:
    """An output codec: the encoders implementing it (first available wins), the pixel format they are fed, and how
    ``crf`` maps to their quality option (None: lossless, no quality setting)."""
    name: str
    encoders: tuple
    pix_fmt: str
    quality: str = None  # 'crf', 'crf_vbr' (constant quality with bitrate 0), 'qscale', or None
    description: str = ''
    crf_range: tuple = (0, 51)  # the crf values taken (lower is better)

    @property
    def subsampled(self):
        """Whether the chroma is halved in both directions (4:2:0), which needs an even width and height."""
        return self.pix_fmt.startswith('yuv420')


VIDEO_CODECS = {
    'h264': VideoCodec('h264', ('libx264', ), 'yuv420p', 'crf', 'H.264 / AVC (libx264), plays everywhere'),
    'hevc': VideoCodec('hevc', ('libx265', ), 'yuv420p', 'crf', 'H.265 / HEVC (libx265), about half the size'),
    'vp9': VideoCodec('vp9', ('libvpx-vp9', ), 'yuv420p', 'crf_vbr', 'VP9 (libvpx), for .webm and .mkv', (0, 63)),
    'mpeg4': VideoCodec('mpeg4', ('mpeg4', ), 'yuv420p', 'qscale', 'MPEG-4 Part 2, the fallback every build has'),
    'ffv1': VideoCodec('ffv1', ('ffv1', ), 'bgr0', None, 'FFV1 lossless (BGR kept bit-exactly; .mkv, .avi)', (0, 63)),
}
#: other spellings users type -> the codec's name
CODEC_ALIASES = {
    'libx264': 'h264', 'x264': 'h264', 'avc': 'h264', 'libx265': 'hevc', 'x265': 'hevc', 'h265': 'hevc',
    'libvpx-vp9': 'vp9', 'libvpx': 'vp9', 'xvid': 'mpeg4'
}
#: writable file extensions -> FFmpeg muxer
OUTPUT_FORMATS = {'.mp4': 'mp4', '.m4v': 'mp4', '.mov': 'mov', '.mkv': 'matroska', '.webm': 'webm', '.avi': 'avi'}
_WEBM_CODECS = ('vp9', )


def av_errors(av):
    """The exception classes PyAV raises for FFmpeg errors (``av.FFmpegError`` and its subclasses)."""
    return (av.FFmpegError, ) if hasattr(av, 'FFmpegError') else (av.error.FFmpegError, )


def ffmpeg_reason(err):
    """FFmpeg's own words for ``err`` (without the errno and file name PyAV adds)."""
    return (getattr(err, 'strerror', None) or str(err)).rstrip('.')


def ffmpeg_failure(err, path, what):
    """The exception to raise for the FFmpeg error ``err`` while writing ``path``: a full disk, a quota, a read-only
    or forbidden folder is an OSError naming ``path``, fatal to a whole run as for photos
    (``gfpgan.errors.is_fatal_os_error``); any other is a VideoError sentence starting with ``what``."""
    if is_fatal_os_error(err):
        return OSError(err.errno, err.strerror or str(err), os.fspath(path))
    return VideoError(f'{what} ({ffmpeg_reason(err)}).')


def main_video_stream(container):
    """The container's first video stream that is a moving picture (not a cover image or thumbnail), or None."""
    av = import_av()
    still = av.stream.Disposition.attached_pic | av.stream.Disposition.timed_thumbnails
    for stream in container.streams.video:
        if not stream.disposition & still:
            return stream
    return None


def stream_end(stream, start=None):
    """Where ``stream`` ends (its last frame's pts + duration) in its time base, or None where the file does not
    say: the stream's duration counted from ``start`` (default: its start time), else Matroska's ``DURATION`` tag
    (``HH:MM:SS.nnnnnnnnn``, the end's own timestamp)."""
    start = stream.start_time if start is None else start
    if stream.duration:
        return (start or 0) + stream.duration
    text = stream.metadata.get('DURATION') or stream.metadata.get('duration')
    try:
        hours, minutes, seconds = text.split(':')
        end = (Fraction(int(hours) * 3600 + int(minutes) * 60) + Fraction(seconds)) / stream.time_base
    except (AttributeError, ValueError, TypeError, ZeroDivisionError):
        return None
    return round(end) or None


def import_av():
    """The ``av`` module (PyAV), or one sentence saying how to install it."""
    return import_optional('av', 'Reading and writing video', package='av')


@functools.lru_cache(maxsize=None)
def encoder_available(encoder):
    """Whether this PyAV build can open the FFmpeg encoder ``encoder`` (e.g. ``'libx264'``)."""
    av = import_av()
    try:
        av.codec.Codec(encoder, 'w')
    except Exception:  # noqa: B902 - PyAV raises UnknownCodecError or ValueError depending on the build
        return False
    return True


def available_video_codecs():
    """``{codec name: FFmpeg encoder}`` for every codec of VIDEO_CODECS this PyAV build can actually encode."""
    usable = {}
    for name, codec in VIDEO_CODECS.items():
        for encoder in codec.encoders:
            if encoder_available(encoder):
                usable[name] = encoder
                break
    return usable


def output_format(path):
    """The FFmpeg muxer for writing ``path``, from its extension; VideoError for any other extension."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext not in OUTPUT_FORMATS:
        raise VideoError(f"Cannot write the video '{path}': its extension {ext or '(none)'} is not one of "
                         f"{', '.join(OUTPUT_FORMATS)}; choose one of those.")
    return OUTPUT_FORMATS[ext]


def resolve_codec(codec, path, available=None):
    """``(VideoCodec, encoder name, fallback note or None)`` for the requested ``codec`` (a name of VIDEO_CODECS, an
    alias, or ``'auto'``) written to ``path``. ``available`` is available_video_codecs() (given by tests).

    Raises VideoError naming the codecs that are available when the request is unknown, not in this build, or not
    allowed in the container (WebM holds VP9 only here)."""
    available = available_video_codecs() if available is None else available
    fmt = output_format(path)
    request = str(codec).strip().lower()
    note = None
    if request == 'auto':
        if fmt == 'webm':
            name = 'vp9'
        elif 'h264' in available:
            name = 'h264'
        else:
            name = 'mpeg4'
            note = (f"this PyAV build has no H.264 encoder (libx264), so '{path}' is written as MPEG-4 Part 2 "
                    '(larger files at the same quality); install a PyAV wheel with libx264 to get H.264')
    else:
        name = CODEC_ALIASES.get(request, request)
    have = ', '.join(sorted(available)) or 'none'
    if name not in VIDEO_CODECS:
        raise VideoError(f"Unknown video codec '{codec}' for '{path}': choose one of auto, {', '.join(VIDEO_CODECS)} "
                         f'(this build can encode: {have}).')
    if name not in available:
        raise VideoError(f"The video codec '{codec}' is not available in this PyAV build (no encoder "
                         f"{' / '.join(VIDEO_CODECS[name].encoders)}) for '{path}': choose one of {have}.")
    if fmt == 'webm' and name not in _WEBM_CODECS:
        raise VideoError(f"A .webm file holds VP9 video only, not '{codec}' ('{path}'): use --video_codec vp9 or "
                         'another extension such as .mp4 or .mkv.')
    return VIDEO_CODECS[name], available[name], note


def crf_problem(codec, crf):
    """None when ``codec`` (a VideoCodec) takes quality ``crf``, else one sentence naming the codec's range: H.264
    and HEVC take 0..51 (x264's and x265's scale), VP9 0..63, MPEG-4 the H.264 scale 0..51 (mapped to qscale
    crf/6), FFV1 is lossless and ignores it (any 0..63 is accepted)."""
    low, high = codec.crf_range
    if low <= crf <= high:
        return None
    if codec.quality is None:
        return f'{codec.name} is lossless and ignores it, but it must still lie in {low}..{high}, got {crf}.'
    return f'{codec.name} takes {low}..{high} (lower is better quality), got {crf}.'


def encoder_options(codec, crf, preset):
    """The FFmpeg encoder options for ``codec`` (a VideoCodec) at quality ``crf`` (0 best .. 51, H.264's scale; for
    MPEG-4 mapped to qscale crf/6, for VP9 used on its 0..63 scale) and ``preset`` (x264/x265 speed preset, VP9
    ``deadline`` name; None: the encoder's default)."""
    options = {}
    if codec.quality in ('crf', 'crf_vbr'):
        options['crf'] = str(int(crf))
        if codec.quality == 'crf_vbr':
            options['b'] = '0'
    elif codec.quality == 'qscale':
        qscale = min(31, max(1, round(crf / 6)))
        options['flags'] = '+qscale'
        options['global_quality'] = str(qscale * 118)  # FF_QP2LAMBDA
    if codec.name == 'hevc':
        options['x265-params'] = 'log-level=error'  # x265 prints a page of settings to stderr otherwise
    if preset is not None:
        options['deadline' if codec.name == 'vp9' else 'preset'] = str(preset)
    return options
