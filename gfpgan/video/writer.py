"""Writing a video: ``VideoWriter`` encodes upright BGR frames with the source's timestamps and rotation to a hidden
temporary file and, on ``close``, remuxes it with the source's audio and subtitle packets (``gfpgan.video.remux``)
into a second temporary that is then renamed into place, so the final name never holds a partial file."""
import dataclasses
import logging
import math
import os
import re
import secrets
from fractions import Fraction

import numpy as np

from gfpgan.utils.fileio import remove_stale_files

from .codecs import (VideoError, av_errors, crf_problem, encoder_options, ffmpeg_failure, import_av, output_format,
                     resolve_codec)
from .remux import remux

__all__ = ['VideoWriter', 'temporary_name', 'remove_file', 'is_video_temporary', 'remove_stale_video_temporaries',
           'STALE_AFTER_S']

logger = logging.getLogger('gfpgan')

_VIDEO_TEMPORARY = re.compile(r'\..+\.(?:video|mux)\.[0-9a-f]{8}\.tmp')
#: a writer's temporary untouched this long (s) is a killed run's: a live one grows every few frames
STALE_AFTER_S = 3600.0


def temporary_name(path, tag):
    """A hidden temporary next to ``path`` named like gfpgan.utils.fileio's (``.<name>.<tag>.<8 hex>.tmp``), so a
    killed run's leftovers are recognised by ``remove_stale_temporaries``."""
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f'.{name}.{tag}.{secrets.token_hex(4)}.tmp')


def is_video_temporary(name):
    """Whether the file name ``name`` is one of VideoWriter's temporaries (``.<name>.video|mux.<8 hex>.tmp``)."""
    return _VIDEO_TEMPORARY.fullmatch(name) is not None


def remove_stale_video_temporaries(folder, min_age_s=STALE_AFTER_S):
    """Remove the temporaries a killed VideoWriter left in ``folder`` (not its subfolders): regular files whose
    name is a writer's temporary (``is_video_temporary``; nothing else is touched) last modified at least
    ``min_age_s`` seconds ago. A run still writing into the same folder keeps its own: its encoded temporary grows
    every few frames and its remuxed one is written in one go. Returns the [(path, bytes)] removed."""
    return remove_stale_files(folder, min_age_s, is_video_temporary)


