"""The video benchmark of scripts/benchmark_video.py (issue 17's targets): the same restorer run over a made-up
talking-head clip frame by frame with fresh decoder noise and no smoothing, and through the stabilised path
(``gfpgan.video.pipeline`` with every ``StabilityOptions`` switch on); the face-region flicker and consecutive
identity angle of both (``gfpgan.metrics.temporal``) against the input's and the targets; frames/s on the CPU for a
480p clip and on CUDA for a 720p one; ``--picture``: the stability case drawn (``video_picture``)."""
import hashlib
import math
import os
import tempfile
import time

import numpy as np
import torch

from gfpgan.metrics.temporal import FlickerMeter, IdentityMeter, aligned_face
from gfpgan.utils.benchmark import markdown_table

from .suites import ASTRONAUT_LANDMARKS

__all__ = ['TARGETS', 'ClipDetector', 'astronaut_face', 'talking_head_clip', 'build_video_restorer',
           'set_noise_strength', 'stability_case', 'throughput_case', 'evaluate_targets', 'run_video_benchmark',
           'video_markdown']

#: issue 17's targets: stabilised flicker <= 1.1 x the input's; per-frame flicker >= 3 x the stabilised one;
#: per-frame consecutive identity angle >= 2 x the stabilised one; CUDA >= 25 frames/s for one face per 720p frame.
TARGETS = {'flicker_vs_input': 1.1, 'flicker_gain': 3.0, 'identity_gain': 2.0, 'cuda_720p_fps': 25.0}
FACE_CROP = (20, 240, 115, 335)  # y0, y1, x0, x1: the astronaut's head in scikit-image's 512x512 photo
RANDOM_NOISE_STRENGTH = 0.1  # the decoder's noise strengths of a random network (they start at 0)


class ClipDetector:
    """A face detector for a made-up clip: the landmarks the clip reports for the frame shown, e.g. its noisy
    landmarks, which imitate a real detector's jitter. The frame is found by its pixels; a frame it does not know
    (a decoded, hence changed, copy) is taken as the next one in order when ``in_order``, else it has no face."""

    def __init__(self, frames, landmarks, in_order=False):
        self.known = {self._key(f): p for f, p in zip(frames, landmarks) if p is not None}
        self.landmarks, self.in_order, self.calls = list(landmarks), in_order, 0

    @staticmethod
    def _key(img):
        return hashlib.blake2b(np.ascontiguousarray(img).tobytes(), digest_size=16).digest()

    def detect(self, img):
        from gfpgan.faces.detectors import face_record
        points = self.known.get(self._key(img))
        if points is None and self.in_order and self.calls < len(self.landmarks):
            points = self.landmarks[self.calls]
        self.calls += 1
        if points is None:
            return []
        return [face_record(np.concatenate([points.min(0) - 20, points.max(0) + 20]), 1.0, points)]


def astronaut_face():
    """(face, landmarks): the astronaut's head (BGR uint8, 220x220) and its 5 points in it."""
    from skimage import data as skdata
    y0, y1, x0, x1 = FACE_CROP
    face = np.ascontiguousarray(skdata.astronaut()[y0:y1, x0:x1, ::-1])
    return face, np.asarray(ASTRONAUT_LANDMARKS, np.float64) - (x0, y0)


def talking_head_clip(frames, size, landmark_noise=1.0, seed=0, span=0.5):
    """``frames`` frames of a ``gfpgan.video.synthetic.moving_face_clip`` of the astronaut: the first ``span`` of a
    smooth figure-of-eight with a little zoom and roll (0.5: half of it, a head's pace rather than a sprint),
    ``landmark_noise`` px of detector jitter on the reported landmarks."""
    from gfpgan.video.synthetic import moving_face_clip
    face, landmarks = astronaut_face()
    clip = moving_face_clip(face, landmarks, frames=max(frames, int(round(frames / span))), size=size, path='smooth',
                            landmark_noise=landmark_noise, seed=seed)
    for name in ('frames', 'true_landmarks', 'noisy_landmarks', 'boxes', 'transforms'):
        setattr(clip, name, getattr(clip, name)[:frames])
    return clip


