"""The demo's video step (scripts/demo.py, after training): a short made-up clip of a held-out face restored with
the demo model frame by frame and through the stabilised video path, written side by side.

A held-out face moves along a smooth figure-of-eight with a little zoom and roll (``gfpgan.video.synthetic``), at
the model's face scale, each frame degraded as the demo photo is (blur, fresh noise, JPEG); its reported landmarks
carry a detector's jitter and reach the restorer frame by frame (``gfpgan.benchmark.video.ClipDetector``). The same
restorer runs twice, per frame (every ``StabilityOptions`` switch off: fresh decoder noise, raw landmarks) and
stabilised (all on), as the video benchmark does (``gfpgan.benchmark.video.stability_case``, which also measures
the face flicker of the input and of both with ``gfpgan.metrics.temporal``). The result: an H.264 .mp4 of
input (enlarged by the restorer's factor) | per frame | stabilised, each panel labelled, with the input clip's
sine-tone audio copied, and a still of a few of its frames.
"""
import dataclasses
import os
import tempfile

import numpy as np

__all__ = ['VIDEO_FILE', 'STILL_FILE', 'LABEL_HEIGHT', 'video_available', 'degrade', 'demo_clip', 'side_by_side',
           'restore_demo_video']

VIDEO_FILE = 'video_side_by_side.mp4'
STILL_FILE = 'video_side_by_side.png'
LABEL_HEIGHT = 24  # the label strip above each panel, output pixels (even: H.264's 4:2:0 needs an even height)
PANELS = (('input', 'input'), ('per_frame', 'per frame'), ('stabilised', 'stabilised'))


def video_available():
    """Whether PyAV (the ``av`` package, which writes the video) is installed."""
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def demo_clip(face, landmarks, face_size, frames=48, size=(192, 144), landmark_noise=1.0, seed=0):
    """A ``SyntheticClip`` of the face photo ``face`` (BGR uint8; ``landmarks``: its (5, 2) points) moving along a
    smooth figure-of-eight on a ``size`` = (width, height) background, shown at the scale of a ``face_size`` model
    (its eyes as far apart as the template's at that size), ``landmark_noise`` px of jitter on the reported
    landmarks, each frame then degraded (``degrade``: blur, fresh noise, JPEG), seeded by ``seed``."""
    from gfpgan.faces.templates import FFHQ_TEMPLATE_5
    from gfpgan.video.synthetic import moving_face_clip
    landmarks = np.asarray(landmarks, np.float64).reshape(5, 2)
    template_eyes = np.linalg.norm(FFHQ_TEMPLATE_5[1] - FFHQ_TEMPLATE_5[0]) * face_size / 512
    scale = template_eyes / np.linalg.norm(landmarks[1] - landmarks[0])
    clip = moving_face_clip(face, landmarks, frames=frames, size=size, path='smooth', landmark_noise=landmark_noise,
                            seed=seed, face_height=scale * face.shape[0] / size[1])
    rng = np.random.default_rng(seed)
    return dataclasses.replace(clip, frames=[degrade(f, rng, noise=4, quality=60) for f in clip.frames])


