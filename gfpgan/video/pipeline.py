"""Temporally stable restoration of a sequence of frames with a ``GFPGANer``: faces tracked across frames
(``tracking``), their 5-point landmarks smoothed along each track before alignment and their paste masks smoothed in
the aligned frame (``smoothing``), the decoder's noise fixed instead of redrawn every frame, faces of consecutive
frames restored in batches. Streaming, with bounded buffers: a frame leaves ``lookahead`` frames after the landmark
smoothing needs it, plus a batch, plus ``lookahead`` for the masks. ``restore_video`` runs it between the video
reader's decode thread and an encode thread, so that decoding, restoration and encoding overlap.

With every stability option off each frame is restored exactly as the photo path (``GFPGANer.enhance``) does."""
import collections
import dataclasses
import os
import queue
import threading
import time

import numpy as np

from gfpgan.errors import os_error_at
from gfpgan.faces.alignment import least_squares_alignment
from gfpgan.restoration.core import Face, align_faces, as_bgr_uint8, detect_faces, inverse_affines, pad_faces, \
    paste_faces, three_point_landmarks

from .smoothing import TrackWindow
from .tracking import FaceTracker, TrackedFace

__all__ = ['StabilityOptions', 'FrameRestorer', 'restore_frames', 'restore_video', 'frame_image',
           'steady_alignment']

ENCODE_QUEUE_FRAMES = 4  # restored frames waiting for the encode thread


@dataclasses.dataclass
class StabilityOptions:
    """What makes a restored video steady; each can be switched off to compare.

    tracking: follow faces across frames (off: every frame detected alone, no cut detection, so nothing is smoothed).
    smooth_landmarks: smooth each track's landmarks over [t - window, t + lookahead] frames before alignment, and
        fit the crop to them by least squares (``steady_alignment``), not by the photo path's robust LMEDS fit.
    fixed_noise: the decoder's fixed noise buffers for every face and frame (off: fresh noise every forward pass,
        as for photos).
    smooth_masks: smooth each track's parsed paste mask over the same window (only with a face parser; the
        parser-free mask follows the already smoothed alignment).
    detect_every: run the detector every n-th frame, optical flow in between (with tracking).
    lookahead / window: the frames after / before the current one that the smoothing sees; degree: of the local
        polynomial fitted to the landmarks (2: exact for accelerating motion, 1: for constant speed, 0: a mean).
    max_lost: frames a track survives unmatched; fill_gaps: of those, how many it is still carried by optical flow
        and restored (a face the detector misses for a frame or two). cut_threshold: the shot-cut histogram distance.
    """
    tracking: bool = True
    smooth_landmarks: bool = True
    fixed_noise: bool = True
    smooth_masks: bool = True
    detect_every: int = 1
    lookahead: int = 4
    window: int = 8
    degree: int = 2
    max_lost: int = 5
    fill_gaps: int = 2
    cut_threshold: float = 0.3

    @classmethod
    def off(cls, **kwargs):
        """Every stability option off: each frame restored as a photo is."""
        return cls(tracking=False, smooth_landmarks=False, fixed_noise=False, smooth_masks=False, **kwargs)

    def problems(self):
        """Sentences naming each invalid setting (empty when all are fine)."""
        found = []
        for name in ('detect_every', 'lookahead', 'window', 'max_lost', 'fill_gaps', 'degree'):
            value = getattr(self, name)
            least = 1 if name == 'detect_every' else 0
            if not isinstance(value, (int, np.integer)) or value < least:
                found.append(f'{name} must be a whole number of frames >= {least}, got {value!r}.')
        if not 0 < self.cut_threshold <= 1:
            found.append(f'cut_threshold must lie in (0, 1], got {self.cut_threshold!r}.')
        return found

    def check(self):
        """Raise ValueError naming the first invalid setting."""
        problems = self.problems()
        if problems:
            raise ValueError(problems[0])
        return self


def frame_image(item):
    """The BGR image of a frame: a ``VideoFrame`` (``.image``), a (pts, image) pair, or the image itself."""
    if hasattr(item, 'image'):
        return item.image
    if isinstance(item, tuple):
        return item[1]
    return item


@dataclasses.dataclass
class _Work:
    """One frame on its way through: the caller's ``item``, its BGR uint8 ``image``, its position ``index``, its
    tracked faces, then aligned core ``Face`` records, restored faces and raw paste masks."""
    item: object
    image: np.ndarray
    index: int
    tracked: list
    aligned: list = None
    restored: list = None
    masks: list = None