def set_noise_strength(net, value):
    """Set every StyleGAN2 decoder noise strength of ``net`` to ``value`` (a random network's start at 0, where
    fresh noise would change nothing; trained decoders learn non-zero strengths). Returns how many were set."""
    count = 0
    for module in net.modules():
        if type(module).__name__ == 'StyleConv' and isinstance(getattr(module, 'weight', None), torch.nn.Parameter):
            with torch.no_grad():
                module.weight.fill_(value)
            count += 1
    return count


def build_video_restorer(detector, face_size=128, model_path=None, upscale=2, device='cpu', dtype=None,
                         batch_size=None, noise_strength=RANDOM_NOISE_STRENGTH):
    """(GFPGANer, description): the checkpoint ``model_path`` (its own network), else a random GFPGANv1Clean at
    ``face_size`` (512: the v1.4 configuration, else a narrow one) with decoder noise strengths ``noise_strength``;
    no face parser, no background; faces from ``detector``."""
    from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
    from gfpgan.restoration import GFPGANer

    from .suites import V14_CONFIG
    half, bf16 = dtype == torch.float16, dtype == torch.bfloat16
    common = dict(upscale=upscale, device=device, det_model=None, detector=detector, use_parse=False, half=half,
                  bf16=bf16, batch_size=batch_size)
    if model_path:
        return GFPGANer(model_path, **common), f'checkpoint {os.path.basename(model_path)}'
    torch.manual_seed(0)
    if face_size == 512:
        net, what = GFPGANv1Clean(**V14_CONFIG), 'random GFPGANv1Clean, v1.4 configuration (512)'
    else:
        net = GFPGANv1Clean(out_size=face_size, num_style_feat=64, channel_multiplier=1, num_mlp=2, narrow=0.25,
                            sft_half=True)
        what = f'random narrow GFPGANv1Clean at {face_size}'
    set_noise_strength(net, noise_strength)
    net = net.eval().to(device)
    if half:
        net = net.half()
    restorer = GFPGANer(net=net, face_size=face_size, **common)
    return restorer, f'{what}, decoder noise strength {noise_strength:g}'


def _restore(restorer, frames, options):
    from gfpgan.video.pipeline import restore_frames
    return [image for _, image in restore_frames(restorer, frames, options)]


def _measure(frames, restored, landmarks, identity, size=None):
    """FlickerMeter and IdentityMeter results of ``restored`` frames (their input ``frames``; ``identity`` None:
    no identity angle); the track's true ``landmarks`` place the regions, start the motion and align the faces;
    ``size``: measure the frames resized to it (the input at the restored size)."""
    flicker = FlickerMeter(landmarks, size=size)
    angles = IdentityMeter(identity) if identity is not None else None
    for src, out, points in zip(frames, restored, landmarks):
        flicker.add(out, src)
        if angles is not None:
            angles.add(aligned_face(out, points, scale=out.shape[1] / src.shape[1]))
    return {'flicker': flicker.result.mean, 'pairs': flicker.result.compared,
            'identity': angles.result.mean if angles is not None else None, 'values': flicker.result.values}


def stability_case(restorer, clip, identity=None, outputs=None):
    """Flicker (mean and per pair: 'values') and consecutive identity angle of the input clip (upscaled to the
    restored size), of per-frame restoration (every stability switch off: fresh noise, raw landmarks) and of the
    stabilised path (all on), measured with the clip's true landmarks. ``outputs``: a dict that receives the restored
    frames of 'per_frame' and 'stabilised' (for the picture)."""
    from gfpgan.video.pipeline import StabilityOptions
    rows = {}
    for name, options in (('per_frame', StabilityOptions.off()), ('stabilised', StabilityOptions())):
        start = time.perf_counter()
        restored = _restore(restorer, clip.frames, options)
        seconds = time.perf_counter() - start
        if outputs is not None:
            outputs[name] = restored
        rows[name] = dict(_measure(clip.frames, restored, clip.true_landmarks, identity), seconds=seconds)
    size = restored[0].shape[1::-1]
    rows['input'] = _measure(clip.frames, clip.frames, clip.true_landmarks, identity, size)
    return {k: rows[k] for k in ('input', 'per_frame', 'stabilised')}