def remove_file(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


class VideoWriter:
    """Encode upright BGR frames into ``path`` with the timing, rotation, audio and subtitles of ``source``.

    ``width``/``height``: the upright output size (the restored frames'). ``codec``: ``'auto'`` (H.264 where the
    build has libx264, else MPEG-4 with a warning), ``'h264'``, ``'hevc'``, ``'vp9'``, ``'mpeg4'``, ``'ffv1'``
    (lossless); ``crf``: quality, lower is better (H.264 scale, 18 is visually lossless); ``preset``: encoder speed
    preset. ``copy_streams``: copy the source's audio and subtitle streams (packets unchanged) on ``close``.

    Frames go to a hidden temporary file; ``close`` remuxes it with the copied streams into a second temporary and
    renames that to ``path``. Leaving a ``with`` block by an exception (or calling ``abort``) removes both, so
    ``path`` never holds a partial file. Streams the output container cannot hold are left out with a warning and
    listed in ``dropped_streams``.
    """

    def __init__(self, path, source, width, height, codec='auto', crf=18, preset=None, copy_streams=True):
        av = import_av()
        self.path = os.fspath(path)
        self.source = source
        self.width, self.height = int(width), int(height)
        self.copy_streams = copy_streams
        if source.path and os.path.exists(self.path) and os.path.samefile(source.path, self.path):
            raise VideoError(f"The output '{self.path}' is the input video itself: choose another output name.")
        self.format = output_format(self.path)
        self.codec, self.encoder, note = resolve_codec(codec, self.path)
        if note:
            logger.warning(note)
        if self.codec.subsampled and (self.width % 2 or self.height % 2):
            raise VideoError(f"Cannot encode '{self.path}' at {self.width}x{self.height} with {self.codec.name}: its "
                             "4:2:0 colour needs an even width and height; use --video_codec ffv1 or an even size.")
        problem = crf_problem(self.codec, crf)
        if problem:
            raise ValueError(f'crf: {problem}')
        self.rotation = source.rotation or 0
        self._color = _yuv_color(source.color) if self.codec.pix_fmt.startswith('yuv') else None
        self.time_base = source.time_base
        self._rate = source.frame_rate or Fraction(source.fps).limit_denominator(1001)
        # AVI counts frames: its time base is one frame, and a timestamp is a frame number
        self._stream_tb = 1 / self._rate if self.format == 'avi' else self.time_base
        self.frames_written = 0
        self.dropped_streams = []
        self._pending = None
        self._durations = {}  # presentation time -> duration (s) of the frames inside the encoder
        self._end_time = None  # where the last frame ends (s)
        self._last_pts = None
        self._closed = False
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        self._video_tmp = temporary_name(self.path, 'video')
        self._final_tmp = None
        try:
            self._container = av.open(self._video_tmp, 'w', format=self.format,
                                      options=_muxer_options(self.format, [self._stream_tb]))
            self._stream = self._add_video_stream(crf, preset)
            self._container.start_encoding()  # opens the encoder and the file now: a bad setting fails here
        except av_errors(av) as err:
            self.abort()
            raise ffmpeg_failure(err, self.path, f"Cannot start writing '{self.path}' with {self.encoder}") from err
        except BaseException:
            self.abort()
            raise

    def _add_video_stream(self, crf, preset):
        stored_w, stored_h = (self.height, self.width) if self.rotation in (90, 270) else (self.width, self.height)
        try:
            options = encoder_options(self.codec, crf, preset)
            if self.format == 'avi':
                options['bf'] = '0'  # AVI stores no presentation timestamps: reordered B-frames would scramble them
            stream = self._container.add_stream(self.encoder, rate=self._rate, options=options)
        except ValueError as err:
            raise VideoError(f"Cannot write {self.codec.name} video into '{self.path}' ({err}): choose another "
                             'codec or extension (.mkv holds every codec).') from err
        stream.width, stream.height, stream.pix_fmt = stored_w, stored_h, self.codec.pix_fmt
        stream.time_base = self._stream_tb
        stream.codec_context.time_base = _encoder_time_base(self._stream_tb, self.codec.name)
        if self.rotation:
            stream.set_display_rotation(self.rotation)
        color = self._color
        if color is not None:
            context = stream.codec_context
            context.colorspace, context.color_primaries, context.color_trc = (color.colorspace, color.color_primaries,
                                                                              color.color_trc)
            if color.color_range:
                context.color_range = color.color_range
        return stream

    def _to_encoder(self, stored):
        """The stored-orientation BGR image as an av.VideoFrame in the encoder's pixel format, converted with the
        source's YUV matrix and range and tagged with them."""
        av = import_av()
        frame = av.VideoFrame.from_ndarray(stored, format='bgr24')
        color = self._color
        if color is None:
            return frame
        known = color.colorspace != 2  # 2 unspecified: FFmpeg's default matrix (BT.601)
        frame = frame.reformat(format=self.codec.pix_fmt, dst_colorspace=color.colorspace if known else None,
                               dst_color_range=color.color_range or None)
        frame.colorspace, frame.color_primaries, frame.color_trc = (color.colorspace, color.color_primaries,
                                                                    color.color_trc)
        if color.color_range:
            frame.color_range = color.color_range
        return frame

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def write(self, frame, pts=None):
        """Add one frame: a VideoFrame (its pts and duration are used) or an (height, width, 3) BGR uint8 array.
        ``pts`` (in the source's ``time_base``) overrides; without any, frames follow the nominal frame rate."""
        if self._closed:
            raise ValueError(f"The video writer of '{self.path}' is already closed.")
        duration = None
        if hasattr(frame, 'image'):  # a gfpgan.video.io.VideoFrame
            image, pts, duration = frame.image, frame.pts if pts is None else pts, getattr(frame, 'duration', None)
        else:
            image = frame
        image = np.asarray(image)
        if image.shape != (self.height, self.width, 3) or image.dtype != np.uint8:
            raise ValueError(f'A frame for {self.path!r} must be ({self.height}, {self.width}, 3) uint8 BGR, got '
                             f'{image.shape} {image.dtype}.')
        if pts is None:
            pts = self.source.start_pts if self._last_pts is None else self._last_pts + self.source.frame_step
        pts = int(pts)
        if self._last_pts is not None and pts <= self._last_pts:
            raise ValueError(f'Frame timestamps must increase: pts {pts} after {self._last_pts} for {self.path!r}.')
        self._last_pts = pts
        if self._pending is not None:
            self._encode(*self._pending, next_pts=pts)
        self._pending = (image, pts, duration)

    def _encode(self, image, pts, duration, next_pts=None):
        av = import_av()
        if next_pts is not None:
            duration = next_pts - pts
        stored = np.ascontiguousarray(np.rot90(image, -(self.rotation // 90))) if self.rotation else image
        frame = self._to_encoder(stored)
        duration = duration or self.source.frame_step
        if self._stream_tb != self.time_base:
            scale = self.time_base / self._stream_tb
            pts, duration = round(pts * scale), max(1, round(duration * scale))
        frame.pts = pts
        frame.time_base = self._stream_tb
        frame.duration = duration
        self._durations[pts * self._stream_tb] = duration * self._stream_tb
        self._end_time = (pts + duration) * self._stream_tb
        try:
            self._mux(self._stream.encode(frame))
        except av_errors(av) as err:
            raise ffmpeg_failure(err, self.path, f"Encoding '{self.path}' with {self.encoder} failed") from err
        self.frames_written += 1

    def _finish_encoding(self):
        """Flush the encoder and close the encoded temporary; FFmpeg errors raised as by ``_encode``."""
        av = import_av()
        try:
            self._mux(self._stream.encode(None))
            self._container.close()
        except av_errors(av) as err:
            raise ffmpeg_failure(err, self.path, f"Finishing '{self.path}' with {self.encoder} failed") from err
        self._container = None

    def _mux(self, packets):
        """Mux encoded packets, each with its own frame's duration: encoders with B-frames (libx264) leave it 0, and
        the container then guesses the last frame's length from the frame rate."""
        for packet in packets:
            if packet.pts is not None:
                duration = self._durations.pop(packet.pts * packet.time_base, None)
                if duration is not None and not packet.duration:
                    packet.duration = max(1, round(duration / packet.time_base))
            self._container.mux(packet)

    def _source_end(self):
        """The source's end timestamp when it closes the last written frame within two nominal frames (then the
        output lasts as long as the source), else None."""
        end = self.source.end_pts
        if end is not None and 0 < end - self._last_pts <= 2 * self.source.frame_step:
            return end
        return None

    def close(self):
        """Finish encoding, copy the source's audio and subtitle streams, and move the file to ``path``."""
        if self._closed:
            return
        try:
            if self._pending is not None:
                self._encode(*self._pending, next_pts=self._source_end())
                self._pending = None
            if self.frames_written == 0:
                raise VideoError(f"No frames were written to '{self.path}', so no video was made.")
            self._finish_encoding()
            source = self.source.path if self.copy_streams else None
            if source:
                self._final_tmp = temporary_name(self.path, 'mux')
                self.dropped_streams = remux(self._video_tmp, source, self._final_tmp, self.format,
                                             _muxer_options, name=self.path, end_time=self._end_time)
                remove_file(self._video_tmp)
                done = self._final_tmp
            else:
                done = self._video_tmp
            os.replace(done, self.path)
        except BaseException:
            self.abort()
            raise
        self._closed = True
        for dropped in self.dropped_streams:
            logger.warning(f"'{self.path}': {dropped}")

    def abort(self):
        """Stop without a result: close and remove the temporaries; ``path`` is not touched."""
        self._closed = True
        container, self._container = getattr(self, '_container', None), None
        if container is not None:
            try:
                container.close()
            except Exception:  # noqa: B902 - closing a half-written file may fail in many ways; it is removed next
                pass
        for tmp in (self._video_tmp, self._final_tmp):
            if tmp:
                remove_file(tmp)


def _yuv_color(color):
    """The colour tags for YUV output from the source's; an RGB source (matrix 0) leaves the matrix unspecified."""
    if color is None or color.colorspace != 0:
        return color
    return dataclasses.replace(color, colorspace=2)


def _encoder_time_base(time_base, codec):
    """``time_base`` for the encoder; MPEG-4 Part 2 takes denominators up to 65535 only, so it gets 1/d for the
    largest divisor d of the denominator that fits (timestamps stay exact when they are multiples of its tick)."""
    if codec != 'mpeg4' or time_base.denominator <= 65535:
        return time_base
    divisor = max(d for d in range(1, 65536) if time_base.denominator % d == 0)
    return Fraction(time_base.numerator, divisor) if divisor > 1 else Fraction(1, 65535)


def _muxer_options(fmt, time_bases):
    """Muxer options: for MP4 / MOV a movie time scale in which every stream's start offset (edit list) is exact."""
    if fmt not in ('mp4', 'mov'):
        return {}
    scale = 1000
    for tb in time_bases:
        if tb:
            scale = scale * tb.denominator // math.gcd(scale, tb.denominator)
    return {'movie_timescale': str(scale)} if scale < 2**31 else {}
