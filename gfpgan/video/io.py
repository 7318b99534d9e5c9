"""Video files in and out through PyAV (FFmpeg's libraries from a wheel), streaming and keeping what a restoration
must not change: the frame count and every timestamp (variable frame rate included), the start offset, the rotation
metadata, and the audio and subtitle streams, which are copied packet by packet, bit-identical.

``probe`` describes a file, ``VideoReader`` yields upright BGR frames with their timestamps from a decode thread,
``VideoWriter`` encodes frames (codecs in ``gfpgan.video.codecs``) to a hidden temporary file and, on ``close``, remuxes
it with the source's audio and subtitle packets and renames it into place: the final name never holds a partial file.
"""
import atexit
import dataclasses
import itertools
import logging
import os
import queue
import threading
import weakref
from fractions import Fraction

import numpy as np

from gfpgan.errors import GFPGANError
from gfpgan.utils.concurrency import put_unless_stopped

from .codecs import (OUTPUT_FORMATS, VIDEO_CODECS, VideoError, av_errors, available_video_codecs, ffmpeg_reason,
                     import_av, main_video_stream, stream_end)
from .writer import VideoWriter

__all__ = [
    'VIDEO_EXTENSIONS', 'VIDEO_CODECS', 'OUTPUT_FORMATS', 'VideoError', 'ColorTags', 'VideoInfo', 'VideoFrame',
    'VideoReader', 'VideoWriter', 'is_video_file', 'is_video_input', 'probe', 'available_video_codecs'
]

logger = logging.getLogger('gfpgan')

#: extensions routed to the video path (lower case); FFmpeg reads many more, these are the usual ones
VIDEO_EXTENSIONS = ('.mp4', '.mov', '.mkv', '.avi', '.webm', '.m4v', '.mpg', '.mpeg', '.m2ts', '.mts', '.ts', '.flv',
                    '.wmv', '.3gp', '.ogv', '.mxf')
#: extensions always taken as photos (never probed): OpenCV's and the usual still-image ones
PHOTO_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.jpe', '.jfif', '.webp', '.bmp', '.dib', '.tif', '.tiff', '.ppm', '.pgm',
                    '.pbm', '.pnm', '.pfm', '.pxm', '.sr', '.ras', '.jp2', '.exr', '.hdr', '.pic', '.avif', '.gif',
                    '.heic', '.tga', '.ico')
_QUEUE_FRAMES = 4  # decoded frames the decode thread keeps ready
_LIVE_READERS = weakref.WeakSet()  # readers whose decode thread runs


@atexit.register
def _stop_live_readers():
    """Stop running decode threads before the interpreter finalizes (a daemon thread still inside FFmpeg then could
    take the process down)."""
    for reader in list(_LIVE_READERS):
        reader.close()


def is_video_file(path):
    """Whether ``path`` has a video extension (VIDEO_EXTENSIONS); the file is not opened."""
    return os.path.splitext(os.fspath(path))[1].lower() in VIDEO_EXTENSIONS


def is_video_input(path):
    """Whether the inference command restores ``path`` as a video: a video extension (VIDEO_EXTENSIONS) is, a photo
    extension (PHOTO_EXTENSIONS) is not, both without opening the file; any other extension (.vob .y4m .f4v .divx
    ...) is when OpenCV does not recognise the file as an image and ``probe`` opens it as a moving picture (not an
    image FFmpeg also reads, such as a PNG under another name). Without PyAV only the extension counts."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if ext in VIDEO_EXTENSIONS or ext in PHOTO_EXTENSIONS:
        return ext in VIDEO_EXTENSIONS
    try:
        import cv2
        if cv2.haveImageReader(os.fspath(path)):  # reads the file's signature only
            return False
        info = probe(path)
    except (GFPGANError, OSError):
        return False
    return not (info.format.endswith('_pipe') or info.format in ('image2', 'tty'))


@dataclasses.dataclass(frozen=True)
class ColorTags:
    """How a video's YUV maps to colour, as FFmpeg's enum values: ``colorspace`` (the YUV matrix: 1 BT.709,
    5/6 BT.601, 9 BT.2020, 2 unspecified), ``color_range`` (1 limited 16-235, 2 full, 0 unspecified),
    ``color_primaries`` and ``color_trc`` (transfer; 2 unspecified). Frames are decoded with the source's matrix
    and range and encoded with the same, tagged, so colours do not shift between input and output."""
    colorspace: int = 2
    color_range: int = 0
    color_primaries: int = 2
    color_trc: int = 2


@dataclasses.dataclass
class VideoInfo:
    """What ``probe`` found. ``width``/``height``: of the upright frames (rotation applied); ``fps``: the average
    frame rate, ``frame_rate`` the same as a Fraction; ``time_base``: the unit of the video timestamps;
    ``frame_count``/``duration`` (s): None where the container does not say; ``rotation``: 0/90/180/270, the
    counter-clockwise turn a player applies to the stored frames (PyAV's ``VideoFrame.rotation``; a phone's portrait
    clip reads 270); ``start_pts``: the first frame's timestamp, ``end_pts`` where the video stream ends (the last
    frame's pts + its duration; None where unknown); ``color``: ColorTags (None: unspecified)."""
    path: str
    width: int
    height: int
    fps: float
    time_base: Fraction
    frame_count: int = None
    duration: float = None
    rotation: int = 0
    codec: str = ''
    audio_streams: int = 0
    subtitle_streams: int = 0
    frame_rate: Fraction = None
    start_pts: int = 0
    end_pts: int = None
    format: str = ''
    color: 'ColorTags' = None

    @property
    def estimated_frames(self):
        """``frame_count``, else duration x fps rounded (for a progress bar), else None."""
        if self.frame_count:
            return self.frame_count
        return round(self.duration * self.fps) if self.duration else None

    @property
    def frame_step(self):
        """The nominal gap between frames in ``time_base`` units (>= 1)."""
        rate = self.frame_rate or Fraction(self.fps).limit_denominator(1001)
        return max(1, round(1 / (rate * self.time_base)))