def throughput_case(restorer, frames, device, warmup=2):
    """Frames/s of the stabilised path over in-memory ``frames`` (decoding and encoding excluded), after
    ``warmup`` frames restored first (model warm-up, CUDA kernels chosen)."""
    from gfpgan.video.pipeline import StabilityOptions
    options = StabilityOptions()
    _restore(restorer, frames[:max(warmup, 1)], options)
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()
    start = time.perf_counter()
    count = len(_restore(restorer, frames, options))
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {'frames': count, 'seconds': seconds, 'fps': count / seconds}


def end_to_end_case(restorer, clip, folder, fps=25):
    """Frames/s of ``restore_video`` (decode, stabilised restoration, encode, audio copied) on ``clip`` written as
    an H.264 .mp4 with a sine-tone track into ``folder``; ``restorer``'s detector must take frames in order."""
    from gfpgan.video.pipeline import StabilityOptions, restore_video
    from gfpgan.video.synthetic import write_clip
    source = write_clip(os.path.join(folder, 'clip.mp4'), clip.frames, fps=fps)
    summary = restore_video(restorer, source, os.path.join(folder, 'restored.mp4'), StabilityOptions(),
                            progress=False)
    return {'frames': summary['frames'], 'seconds': summary['seconds'], 'fps': summary['fps'],
            'codec': summary['codec']}


def _target(name, requirement, value, threshold, higher=True):
    if value is None or not math.isfinite(value):
        status = 'n/a'
    else:
        status = 'pass' if (value >= threshold if higher else value <= threshold) else 'fail'
    return {'target': name, 'requirement': requirement, 'value': value, 'threshold': threshold, 'status': status}


def evaluate_targets(stability, cuda_rows=()):
    """Issue 17's targets as rows (target, requirement, value, threshold, pass / fail / n/a)."""
    flicker = {k: stability[k]['flicker'] for k in ('input', 'per_frame', 'stabilised')}
    ident = {k: stability[k]['identity'] for k in ('per_frame', 'stabilised')}

    def ratio(a, b):
        return a / b if a is not None and b and math.isfinite(a) and math.isfinite(b) else None

    best_cuda = max((r['fps'] for r in cuda_rows), default=None)
    return [
        _target('flicker_vs_input', 'stabilised flicker / input flicker <= 1.1',
                ratio(flicker['stabilised'], flicker['input']), TARGETS['flicker_vs_input'], higher=False),
        _target('flicker_gain', 'per-frame flicker / stabilised flicker >= 3',
                ratio(flicker['per_frame'], flicker['stabilised']), TARGETS['flicker_gain']),
        _target('identity_gain', 'per-frame identity angle / stabilised >= 2',
                ratio(ident['per_frame'], ident['stabilised']), TARGETS['identity_gain']),
        _target('cuda_720p_fps', 'CUDA frames/s, one face per 720p frame, no background >= 25', best_cuda,
                TARGETS['cuda_720p_fps']),
    ]


def video_markdown(report):
    """The tables of a video benchmark report."""
    stab = report['stability']
    rows = [dict(case=k, **stab[k]) for k in ('input', 'per_frame', 'stabilised')]
    parts = [
        f"Talking-head clip: {report['clip']['description']}; restorer: {report['restorer']}; identity: "
        f"{report['identity_network']}",
        markdown_table(rows, [('case', 'case', None), ('flicker', 'face flicker (grey levels/px/frame)', '.3f'),
                              ('pairs', 'pairs', None), ('identity', 'consecutive identity angle (deg)', '.3f'),
                              ('seconds', 'restore time (s)', '.1f')]),
        '',
        markdown_table(report['targets'], [('target', 'target', None), ('requirement', 'requirement', None),
                                           ('value', 'measured', '.3f'), ('status', 'status', None)]),
    ]
    if report['throughput']:
        parts += ['', 'Throughput of the stabilised path (one face, no background): frames in memory, and file to file '
                  '(decode, restore, encode, audio copied)',
                  markdown_table(report['throughput'], [
                      ('device', 'device', None), ('dtype', 'dtype', None), ('size', 'frame size', None),
                      ('path', 'path', None),
                      ('restorer', 'restorer', None), ('batch', 'batch', None), ('frames', 'frames', None),
                      ('fps', 'frames/s', '.2f')])]
    return '\n'.join(parts)