def degrade(img, rng, blur=0.8, noise=6, quality=50):
    """``img`` (BGR uint8) blurred (Gaussian, sigma ``blur``), noised (Gaussian, sd ``noise`` grey levels, drawn
    from ``rng``) and JPEG-compressed at ``quality``: the demo's degradation of a whole photo or video frame."""
    import cv2
    img = cv2.GaussianBlur(img, (0, 0), blur).astype(np.float32) + rng.normal(0, noise, img.shape)
    _, jpeg = cv2.imencode('.jpg', np.clip(img, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    return cv2.imdecode(jpeg, cv2.IMREAD_COLOR)


def _label(panel, text):
    """``panel`` with a dark strip of LABEL_HEIGHT pixels above it carrying ``text``."""
    import cv2
    strip = np.full((LABEL_HEIGHT, panel.shape[1], 3), 32, np.uint8)
    cv2.putText(strip, text, (6, LABEL_HEIGHT - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return np.concatenate([strip, panel], axis=0)


def side_by_side(frames, restored, stability):
    """The side-by-side frames: input (enlarged with Lanczos to the restored size) | per frame | stabilised, each
    with a label strip naming it and its mean face flicker (``stability``: the rows of ``stability_case``)."""
    import cv2
    height, width = restored['per_frame'][0].shape[:2]
    labels = {key: f"{name}: flicker {stability[key]['flicker']:.2f}" for key, name in PANELS}
    labels['input'] = f"input x{width // frames[0].shape[1]}: flicker {stability['input']['flicker']:.2f}"
    out = []
    for i, frame in enumerate(frames):
        panels = {'input': cv2.resize(frame, (width, height), interpolation=cv2.INTER_LANCZOS4),
                  'per_frame': restored['per_frame'][i], 'stabilised': restored['stabilised'][i]}
        out.append(np.concatenate([_label(panels[key], labels[key]) for key, _ in PANELS], axis=1))
    return out


def _write_video(path, frames, clip_frames, fps):
    """Write the side-by-side ``frames`` to ``path`` (via VideoWriter: atomically, H.264 where available) with the
    sine-tone audio of the input clip ``clip_frames`` written at ``fps`` (a temporary file, removed after); returns
    the written video's VideoInfo."""
    from gfpgan.video.io import probe
    from gfpgan.video.synthetic import write_clip
    from gfpgan.video.writer import VideoWriter
    with tempfile.TemporaryDirectory() as folder:
        source = probe(write_clip(os.path.join(folder, 'input.mp4'), clip_frames, fps=fps, audio='sine'))
        height, width = frames[0].shape[:2]
        with VideoWriter(path, source, width, height) as writer:
            for frame in frames:
                writer.write(frame)
    return probe(path)


def restore_demo_video(net, face, landmarks, face_size, out_dir, upscale=2, frames=48, size=(192, 144),
                       landmark_noise=1.0, seed=0, fps=25, still_frames=4):
    """Make the clip (``demo_clip``), restore it with ``net`` per frame and stabilised, and write ``out_dir``/
    VIDEO_FILE and STILL_FILE (``still_frames`` frames of it, evenly spaced, one under the other). Returns the
    metrics.json entry: files, clip, codec and the face flicker of input, per frame and stabilised (grey levels per
    pixel per frame, motion compensated, the true landmarks placing the face; ``gfpgan.metrics.temporal``)."""
    from gfpgan.benchmark.video import ClipDetector, stability_case
    from gfpgan.restoration import GFPGANer
    from gfpgan.utils.img_util import imwrite
    os.makedirs(out_dir, exist_ok=True)
    clip = demo_clip(face, landmarks, face_size, frames, size, landmark_noise, seed)
    restorer = GFPGANer(net=net, upscale=upscale, face_size=face_size, use_parse=False, device='cpu',
                        det_model=None, detector=ClipDetector(clip.frames, clip.noisy_landmarks))
    restored = {}
    stability = stability_case(restorer, clip, identity=None, outputs=restored)
    combined = side_by_side(clip.frames, restored, stability)
    video = os.path.join(out_dir, VIDEO_FILE)
    written = _write_video(video, combined, clip.frames, fps)
    picks = np.linspace(0, len(combined) - 1, min(still_frames, len(combined))).round().astype(int)
    imwrite(np.concatenate([combined[i] for i in picks], axis=0), os.path.join(out_dir, STILL_FILE))
    return {
        'file': VIDEO_FILE, 'still': STILL_FILE, 'frames': len(combined), 'fps': fps,
        'clip_size': list(size), 'panel_size': list(restored['per_frame'][0].shape[1::-1]), 'upscale': upscale,
        'landmark_noise_px': landmark_noise, 'codec': written.codec, 'audio_streams': written.audio_streams,
        'flicker': {key: stability[key]['flicker'] for key, _ in PANELS},
        'flicker_pairs': stability['input']['pairs'],
        'restore_seconds': {key: stability[key]['seconds'] for key in ('per_frame', 'stabilised')},
    }
