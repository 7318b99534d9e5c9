"""The command line of inference_gfpgan.py and the ``gfpgan`` console script: restore the faces in a photo, a video
or a folder of both with a released (or any) GFPGAN checkpoint (the video side: ``gfpgan.video.inference``)."""
import argparse
import glob
import os
import sys

import cv2
import numpy as np

from gfpgan.errors import add_debug_argument, is_fatal_os_error, os_error_at, run_cli
from gfpgan.preflight import Preflight
from gfpgan.video.inference import VIDEO_EPILOG, add_video_arguments, check_videos, restore_videos, split_inputs

__all__ = ['main', 'run', 'build_parser', 'check_run', 'required_files']

DEFAULT_VERSION = '1.3'

EPILOG = """Outputs, as the original: <output>/cropped_faces/<name>_<k>.png (aligned input faces),
restored_faces/<name>_<k>[_suffix].png, cmp/<name>_<k>.png (input | restored), restored_imgs/<name>[_suffix].<ext>
(the whole photo, faces pasted back, background upsampled). Gray, RGBA and 16-bit photos keep their form; a photo
without a face is still upscaled; an unreadable file is reported and skipped, and the run then exits with 1.

Strength -w: each restored face is weight * restoration + (1 - weight) * aligned input face (0 = input, 1 = full
restoration). The original accepted -w (default 0.5) but ignored it, always giving the full restoration; the
default here is 1 so that outputs match the original's.

Weights: -v picks a release (1: GFPGANv1.pth, 1.2: GFPGANCleanv1-NoCE-C2.pth, 1.3: GFPGANv1.3.pth, 1.4:
GFPGANv1.4.pth, RestoreFormer: RestoreFormer.pth), found in --model_path, experiments/pretrained_models/, the caches,
or downloaded from the release (checked against its size and SHA-256 where one is known); 'python
scripts/download_pretrained.py' fetches them ahead, for offline use. A model trained here (--model_path
experiments/<name>/models/net_g_latest.pth) carries the network it was trained with and is built as that, at its own
face size, unless -v forces a release architecture; --opt <training YAML> builds the network_g of that file instead.

Background: by default the photo is upsampled with Real-ESRGAN x2 (RealESRGAN_x2plus.pth, also on the CPU); when
that file cannot be found or downloaded, the run warns once, before restoring, and resizes the background with plain
interpolation instead. --bg_upsampler realesrgan asks for it explicitly: the run then refuses to start without the
file. --aligned inputs have no background and never need the file. --bg_upsampler none (or None) always resizes.

Before anything is built or restored, the run checks the options, the input, that the output folder can be written
and that every pretrained file is there (missing release files are downloaded first unless GFPGAN_NO_DOWNLOAD is
set); every problem is reported at once, with the one 'python scripts/download_pretrained.py --files ...' command that
fetches the missing files. Exit codes: 0 done, 1 some photos or videos failed (listed), 2 nothing was done (error:
...), 130 interrupted; --debug or GFPGAN_DEBUG=1 shows the traceback of an error.

Batching: --batch_size faces go through the restorer together, gathered across photos (at most that many photos
wait) or consecutive video frames; 8 by default on CUDA, 1 on the CPU, where larger batches are slower per face.

""" + VIDEO_EPILOG


def _extension(value):
    """--ext: 'auto' or an extension OpenCV can write (a leading dot is accepted)."""
    ext = value.strip().lstrip('.').lower()
    if ext != 'auto' and not (ext and cv2.haveImageWriter(f'x.{ext}')):
        raise argparse.ArgumentTypeError(f"OpenCV cannot write '{value}' images; use auto, png, jpg, webp, ...")
    return ext