def _identity_network(arcface, device):
    """(IdentityAngle, description): ArcFace from ``arcface`` (or arcface_resnet18.pth when found, never
    downloaded), else a random one, said so."""
    from gfpgan.metrics.identity_angle import ARCFACE_WEIGHTS, IdentityAngle
    from gfpgan.utils.weights import WeightsNotFoundError, resolve_weights
    try:
        path = resolve_weights(arcface or ARCFACE_WEIGHTS, progress=False, download=False)
        return IdentityAngle(weights=path, device=device), f'ArcFace {os.path.basename(path)}'
    except WeightsNotFoundError:
        if arcface:
            raise
        torch.manual_seed(0)
        return (IdentityAngle(pretrained=False, device=device),
                f'RANDOM ArcFace ({ARCFACE_WEIGHTS} not found): the angles compare the two paths only')


def _clip_description(args):
    return (f'astronaut face, {args.span:g} of a figure-of-eight with zoom and roll, {args.frames} frames at '
            f'{args.clip_size[0]}x{args.clip_size[1]}, {args.landmark_noise:g} px landmark jitter, '
            f'upscale {args.upscale}')


def write_picture(path, clip, restored, stability, title):
    """Write the picture of ``gfpgan.benchmark.video_picture`` (input | per frame | stabilised faces over a few
    frames, the per-pair flicker chart) to ``path`` (.jpg / .jpeg: quality 90; .png) atomically."""
    import cv2

    from gfpgan.utils.img_util import imwrite

    from .video_picture import video_picture
    image = video_picture(clip.frames, clip.true_landmarks, restored, stability, title)
    params = [cv2.IMWRITE_JPEG_QUALITY, 90] if path.lower().endswith(('.jpg', '.jpeg')) else None
    imwrite(image, path, params)
    return image


def run_video_benchmark(args, log=print):
    """Run the stability case, then the throughput cases; returns the report dict (see scripts/benchmark_video.py)."""
    from gfpgan.utils.benchmark import machine_info
    size = tuple(args.clip_size)
    clip = talking_head_clip(args.frames, size, args.landmark_noise, args.seed, args.span)
    detector = ClipDetector(clip.frames, clip.noisy_landmarks)
    restorer, what = build_video_restorer(detector, args.face_size, args.model_path, args.upscale, 'cpu')
    identity, identity_what = _identity_network(args.arcface, 'cpu')
    log(f'stability: {args.frames} frames at {size[0]}x{size[1]}, {what}', flush=True)
    outputs = {} if getattr(args, 'picture', None) else None
    stability = stability_case(restorer, clip, identity, outputs)
    if outputs is not None:
        write_picture(args.picture, clip, outputs, stability, f'{_clip_description(args)}; {what}')
        log(f'wrote {args.picture}', flush=True)
        del outputs
    throughput = []
    cases = [('cpu', torch.float32, tuple(args.cpu_size), args.cpu_frames, 1)]
    if torch.cuda.is_available() and not args.no_cuda:
        for dtype in args.cuda_dtypes:
            cases.append(('cuda', getattr(torch, dtype), tuple(args.cuda_size), args.cuda_frames, args.cuda_batch))
    for device, dtype, csize, count, batch in cases:
        if count < 1:
            continue
        big = talking_head_clip(count, csize, args.landmark_noise, args.seed, args.span)
        fast, fast_what = build_video_restorer(ClipDetector(big.frames, big.noisy_landmarks), args.throughput_face_size,
                                               args.model_path, args.upscale, device, dtype, batch)
        log(f'throughput: {device} {str(dtype)[6:]} {csize[0]}x{csize[1]}, {count} frames, {fast_what}', flush=True)
        row = throughput_case(fast, big.frames, device)
        row.update(device=device, dtype=str(dtype).replace('torch.', ''), size=f'{csize[0]}x{csize[1]}',
                   restorer=fast_what, batch=fast.batch_size, path='frames in memory')
        throughput.append(row)
        if not args.no_end_to_end:
            fast.face_helper.face_det = ClipDetector(big.frames, big.noisy_landmarks, in_order=True)
            with tempfile.TemporaryDirectory() as folder:
                e2e = end_to_end_case(fast, big, folder)
            throughput.append(dict(row, **e2e, path=f"file to file ({e2e.pop('codec')})"))
        del fast
    report = {
        'machine': machine_info(),
        'clip': {'frames': args.frames, 'size': list(size), 'landmark_noise_px': args.landmark_noise,
                 'span': args.span,
                 'description': _clip_description(args)},
        'restorer': what,
        'identity_network': identity_what,
        'stability': stability,
        'throughput': throughput,
        'targets': evaluate_targets(stability, [r for r in throughput if r['device'] == 'cuda'
                                                and r['size'] == '1280x720']),
    }
    return report