class FrameRestorer:
    """The streaming state of ``restore_frames``: ``push(item)`` takes the next frame and yields the (item, restored
    image) pairs that became ready; ``finish()`` yields the rest. ``stats``: frames, faces, tracks, cuts so far."""

    def __init__(self, restorer, options=None, weight=1.0, only_center_face=False):
        self.restorer = restorer
        self.options = options = (options or StabilityOptions()).check()
        self.weight = weight
        helper = restorer.face_helper
        self.helper = helper
        self.select = 'center' if only_center_face else None
        self.tracker = None
        if options.tracking:
            self.tracker = FaceTracker(helper.face_det, options.detect_every, options.max_lost,
                                       cut_threshold=options.cut_threshold, select=self.select,
                                       fill_gaps=options.fill_gaps)
        self.next_id = 0
        self.landmarks = TrackWindow(options.window, options.lookahead, degree=options.degree) \
            if options.tracking and options.smooth_landmarks else None
        self.masks = TrackWindow(options.window, options.lookahead, degree=0) \
            if options.tracking and options.smooth_masks and helper.use_parse else None
        self._tracked, self._batch, self._restored = collections.deque(), [], collections.deque()
        self._batch_faces = 0
        self.stats = dict(frames=0, faces=0, tracks=0, cuts=0)

    def push(self, item):
        """Take the next frame (a ``VideoFrame``, a (pts, image) pair or a BGR image); yield what is ready."""
        image = as_bgr_uint8(frame_image(item))
        tracked = self._track(image)
        index = self.stats['frames']
        self.stats['frames'] += 1
        if self.landmarks is not None:
            for face in tracked:
                self.landmarks.add(face.track_id, index, face.landmarks)
        self._tracked.append(_Work(item, image, index, tracked))
        yield from self._advance(final=False)

    def finish(self):
        """Yield every frame still held."""
        yield from self._advance(final=True)

    def _track(self, image):
        if self.tracker is not None:
            tracked = self.tracker.update(image)
            self.stats['tracks'], self.stats['cuts'] = self.tracker.next_id, self.tracker.num_cuts
            return tracked
        found = detect_faces(image, self.helper.face_det, eye_dist_threshold=5, select=self.select)
        tracked = [TrackedFace(self.next_id + k, f.box, f.score, f.landmarks) for k, f in enumerate(found)]
        self.next_id += len(found)
        self.stats['tracks'] = self.next_id
        return tracked

    def _advance(self, final):
        delay = 0 if self.landmarks is None else self.options.lookahead
        while self._tracked and (final or len(self._tracked) > delay):
            work = self._tracked.popleft()
            self._align(work)
            self._batch.append(work)
            self._batch_faces += len(work.aligned)
            size = self.restorer.batch_size
            if self._batch_faces >= size or len(self._batch) >= size:
                self._restore_batch()
        if final and self._batch:
            self._restore_batch()
        delay = 0 if self.masks is None else self.options.lookahead
        while self._restored and (final or len(self._restored) > delay):
            work = self._restored.popleft()
            yield work.item, self._paste(work)

    def _align(self, work):
        """Core ``Face`` records of the frame's faces, aligned at their (smoothed) landmarks."""
        helper, faces = self.helper, []
        for face in work.tracked:
            points = face.landmarks if self.landmarks is None else self.landmarks.smoothed(face.track_id, work.index)
            if helper.template_3points:
                points = three_point_landmarks(points)
            faces.append(Face(face.box, face.score, points))
        if self.landmarks is not None:
            self.landmarks.forget_before(work.index + 1)
        if helper.pad_blur:
            faces = pad_faces(work.image, faces)
        if self.landmarks is None:
            work.aligned = align_faces(work.image, faces, helper.face_template, helper.face_size)
        else:
            work.aligned = steady_alignment(work.image, faces, helper.face_template, helper.face_size)

    def _restore_batch(self):
        """Restore the faces of the gathered frames in one go (``batch_size`` a forward pass) and parse their masks."""
        crops = [face.crop for work in self._batch for face in work.aligned]
        restored = self.restorer.restore_faces(crops, self.weight, randomize_noise=not self.options.fixed_noise)
        self.stats['faces'] += len(crops)
        for work in self._batch:
            work.restored, restored = restored[:len(work.aligned)], restored[len(work.aligned):]
            if self.helper.use_parse:
                work.masks = [self.helper._parse_mask(face) for face in work.restored]
                if self.masks is not None:
                    for face, mask in zip(work.tracked, work.masks):
                        self.masks.add(face.track_id, work.index, mask.astype(np.float32))
            self._restored.append(work)
        self._batch, self._batch_faces = [], 0

    def _paste(self, work):
        """The frame upscaled (by the background upsampler when there is one) with its restored faces pasted."""
        helper, restorer = self.helper, self.restorer
        face_mask = None
        if helper.use_parse:
            masks = work.masks
            if self.masks is not None:
                masks = [self.masks.smoothed(face.track_id, work.index) for face in work.tracked]
                self.masks.forget_before(work.index + 1)
            face_mask = _by_identity(work.restored, masks)
        background = None
        if restorer.bg_upsampler is not None:
            background = restorer.bg_upsampler.enhance(work.image, outscale=restorer.upscale)[0]
        return paste_faces(work.image, work.restored, inverse_affines(work.aligned, helper.upscale_factor),
                           helper.upscale_factor, background, face_mask)