@dataclasses.dataclass
class VideoFrame:
    """One decoded frame: ``image`` (H, W, 3) BGR uint8, upright; ``pts`` in the video's ``time_base`` and ``time``
    in seconds; ``duration`` in ``time_base`` units where the file says."""
    index: int
    image: np.ndarray
    pts: int
    time: float
    duration: int = None


def _open_input(path):
    """``av.open(path)`` with every failure turned into one VideoError sentence naming the file."""
    av = import_av()
    if not os.path.isfile(path):
        raise VideoError(f"The video '{path}' does not exist or is not a file.")
    if os.path.getsize(path) == 0:
        raise VideoError(f"The video '{path}' is empty (0 bytes).")
    try:
        return av.open(path, metadata_errors='replace')
    except av_errors(av) as err:
        raise VideoError(f"'{path}' is not a video FFmpeg can read ({ffmpeg_reason(err)}): it is truncated, damaged "
                         'or not a video file.') from err


def _video_stream(container, path):
    stream = main_video_stream(container)
    if stream is None:
        kinds = sorted({s.type if s.type != 'video' else 'a still picture' for s in container.streams})
        raise VideoError(f"'{path}' has no video stream (it holds {', '.join(kinds) or 'no streams'}).")
    if stream.codec_context is None:
        raise VideoError(f"The video codec of '{path}' is not supported by this FFmpeg build (PyAV has no decoder "
                         'for it): convert the file to H.264 first.')
    return stream