DESCRIPTION = """\
Benchmark temporally stable video restoration (issue 17's targets) on a made-up talking-head clip: scikit-image's
astronaut face moved along half (--span) of a smooth figure-of-eight with a little zoom and roll
(gfpgan.video.synthetic), whose
reported landmarks carry --landmark_noise px of Gaussian jitter, as a detector's do.

The same restorer (a checkpoint with --model_path, else a random narrow GFPGANv1Clean at --face_size whose decoder
noise strengths are set to 0.1, since a random network's start at 0) restores the clip twice: per frame, as photos
are (fresh decoder noise, the jittery landmarks as they come, no tracking), and through the stabilised path
(gfpgan.video.pipeline, every StabilityOptions switch on: tracking, landmark smoothing, fixed noise, mask smoothing).
Both and the input are measured with gfpgan.metrics.temporal (face flicker in grey levels per pixel per frame after
motion compensation; consecutive identity angle with ArcFace arcface_resnet18.pth when found, else a random ArcFace,
said so), using the clip's true landmarks; the targets: stabilised flicker <= 1.1 x the input's, per-frame flicker
>= 3 x the stabilised, per-frame identity angle >= 2 x the stabilised.

Throughput: frames/s of the stabilised path (one face, no background) with the v1.4 architecture at 512 (random
weights, same cost, or --model_path), over frames in memory and file to file (restore_video: decode, restore,
encode H.264, audio copied): on the CPU for a 480p clip, and on CUDA (when available) for a 720p one per
--cuda_dtypes (target: >= 25 frames/s, best of the rows).

  python scripts/benchmark_video.py --output benchmark_video.json --markdown benchmark_video.md
  python scripts/benchmark_video.py --quick   # the same code path at tiny sizes, in seconds
  python scripts/benchmark_video.py --cpu_frames 0 --picture assets/video_stability.jpg   # the README's picture

Prints Markdown tables and writes JSON: {"machine", "clip", "restorer", "identity_network", "stability": {"input",
"per_frame", "stabilised": {"flicker", "values" (per pair), "pairs", "identity", "seconds"}}, "throughput": [...],
"targets": [...]}. --picture also draws the stability case: input | per frame | stabilised faces over 8 consecutive
frames (aligned by the true landmarks, so the head's motion is removed and only flicker changes between columns) and
the chart of every pair's flicker (gfpgan.benchmark.video_picture).
"""