def build_parser():
    from gfpgan.archs.presets import RELEASES
    p = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        '-i', '--input', default='inputs/whole_imgs', help='input image, video or folder (default inputs/whole_imgs)')
    p.add_argument('-o', '--output', default='results', help='output folder (default results)')
    p.add_argument(
        '-v',
        '--version',
        choices=tuple(RELEASES),
        help=f"GFPGAN release: {' | '.join(RELEASES)} (default {DEFAULT_VERSION}; with --model_path, given "
        'explicitly, it forces that architecture over the one a checkpoint trained here carries)')
    p.add_argument('-s', '--upscale', type=int, default=2, help='final upsampling scale of the photo (default 2)')
    p.add_argument('--model_path', help='a local checkpoint instead of the release file (architecture: the one it '
                   'carries when trained here, else from -v)')
    p.add_argument('--opt', metavar='YML', help='build the network_g of this training options file (e.g. the YAML a '
                   '--model_path was trained with) instead')
    p.add_argument(
        '--bg_upsampler',
        type=str.lower,
        choices=('realesrgan', 'none'),
        help='background upsampler: realesrgan (RealESRGAN_x2plus.pth, also on the CPU; given explicitly, the file '
        'must be there) or none / None (plain resizing); default: realesrgan when its file is found or downloaded, '
        'else plain resizing with a warning')
    p.add_argument('--bg_tile', type=int, default=400, help='background tile size, 0 for none (default 400)')
    p.add_argument('--suffix', help='suffix of the restored faces and photos')
    p.add_argument('--only_center_face', action='store_true', help='only restore the face nearest the centre')
    p.add_argument('--aligned', action='store_true', help="inputs are aligned faces (of the network's size, 512x512 "
                   'for the releases)')
    p.add_argument(
        '--ext',
        default='auto',
        type=_extension,
        help='image extension of restored_imgs: auto (as the input; png where OpenCV cannot write that), png, jpg, '
        'webp or any other OpenCV writes (default auto)')
    p.add_argument('-w', '--weight', type=float, default=1.0, help='restoration strength in [0, 1] (default 1)')
    p.add_argument(
        '--det_model',
        default='retinaface_resnet50',
        choices=('retinaface_resnet50', 'retinaface_mobile0.25', 'yunet'),
        help='face detector')
    p.add_argument(
        '--yunet_model',
        help='YuNet ONNX file (with --det_model yunet; default face_detection_yunet_2023mar.onnx, looked up as other '
        'pretrained files)')
    p.add_argument('--device', default='auto', help='auto (CUDA when available), cpu, cuda, cuda:1 ...')
    precision = p.add_mutually_exclusive_group()
    precision.add_argument('--half', action='store_true', help='float16 generator and background (CUDA)')
    precision.add_argument('--bf16', action='store_true', help='bfloat16 autocast (CPU or CUDA)')
    p.add_argument(
        '--batch_size',
        type=int,
        help='faces restored per forward pass, gathered across photos (default: 8 on CUDA, 1 on the CPU, where '
        'larger batches are slower per face)')
    p.add_argument('--no_progress', action='store_true', help='no progress bar')
    add_video_arguments(p)
    add_debug_argument(p)
    return p


def list_inputs(path, preflight=None):
    """The files to restore: ``path`` itself or the (non-hidden) files of the folder, sorted; files that are not
    images are reported by the run, as unreadable. A problem goes to ``preflight`` when given, else raises."""
    pf = preflight if preflight is not None else Preflight()
    files = []
    if os.path.isfile(path):
        files = [path]
    elif not os.path.isdir(path):
        pf.add(f"-i/--input: '{path}' is neither an image file nor a folder (a video is a file too).")
    else:
        files = sorted(f for f in glob.glob(os.path.join(path, '*')) if os.path.isfile(f))
        pf.check(files, f"-i/--input: the folder '{path}' is empty.")
    if preflight is None:
        pf.raise_if_any('the input cannot be used')
    return files


def read_photo(path):
    """A photo as cv2 reads it, unchanged (gray, BGR, BGRA, 8/16-bit); ValueError naming the file otherwise."""
    from .gfpganer import load_photo
    return load_photo(path)


def _background_wanted(args):
    """'required', 'optional' (the default: used when its file is there) or None for this run."""
    if args.aligned or args.bg_upsampler == 'none':  # aligned faces have no background
        return None
    return 'required' if args.bg_upsampler == 'realesrgan' else 'optional'


def _release(args):
    """The RELEASES entry of -v (the default version when not given)."""
    from gfpgan.archs.presets import RELEASES
    return RELEASES[args.version or DEFAULT_VERSION]


def required_files(args):
    """(file name or path, what it is) of the pretrained files this run cannot do without (the optional default
    background upsampler excluded): the restorer's, the detector's and the parser's, from the modules loading them."""
    from .background import required_weights as background_weights
    from gfpgan.faces.detectors import YUNET_FILE
    from .gfpganer import required_weights
    det_model = None if args.det_model == 'yunet' else args.det_model
    model = args.model_path or _release(args)['file']
    flag = '--model_path' if args.model_path else f'-v {args.version or DEFAULT_VERSION}'
    files = [(name, f'{what} ({flag})' if name == model else what)
             for name, what in required_weights(model, det_model, has_aligned=args.aligned)]
    if args.det_model == 'yunet' and not args.aligned:
        files.append((args.yunet_model or YUNET_FILE, 'the YuNet face detector (--yunet_model)'))
    if _background_wanted(args) == 'required':
        files += [(name, f'{what} (--bg_upsampler realesrgan)') for name, what in background_weights(2)]
    return files


