"""Made-up clips for tests and benchmarks: a face photo moved over a background along a known path, with its true
and noisy 5-point landmarks per frame, an optional shot cut and a face entering and leaving the frame; and
``write_clip``, which writes frames as a video file with a sine-tone audio track, subtitles and any timestamps.

Everything is deterministic for a given seed and small enough (tens of frames at 320x240) for fast tests.
"""
import dataclasses
import math
import os
from fractions import Fraction

import cv2
import numpy as np

from .codecs import import_av, output_format
from .io import VideoInfo
from .writer import VideoWriter, remove_file, temporary_name

__all__ = ['PATHS', 'SyntheticClip', 'moving_face_clip', 'make_background', 'write_clip', 'CLIP_TIME_BASE',
           'SINE_HZ', 'AUDIO_RATE']

PATHS = ('smooth', 'static', 'pan')
CLIP_TIME_BASE = Fraction(1, 90000)  # the MPEG clock: exact for 24, 25, 30, 50, 60 and 30000/1001 frames/s
SINE_HZ = 440
AUDIO_RATE = 48000


@dataclasses.dataclass
class SyntheticClip:
    """A made-up clip. ``frames``: (H, W, 3) BGR uint8 each; ``true_landmarks``: (5, 2) float per frame in frame
    pixels, None where a landmark lies outside the frame; ``noisy_landmarks``: the same plus Gaussian noise (what a
    jittery detector reports); ``boxes``: (4,) x1 y1 x2 y2 of the pasted face photo, None with the landmarks;
    ``transforms``: (2, 3) face photo -> frame similarity per frame; ``cut``: the first frame after the shot cut, or
    None."""
    frames: list
    true_landmarks: list
    noisy_landmarks: list
    boxes: list
    transforms: list
    cut: int = None

    def __len__(self):
        return len(self.frames)