def _upright(image, rotation):
    """The stored (H, W, 3) frame turned as a player shows it (``rotation`` counter-clockwise degrees)."""
    return np.ascontiguousarray(np.rot90(image, rotation // 90)) if rotation else image


def _rotation_of(frame, stream):
    """0/90/180/270: the frame's display matrix, else the legacy ``rotate`` tag (clockwise degrees)."""
    degrees = frame.rotation
    if not degrees and 'rotate' in stream.metadata:
        try:
            degrees = -int(float(stream.metadata['rotate']))
        except ValueError:
            degrees = 0
    return int(round(degrees / 90.0)) * 90 % 360


_MAX_FPS = 240
_RATE_PACKETS = 120  # packets whose timestamps estimate the frame rate when the container's figures are implausible


def _plausible(rate, time_base):
    return bool(rate) and 0 < rate <= _MAX_FPS and rate * time_base < 1


def _frame_rate(container, stream, time_base):
    """The average frame rate: the container's, else FFmpeg's guess, else the mean gap between the first packets'
    timestamps (a variable-rate Matroska file has neither: its average is thrown off by the missing decode timestamps
    of its first packets, and the guess is its millisecond clock)."""
    average, guess = stream.average_rate, stream.guessed_rate or stream.base_rate
    good_guess = _plausible(guess, time_base)
    if _plausible(average, time_base) and (not good_guess or guess / 4 <= average <= guess * 4):
        return Fraction(average)
    if average is None and good_guess:
        return Fraction(guess)
    try:
        container.seek(0, stream=stream)
        stamps = sorted(p.pts for p in itertools.islice(container.demux(stream), _RATE_PACKETS) if p.pts is not None)
    except av_errors(import_av()):
        stamps = []
    if len(stamps) > 1 and stamps[-1] > stamps[0]:
        return Fraction(len(stamps) - 1) / ((stamps[-1] - stamps[0]) * time_base)
    return Fraction(guess) if good_guess else Fraction(25)


def _color_of(frame):
    """The frame's colour description: ColorTags of FFmpeg's enum values."""
    return ColorTags(frame.colorspace, frame.color_range, frame.color_primaries, frame.color_trc)


def probe(path):
    """The VideoInfo of the video file ``path``; decodes the first frame (rotation, proof it decodes).

    Raises VideoError (one sentence naming the file) for a missing, empty or non-video file, no video stream, a
    codec this build cannot decode, no frames, or a first frame that does not decode."""
    path = os.fspath(path)
    av = import_av()
    with _open_input(path) as container:
        stream = _video_stream(container, path)
        try:
            first = next(container.decode(stream), None)
        except av_errors(av) as err:
            raise VideoError(f"The first frame of '{path}' cannot be decoded ({ffmpeg_reason(err)}): the file is "
                             'damaged or truncated.') from err
        if first is None:
            raise VideoError(f"'{path}' has a video stream but no frames.")
        rotation = _rotation_of(first, stream)
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        time_base = stream.time_base or Fraction(1, 25)
        rate = _frame_rate(container, stream, time_base)
        start = first.pts if first.pts is not None else (stream.start_time or 0)
        end = stream_end(stream, start)
        duration = float((end - start) * time_base) if end else None
        if duration is None and container.duration:
            duration = container.duration / 1e6
        return VideoInfo(
            path=path, width=width, height=height, fps=float(rate), time_base=time_base,
            frame_count=stream.frames or None, duration=duration, rotation=rotation,
            codec=stream.codec_context.name, audio_streams=len(container.streams.audio),
            subtitle_streams=len(container.streams.subtitles), frame_rate=Fraction(rate), start_pts=int(start),
            end_pts=end, format=container.format.name, color=_color_of(first))


class VideoReader:
    """Upright BGR frames of a video, decoded by a background thread a few frames ahead (bounded memory).

    Use as a context manager or call ``close()``. A damaged packet is skipped and a read error (a truncated file)
    ends the stream early; both are counted in ``errors`` and logged once at the end, never raised. ``frames_read``
    counts the frames yielded. Timestamps always increase: a frame whose pts repeats or goes back (a damaged file)
    gets the previous pts + 1, counted in ``repaired_timestamps``.
    """

    def __init__(self, path):
        self.path = os.fspath(path)
        self.info = probe(self.path)
        self.errors = 0
        self.frames_read = 0
        self.repaired_timestamps = 0
        self._stop = None
        self._thread = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __len__(self):
        """The frame count the file states, else the estimate from its length (0 when neither is known)."""
        return self.info.estimated_frames or 0

    def close(self):
        """Stop the decode thread (if running) and wait for it."""
        if self._stop is not None:
            self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._thread = self._stop = None
        _LIVE_READERS.discard(self)

    def __iter__(self):
        self.close()
        self.errors = 0
        self.frames_read = 0
        self.repaired_timestamps = 0
        frames = queue.Queue(_QUEUE_FRAMES)
        stop = threading.Event()
        self._stop = stop
        self._thread = threading.Thread(target=self._decode, args=(frames, stop), name='gfpgan-video-decode',
                                        daemon=True)
        self._thread.start()
        _LIVE_READERS.add(self)
        try:
            while True:
                item = frames.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                self.frames_read += 1
                yield item
        finally:
            self.close()
        if self.errors:
            expected = f' of {self.info.frame_count}' if self.info.frame_count else ''
            logger.warning(f"'{self.path}': {self.errors} read/decode error(s), the file is damaged or truncated; "
                           f'{self.frames_read}{expected} frames were read.')

    def _decode(self, frames, stop):
        """The decode thread: demux, decode, convert to upright BGR, hand over; None marks the end."""
        av = import_av()
        errors = av_errors(av)
        try:
            with _open_input(self.path) as container:
                stream = _video_stream(container, self.path)
                stream.thread_type = 'AUTO'
                for frame in self._frames(container, stream, errors):
                    if not put_unless_stopped(frames, frame, stop):
                        return
        except BaseException as err:  # noqa: B902 - handed to the consumer, which re-raises it
            put_unless_stopped(frames, err, stop)
            return
        put_unless_stopped(frames, None, stop)

    def _frames(self, container, stream, errors):
        info = self.info
        packets = container.demux(stream)
        index, last_pts = 0, None
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                break
            except errors:
                self.errors += 1
                break
            try:
                decoded = stream.decode(packet)
            except errors:
                self.errors += 1
                continue
            for frame in decoded:
                pts = frame.pts
                if pts is None:
                    pts = info.start_pts if last_pts is None else last_pts + info.frame_step
                elif last_pts is not None and pts <= last_pts:  # a damaged file: keep the order strictly increasing
                    pts = last_pts + 1
                    self.repaired_timestamps += 1
                last_pts = pts
                image = _upright(frame.to_ndarray(format='bgr24'), info.rotation)
                yield VideoFrame(index=index, image=image, pts=int(pts), time=float(pts * info.time_base),
                                 duration=int(frame.duration) if frame.duration else None)
                index += 1
        if self._ended_early(index, last_pts):
            self.errors += 1

    def _ended_early(self, frames, last_pts):
        """Whether the stream stopped before the frame count or the length the file's header states (a truncated
        file often ends without any read error)."""
        info = self.info
        if info.frame_count:
            return frames < info.frame_count
        if info.end_pts is not None and last_pts is not None:
            return last_pts + 2 * info.frame_step < info.end_pts
        return False