def check_run(args):
    """The preflight of a run: the options, the input, the output folder and every pretrained file, checked before
    anything is built or restored; all problems are raised together (PreflightError). Missing release files are
    downloaded once everything else is fine (unless GFPGAN_NO_DOWNLOAD). Returns (photo and video paths, {file: local
    path}). A single video input must open; in a folder a bad video is skipped and counted by the run."""
    from gfpgan.utils.device import resolve_device
    from gfpgan.faces.detectors import YUNET_FILE, yunet_problem
    pf = Preflight()
    pf.check(0 <= args.weight <= 1, f'-w/--weight must lie in [0, 1], got {args.weight}.')
    pf.check(args.upscale >= 1, f'-s/--upscale must be at least 1, got {args.upscale}.')
    pf.check(args.batch_size is None or args.batch_size >= 1,
             f'--batch_size must be at least 1, got {args.batch_size}.')
    pf.check(args.bg_tile >= 0, f'--bg_tile must be 0 (no tiles) or a positive size, got {args.bg_tile}.')
    try:
        device = resolve_device(args.device)
        pf.check(not args.half or device.type == 'cuda', f'--half needs a CUDA device, not {device}; use --bf16 on the '
                 'CPU.')
    except (RuntimeError, ValueError) as err:
        pf.add(f"--device: '{args.device}' is not a device torch knows ({err}).")
    if getattr(args, 'opt', None):
        from gfpgan.archs.presets import training_network_options
        from gfpgan.config.spec import OptionsError
        try:
            training_network_options(args.opt)
        except OptionsError as err:
            pf.add(f'--opt: {err}')
    paths = list_inputs(args.input, pf)
    check_videos(args, split_inputs(paths)[1], pf, single=os.path.isfile(args.input))
    pf.output_folder(args.output, '-o/--output')
    found = {}
    for name, what in required_files(args):
        found[name] = pf.weights(name, what)
    yunet = found.get(args.yunet_model or YUNET_FILE) if args.det_model == 'yunet' else None
    if yunet is not None:  # a damaged ONNX file is one sentence now, not a traceback at the first photo
        problem = yunet_problem(yunet)
        pf.check(problem is None, f'--yunet_model: {problem}')
    found.update(pf.fetch_missing(progress=not args.no_progress))
    pf.raise_if_any()
    return paths, found


def _optional_background(args):
    """The default background upsampler's file, or None with one warning (the run then resizes the background)."""
    from gfpgan.utils.weights import WeightsNotFoundError, resolve_weights
    from .background import required_weights
    name = required_weights(2)[0][0]
    try:
        return resolve_weights(name, progress=not args.no_progress)
    except WeightsNotFoundError as err:
        print(f'warning: no Real-ESRGAN background upsampler ({err}); the background is resized with plain '
              'interpolation instead.', file=sys.stderr)
    return None


def build_restorer(args, found=None):
    """The GFPGANer of the options, its detector and parser built now (so a damaged file stops the run before the
    first photo); ``found`` maps file names to the paths check_run resolved."""
    from .background import RealESRGANUpsampler, required_weights as background_weights
    from gfpgan.faces.detectors import YUNET_FILE, YuNetDetector
    from .gfpganer import GFPGANer
    found = found or {}
    release = _release(args)
    wanted = _background_wanted(args)
    bg = None
    if wanted is not None:
        name = background_weights(2)[0][0]
        path = found.get(name) if wanted == 'required' else _optional_background(args)
        if path is not None:
            bg = RealESRGANUpsampler(scale=2, model_path=path, tile=args.bg_tile, half=args.half, bf16=args.bf16,
                                     device=args.device)
    detector = None
    if args.det_model == 'yunet':
        model = args.yunet_model or YUNET_FILE
        detector = YuNetDetector(found.get(model) or model)
    model = args.model_path or release['file']
    restorer = GFPGANer(
        found.get(model) or model,
        upscale=args.upscale,
        arch=release['arch'] if args.version else None,  # None: the network a checkpoint trained here carries
        channel_multiplier=release['channel_multiplier'],
        opt=getattr(args, 'opt', None),
        bg_upsampler=bg,
        device=args.device,
        det_model=args.det_model if detector is None else None,
        detector=detector,
        half=args.half,
        bf16=args.bf16,
        batch_size=args.batch_size)
    if not args.aligned:
        _ = restorer.face_helper.face_det, restorer.face_helper.face_parse  # built now, not at the first photo
    return restorer