def make_background(size, seed=0):
    """A (H, W, 3) BGR uint8 background of ``size`` = (width, height): a colour gradient with soft stripes and a few
    blocks, different for each seed (so a shot cut changes the whole picture)."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(40, 200, size=3)
    slope = rng.uniform(-60, 60, size=(3, 2))
    freq = rng.uniform(0.02, 0.06, size=2)
    image = np.empty((height, width, 3), np.float32)
    for c in range(3):
        image[..., c] = (base[c] + slope[c, 0] * x / width + slope[c, 1] * y / height +
                         18 * np.sin(freq[0] * x + freq[1] * y + c))
    for _ in range(4):
        x1, y1 = rng.integers(0, width - 20), rng.integers(0, height - 20)
        w, h = rng.integers(10, max(11, width // 4)), rng.integers(10, max(11, height // 4))
        image[y1:y1 + h, x1:x1 + w] = rng.uniform(20, 235, size=3)
    return np.clip(image, 0, 255).astype(np.uint8)


def _face_mask(height, width):
    """A feathered ellipse covering a face photo, (H, W) float32 in [0, 1]."""
    mask = np.zeros((height, width), np.float32)
    cv2.ellipse(mask, (width // 2, height // 2), (int(width * 0.46), int(height * 0.48)), 0, 0, 360, 1.0, -1)
    blur = max(3, (min(height, width) // 10) | 1)
    return cv2.GaussianBlur(mask, (blur, blur), 0)


def _pose(path, t, size, face_px, enter_leave):
    """(centre x, centre y, scale factor, angle in degrees) at clip time ``t`` in [0, 1]."""
    width, height = size
    phase = 2 * math.pi * t
    if path == 'smooth':
        cx, cy = width / 2 + 0.15 * width * math.sin(phase), height / 2 + 0.08 * height * math.sin(2 * phase)
        scale, angle = 1 + 0.06 * math.sin(phase), 6 * math.sin(phase)
    elif path == 'pan':
        cx, cy, scale, angle = width * (0.3 + 0.4 * t), height / 2, 1.0, 0.0
    else:
        cx, cy, scale, angle = width / 2, height / 2, 1.0, 0.0
    if enter_leave:
        cx = -0.6 * face_px + t * (width + 1.2 * face_px)
    return cx, cy, scale, angle


def moving_face_clip(face, landmarks5, frames=48, size=(320, 240), path='smooth', landmark_noise=1.0, seed=0,
                     cut_at=None, enter_leave=False, background=None, face_height=0.55):
    """A clip of the face photo ``face`` (BGR uint8, the face filling most of it) with its 5 landmarks
    ``landmarks5`` ((5, 2) in ``face`` pixels) pasted on a background, moved along ``path``:

    - ``'smooth'``: a slow figure-of-eight with a little zoom (±6 %) and roll (±6°); ``'static'``: still;
      ``'pan'``: a straight slide across the middle;
    - ``cut_at``: from that frame on, another background and the face mirrored to the other side (a shot cut);
    - ``enter_leave``: the face slides in from the left edge and out at the right one.

    ``size`` = (width, height); ``face_height``: the face photo's height as a fraction of the frame's;
    ``background``: a BGR image (resized to ``size``) or None for ``make_background(size, seed)``;
    ``landmark_noise``: the standard deviation in pixels of the noise added to ``noisy_landmarks`` (seeded).
    """
    if path not in PATHS:
        raise ValueError(f'path must be one of {", ".join(PATHS)}, got {path!r}.')
    if frames < 1:
        raise ValueError(f'frames must be at least 1, got {frames}.')
    face = np.asarray(face)
    landmarks5 = np.asarray(landmarks5, np.float64).reshape(5, 2)
    width, height = size
    rng = np.random.default_rng(seed)
    if background is None:
        first_bg = make_background(size, seed)
    else:
        first_bg = cv2.resize(np.asarray(background), (width, height), interpolation=cv2.INTER_AREA)
    second_bg = make_background(size, seed + 1000)
    fh, fw = face.shape[:2]
    base = face_height * height / fh
    mask = _face_mask(fh, fw)
    corners = np.array([[0, 0], [fw, 0], [fw, fh], [0, fh]], np.float64)
    clip = SyntheticClip([], [], [], [], [], cut=cut_at)
    for i in range(frames):
        t = i / max(1, frames - 1)
        cx, cy, scale, angle = _pose(path, t, size, base * fw, enter_leave)
        after_cut = cut_at is not None and i >= cut_at
        if after_cut:
            cx = width - cx
        matrix = cv2.getRotationMatrix2D((fw / 2, fh / 2), angle, base * scale)
        matrix[:, 2] += (cx - fw / 2, cy - fh / 2)
        warped = cv2.warpAffine(face, matrix, (width, height), flags=cv2.INTER_LINEAR)
        alpha = cv2.warpAffine(mask, matrix, (width, height), flags=cv2.INTER_LINEAR)[..., None]
        bg = second_bg if after_cut else first_bg
        clip.frames.append(np.clip(bg * (1 - alpha) + warped * alpha + 0.5, 0, 255).astype(np.uint8))
        clip.transforms.append(matrix)
        points = landmarks5 @ matrix[:, :2].T + matrix[:, 2]
        noise = rng.normal(0.0, landmark_noise, size=(5, 2))  # drawn every frame: the noise stays seed-stable
        inside = np.all((points >= 0) & (points < (width, height)))
        if inside:
            box_points = corners @ matrix[:, :2].T + matrix[:, 2]
            clip.true_landmarks.append(points)
            clip.noisy_landmarks.append(points + noise)
            clip.boxes.append(np.concatenate([box_points.min(0), box_points.max(0)]))
        else:
            clip.true_landmarks.append(None)
            clip.noisy_landmarks.append(None)
            clip.boxes.append(None)
    return clip


def _subtitle_codec(fmt):
    if fmt in ('mp4', 'mov'):
        return 'mov_text'
    if fmt == 'webm':
        return 'webvtt'
    if fmt == 'matroska':
        return 'subrip'
    raise ValueError(f'A {fmt} file cannot hold subtitles; write .mp4, .mov, .mkv or .webm.')


def _audio_codec(fmt, audio):
    if audio == 'pcm':
        if fmt in ('mp4', 'webm'):
            raise ValueError(f"PCM audio cannot go into a {fmt} file; use audio='sine' or .mkv / .mov / .avi.")
        return 'pcm_s16le', 's16'
    if fmt == 'webm':
        return 'libopus', 'flt'
    return 'aac', 'fltp'


def _write_side_streams(path, fmt, seconds, audio, subtitles):
    """Write ``path``: the audio tone and the subtitles only (the streams VideoWriter then copies next to the video)."""
    av = import_av()
    with av.open(path, 'w', format=fmt) as container:
        audio_stream = subtitle_stream = None
        if audio:
            codec, sample_format = _audio_codec(fmt, audio)
            audio_stream = container.add_stream(codec, rate=AUDIO_RATE, layout='mono')
        if subtitles:
            subtitle_stream = container.add_mux_stream(_subtitle_codec(fmt), time_base=Fraction(1, 1000))
        if audio_stream is not None:
            samples = int(round(seconds * AUDIO_RATE))
            tone = 0.3 * np.sin(2 * np.pi * SINE_HZ * np.arange(samples) / AUDIO_RATE)
            if sample_format == 's16':
                tone = (tone * 32767).astype(np.int16)
            else:
                tone = tone.astype(np.float32)
            chunk = 960 if fmt == 'webm' else 1024
            for start in range(0, samples, chunk):
                frame = av.AudioFrame.from_ndarray(tone[None, start:start + chunk], format=sample_format,
                                                   layout='mono')
                frame.sample_rate = AUDIO_RATE
                frame.pts = start
                for packet in audio_stream.encode(frame):
                    container.mux(packet)
            for packet in audio_stream.encode(None):
                container.mux(packet)
        for start, end, text in subtitles or ():
            data = text.encode('utf-8')
            if fmt in ('mp4', 'mov'):  # mov_text: a 2-byte big-endian length, then UTF-8
                data = len(data).to_bytes(2, 'big') + data
            packet = av.Packet(data)
            packet.stream = subtitle_stream
            packet.time_base = Fraction(1, 1000)
            packet.pts = packet.dts = int(round(start * 1000))
            packet.duration = int(round((end - start) * 1000))
            container.mux(packet)


def write_clip(path, frames, fps=25, audio='sine', subtitles=None, codec='auto', vfr_pts=None, time_base=None,
               rotation=0, crf=18, color=None):
    """Write ``frames`` (upright BGR uint8, all one size) as the video ``path`` and return ``path``.

    ``fps``: frame rate (a number or Fraction); ``vfr_pts``: the frames' timestamps in ``time_base`` (default
    CLIP_TIME_BASE) for a variable frame rate, else frame i is at i / fps; ``audio``: ``'sine'`` (a 440 Hz tone,
    AAC, Opus in .webm), ``'pcm'`` (the tone as 16-bit PCM; .mkv / .mov / .avi) or None, as long as the video;
    ``subtitles``: (start s, end s, text) cues; ``rotation``: display rotation (0/90/180/270, counter-clockwise) to
    store, the frames being stored turned back; ``codec`` / ``crf``: as VideoWriter; ``color``: the ColorTags to
    encode with and tag (None: untagged, FFmpeg's BT.601 default)."""
    path = os.fspath(path)
    fmt = output_format(path)
    if not frames:
        raise ValueError(f'write_clip needs at least one frame for {path!r}.')
    height, width = frames[0].shape[:2]
    rate = Fraction(fps).limit_denominator(1001)
    time_base = Fraction(time_base) if time_base is not None else CLIP_TIME_BASE
    step = max(1, round(1 / (rate * time_base)))
    pts = [int(p) for p in vfr_pts] if vfr_pts is not None else [i * step for i in range(len(frames))]
    if len(pts) != len(frames):
        raise ValueError(f'vfr_pts has {len(pts)} timestamps for {len(frames)} frames.')
    last_gap = pts[-1] - pts[-2] if len(pts) > 1 else step
    end = pts[-1] + last_gap
    side = None
    if audio or subtitles:
        side = temporary_name(path, 'side')
    try:
        if side:
            _write_side_streams(side, fmt, float((end - pts[0]) * time_base), audio, subtitles)
        source = VideoInfo(path=side, width=width, height=height, fps=float(rate), time_base=time_base,
                           frame_count=len(frames), rotation=rotation % 360, frame_rate=rate, start_pts=pts[0],
                           end_pts=end, color=color)
        with VideoWriter(path, source, width, height, codec=codec, crf=crf) as writer:
            for image, stamp in zip(frames, pts):
                writer.write(image, pts=stamp)
    finally:
        if side:
            remove_file(side)
    return path