def main(argv=None):
    import argparse

    from gfpgan.errors import add_debug_argument
    from gfpgan.preflight import Preflight

    from .device_report import write_json, write_text
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--model_path', help='a GFPGAN checkpoint to benchmark (default: random weights)')
    parser.add_argument('--arcface', help='ArcFace weights (default arcface_resnet18.pth when found, else random)')
    parser.add_argument('--frames', type=int, default=48, help='frames of the stability clip (default 48)')
    parser.add_argument('--clip_size', type=int, nargs=2, default=[320, 240], metavar=('W', 'H'),
                        help='stability clip size (default 320 240)')
    parser.add_argument('--face_size', type=int, default=128,
                        help='face size of the random restorer of the stability case (default 128)')
    parser.add_argument('--upscale', type=int, default=2, help='output scale (default 2)')
    parser.add_argument('--landmark_noise', type=float, default=1.0, help='landmark jitter, px (default 1.0)')
    parser.add_argument('--seed', type=int, default=0, help='clip seed (default 0)')
    parser.add_argument('--span', type=float, default=0.5,
                        help='the part of the figure-of-eight path the clip covers (default 0.5: half)')
    parser.add_argument('--throughput_face_size', type=int, default=512,
                        help='face size of the random throughput restorer (default 512: v1.4)')
    parser.add_argument('--cpu_frames', type=int, default=8, help='CPU throughput frames (default 8; 0: skip)')
    parser.add_argument('--cpu_size', type=int, nargs=2, default=[640, 480], metavar=('W', 'H'))
    parser.add_argument('--cuda_frames', type=int, default=96, help='CUDA throughput frames (default 96; 0: skip)')
    parser.add_argument('--cuda_size', type=int, nargs=2, default=[1280, 720], metavar=('W', 'H'))
    parser.add_argument('--cuda_batch', type=int, default=8, help='faces per forward pass on CUDA (default 8)')
    parser.add_argument('--cuda_dtypes', nargs='+', default=['float16', 'float32'],
                        choices=['float32', 'float16', 'bfloat16'], help='CUDA precisions (default float16 float32)')
    parser.add_argument('--no_cuda', action='store_true', help='skip the CUDA throughput even when CUDA is present')
    parser.add_argument('--no_end_to_end', action='store_true',
                        help='skip the file-to-file throughput rows (restore_video: decode, restore, encode)')
    parser.add_argument('--quick', action='store_true',
                        help='tiny sizes (12 frames at 160x120, 32-pixel faces, 3 throughput frames at 160x120): '
                        'the same code path in seconds, for tests')
    parser.add_argument('--output', default='benchmark_video.json', help='JSON file to write')
    parser.add_argument('--markdown', metavar='FILE', help='also write the tables to FILE')
    parser.add_argument('--picture', metavar='FILE',
                        help='also draw the stability case to FILE (.jpg or .png): input | per frame | stabilised '
                        'faces over 8 consecutive frames, aligned by the true landmarks, and the per-pair flicker '
                        'chart of the whole clip')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.quick:
        args.frames, args.clip_size, args.face_size, args.throughput_face_size = 12, [160, 120], 32, 32
        args.cpu_frames, args.cpu_size, args.cuda_frames, args.cuda_size = 3, [160, 120], 3, [160, 120]
    pf = Preflight()
    pf.file(args.model_path, '--model_path')
    pf.file(args.arcface, '--arcface')
    for name in ('frames', 'face_size', 'upscale', 'throughput_face_size', 'cuda_batch'):
        pf.check(getattr(args, name) >= 1, f'--{name} must be at least 1, got {getattr(args, name)}.')
    pf.check(args.frames >= 8 or args.quick, f'--frames must be at least 8 (the smoothing window), got {args.frames}.')
    pf.check(min(args.clip_size + args.cpu_size + args.cuda_size) >= 64, 'clip sizes must be at least 64x64 pixels.')
    pf.check(0 < args.span <= 1, f'--span must lie in (0, 1], got {args.span}.')
    pf.check(args.landmark_noise >= 0, f'--landmark_noise must be >= 0, got {args.landmark_noise}.')
    pf.check(not args.picture or args.picture.lower().endswith(('.jpg', '.jpeg', '.png')),
             f"--picture: '{args.picture}' must end in .jpg, .jpeg or .png.")
    for path, flag in ((args.output, '--output'), (args.markdown, '--markdown'), (args.picture, '--picture')):
        if path:
            pf.check(not os.path.isdir(path), f"{flag}: '{path}' is a folder; give a file name.")
            pf.output_folder(os.path.dirname(os.path.abspath(path)), flag)
    pf.raise_if_any()
    report = run_video_benchmark(args)
    text = video_markdown(report)
    print('\n' + text)
    write_json(args.output, report)
    print(f'\nwrote {args.output}')
    if args.markdown:
        write_text(args.markdown, text + '\n')
        print(f'wrote {args.markdown}')
    return 0