def steady_alignment(img, faces, template, size):
    """``align_faces`` with a least-squares similarity fit instead of the photo path's LMEDS one, for smoothed
    landmarks. LMEDS keeps the points that agree best with the template and refits on those alone; the set it keeps
    changes from one frame to the next as a face's points drift against the template by a fraction of a pixel, and
    then the crop jumps (by 1-2 crop pixels on the benchmark clip: the restored face flickers for that pair). The
    least-squares fit moves as little as the smoothed landmarks do."""
    return align_faces(img, faces, template, size, fit=least_squares_alignment)


def _by_identity(faces, masks):
    """``paste_faces``' ``face_mask``: the mask given for each of these face arrays (it may skip a face)."""
    by_face = {id(face): mask for face, mask in zip(faces, masks)}
    return lambda face: by_face[id(face)]


def restore_frames(restorer, frames, options=None, weight=1.0, only_center_face=False, stats=None):
    """Restore a sequence of frames with ``restorer`` (a ``GFPGANer``) under the ``StabilityOptions`` (default: all
    on): ``frames`` yields ``VideoFrame``s, (pts, image) pairs or BGR uint8 images; yields (frame, restored BGR
    uint8 image, upscaled by ``restorer.upscale``) in order, streaming (a bounded number of frames held). ``stats``
    (a dict) is kept updated with the frames, faces, tracks and cuts seen."""
    state = FrameRestorer(restorer, options, weight, only_center_face)
    if stats is not None:
        state.stats = stats
        stats.update(frames=0, faces=0, tracks=0, cuts=0)
    for item in frames:
        yield from state.push(item)
    yield from state.finish()


_END = object()


class _EncodeThread:
    """Writes restored frames (``VideoFrame``s) through ``writer`` from a thread, with a small bounded queue; also
    saves each as a PNG under ``save_frames`` when given. An error of the thread is raised by the next ``put`` or
    by ``close``."""

    def __init__(self, writer, save_frames=None):
        self.writer = writer
        self.save_frames = save_frames
        self.error = None
        self._queue = queue.Queue(ENCODE_QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name='gfpgan-video-encode', daemon=True)
        self._thread.start()

    def _run(self):
        from gfpgan.utils.img_util import imwrite
        while True:
            frame = self._queue.get()
            if frame is _END:
                return
            if self.error is not None:
                continue  # keep draining, so that put never blocks on a dead consumer
            try:
                self.writer.write(frame)
                if self.save_frames is not None:
                    png = os.path.join(self.save_frames, f'{frame.index:06d}.png')
                    try:
                        imwrite(frame.image, png)
                    except OSError as err:  # a full disk names the frame (fatal to the run, as for the video)
                        raise os_error_at(err, png) from err
            except BaseException as err:  # handed to the caller's thread
                self.error = err

    def put(self, frame):
        if self.error is not None:
            raise self.error
        self._queue.put(frame)

    def close(self, raise_error=True):
        """Wait until every frame put is written; raise the thread's error (unless ``raise_error`` is False)."""
        self._queue.put(_END)
        self._thread.join()
        if raise_error and self.error is not None:
            raise self.error


def restore_video(restorer, input_path, output_path, options=None, codec='auto', crf=18, save_frames=None,
                  progress=True, weight=1.0, only_center_face=False):
    """Restore the faces of the video ``input_path`` into ``output_path`` (container by its extension) with
    ``restore_frames``: the same frame count and timestamps, rotation metadata, audio and subtitle streams copied
    (``gfpgan.video.io.VideoWriter``); the output appears under its name only once complete. ``codec`` / ``crf``:
    the writer's; ``save_frames``: a folder that also receives every restored frame as <index>.png (six digits,
    000000.png on). A progress bar (frames/s, ETA) unless ``progress`` is False. Returns a summary dict: input,
    output, frames, faces, tracks, cuts, seconds, fps, read_errors, codec, dropped_streams. VideoError names the
    file when it cannot be read or written."""
    from tqdm import tqdm
    from .io import VideoReader, VideoWriter
    start = time.perf_counter()
    stats = {}
    with VideoReader(input_path) as reader:
        info = reader.info
        size = int(info.width * restorer.upscale), int(info.height * restorer.upscale)
        bar = tqdm(total=info.estimated_frames, unit='frame', desc=os.path.basename(os.fspath(input_path)),
                   disable=not progress, leave=False)
        try:
            with VideoWriter(output_path, info, *size, codec=codec, crf=crf) as writer:
                encoder = _EncodeThread(writer, save_frames)
                try:
                    for frame, image in restore_frames(restorer, reader, options, weight, only_center_face, stats):
                        encoder.put(dataclasses.replace(frame, image=image))
                        bar.update()
                except BaseException:
                    encoder.close(raise_error=False)
                    raise
                encoder.close()
        finally:
            bar.close()
        seconds = time.perf_counter() - start
        return dict(input=os.fspath(input_path), output=os.fspath(output_path), **stats, seconds=seconds,
                    fps=stats['frames'] / seconds if seconds > 0 else 0.0, read_errors=reader.errors,
                    codec=writer.codec.name, dropped_streams=list(writer.dropped_streams))