def save_results(args, path, cropped, restored, restored_img):
    """Write the four output kinds of one photo (atomically); never over the input file."""
    from gfpgan.utils.img_util import imwrite
    name, ext = os.path.splitext(os.path.basename(path))
    suffix = f'_{args.suffix}' if args.suffix else ''
    outputs = []
    for k, (face, new) in enumerate(zip(cropped, restored)):
        outputs += [(face, 'cropped_faces', f'{name}_{k:02d}.png'),
                    (new, 'restored_faces', f'{name}_{k:02d}{suffix}.png'),
                    (np.concatenate([face, new], axis=1), 'cmp', f'{name}_{k:02d}.png')]
    if restored_img is not None:
        extension = args.ext
        if extension == 'auto':
            extension = ext[1:] if ext and cv2.haveImageWriter(f'x{ext}') else 'png'
        if restored_img.ndim == 3 and restored_img.shape[2] == 4 and extension.lower() in ('jpg', 'jpeg'):
            extension = 'png'  # keep the alpha channel
        outputs.append((restored_img, 'restored_imgs', f'{name}{suffix}.{extension}'))
    targets = [os.path.join(args.output, folder, fname) for _, folder, fname in outputs]
    if os.path.abspath(path) in map(os.path.abspath, targets):
        raise ValueError(f"Refusing to overwrite the input '{path}'; choose another -o.")
    for (img, _, _), target in zip(outputs, targets):
        try:
            imwrite(img, target)
        except OSError as err:
            raise os_error_at(err, target) from err
    return targets


def _restore_photos(args, restorer, paths, failed):
    """Restore the photos of the run, batched across photos; failures go to ``failed``. Returns the faces restored."""
    from tqdm import tqdm
    faces = 0
    bar = tqdm(total=len(paths), desc='restoring', unit='photo', disable=args.no_progress)

    def fail(path, err):
        failed.append(path)
        tqdm.write(f'skipped {path}: {err}')
        bar.update()

    def photos():
        for path in paths:
            try:
                yield path, read_photo(path)
            except (ValueError, OSError) as err:
                fail(path, err)

    results = restorer.enhance_iter(
        photos(), has_aligned=args.aligned, only_center_face=args.only_center_face, weight=args.weight)
    try:
        for path, result in results:
            if isinstance(result, Exception):
                fail(path, result)
                continue
            try:
                save_results(args, path, *result)
            except (ValueError, OSError, cv2.error) as err:
                if is_fatal_os_error(err):  # a full disk, a lost permission: every later photo would fail alike
                    raise
                fail(path, err)
                continue
            faces += len(result[1])
            bar.update()
    finally:
        bar.close()
    return faces


def run(argv=None):
    """The command: restore every photo and video of the input; returns 0, or 1 when some inputs failed. A problem
    that stops the whole run raises (a GFPGANError, or an OSError such as a full disk), for ``main`` to report."""
    args = build_parser().parse_args(argv)
    paths, found = check_run(args)
    restorer = build_restorer(args, found)
    photos, videos = split_inputs(paths)
    failed = []
    faces = _restore_photos(args, restorer, photos, failed) if photos or not videos else 0
    failed_photos = len(failed)

    def fail(path, err):
        failed.append(path)
        print(f'skipped {path}: {err}', file=sys.stderr)

    summaries = restore_videos(args, restorer, videos, fail)
    done = [f'{len(photos) - failed_photos} photo(s), {faces} face(s)'] if photos or not videos else []
    if videos:
        done.append(f"{len(summaries)} video(s), {sum(s['frames'] for s in summaries)} frame(s), "
                    f"{sum(s['faces'] for s in summaries)} face(s)")
    print(f'{"; ".join(done)} restored into {args.output}' +
          (f'; {len(failed)} failed: {", ".join(failed)}' if failed else ''))
    return 1 if failed else 0


def main(argv=None):
    """The entry point of inference_gfpgan.py and the ``gfpgan`` console script: ``run`` with its errors reported as
    one ``error: ...`` line (exit code 2; 1 when some photos failed, 130 on Ctrl-C); --debug shows the traceback."""
    return run_cli(run, argv)


if __name__ == '__main__':
    sys.exit(main())
