"""The command line of inference_gfpgan.py and the ``gfpgan`` console script: restore the faces in a photo or a
folder of photos with a released (or any) GFPGAN checkpoint."""
import argparse
import glob
import os
import sys

import cv2
import numpy as np

__all__ = ['main', 'build_parser']

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
scripts/download_pretrained.py' fetches them ahead, for offline use.

Background: --bg_upsampler realesrgan (default) upsamples the photo with Real-ESRGAN x2 (RealESRGAN_x2plus.pth, also
on the CPU); when that file cannot be found or downloaded, the run warns once and resizes the background with plain
interpolation instead. --aligned inputs have no background and never need the file. --bg_upsampler none (or None)
always resizes.

Batching: --batch_size faces go through the restorer together, gathered across photos (at most that many photos
wait); 8 by default on CUDA, 1 on the CPU, where larger batches are slower per face.
"""


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
        '-i', '--input', default='inputs/whole_imgs', help='input image or folder (default inputs/whole_imgs)')
    p.add_argument('-o', '--output', default='results', help='output folder (default results)')
    p.add_argument(
        '-v',
        '--version',
        default='1.3',
        choices=tuple(RELEASES),
        help=f"GFPGAN release: {' | '.join(RELEASES)} (default 1.3)")
    p.add_argument('-s', '--upscale', type=int, default=2, help='final upsampling scale of the photo (default 2)')
    p.add_argument('--model_path', help='a local checkpoint instead of the release file (architecture from -v)')
    p.add_argument(
        '--bg_upsampler',
        default='realesrgan',
        type=str.lower,
        choices=('realesrgan', 'none'),
        help='background upsampler: realesrgan (default; RealESRGAN_x2plus.pth, also on the CPU; without the file, '
        'plain resizing with a warning) or none / None (plain resizing)')
    p.add_argument('--bg_tile', type=int, default=400, help='background tile size, 0 for none (default 400)')
    p.add_argument('--suffix', help='suffix of the restored faces and photos')
    p.add_argument('--only_center_face', action='store_true', help='only restore the face nearest the centre')
    p.add_argument('--aligned', action='store_true', help='inputs are aligned 512x512 faces')
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
    p.add_argument('--yunet_model', help='local YuNet ONNX file (with --det_model yunet)')
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
    return p


def list_inputs(path):
    """The files to restore: ``path`` itself or the (non-hidden) files of the folder, sorted; files that are not
    images are reported by the run, as unreadable."""
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise FileNotFoundError(f"The input '{path}' is neither an image file nor a folder.")
    files = sorted(f for f in glob.glob(os.path.join(path, '*')) if os.path.isfile(f))
    if not files:
        raise FileNotFoundError(f"The input folder '{path}' is empty.")
    return files


def read_photo(path):
    """A photo as cv2 reads it, unchanged (gray, BGR, BGRA, 8/16-bit); ValueError naming the file otherwise."""
    from .gfpganer import load_photo
    return load_photo(path)


def build_restorer(args):
    from gfpgan.archs.presets import RELEASES
    from .gfpganer import GFPGANer
    release = RELEASES[args.version]
    bg = None
    if args.bg_upsampler == 'realesrgan' and not args.aligned:  # aligned faces have no background
        from gfpgan.utils.weights import WeightsNotFoundError
        from .background import RealESRGANUpsampler
        try:
            bg = RealESRGANUpsampler(scale=2, tile=args.bg_tile, half=args.half, bf16=args.bf16, device=args.device)
        except WeightsNotFoundError as err:
            print(
                f'inference_gfpgan: warning: no Real-ESRGAN background upsampler ({err}); the background is resized '
                'with plain interpolation instead.',
                file=sys.stderr)
    detector = None
    if args.det_model == 'yunet':
        from .face_helper import YuNetDetector
        if not args.yunet_model:
            raise ValueError('--det_model yunet needs --yunet_model <a local face_detection_yunet ONNX file>.')
        detector = YuNetDetector(args.yunet_model)
    model = args.model_path or release['file']
    return GFPGANer(
        model,
        upscale=args.upscale,
        arch=release['arch'],
        channel_multiplier=release['channel_multiplier'],
        bg_upsampler=bg,
        device=args.device,
        det_model=args.det_model if detector is None else None,
        detector=detector,
        half=args.half,
        bf16=args.bf16,
        batch_size=args.batch_size)


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
        imwrite(img, target)
    return targets


def main(argv=None):
    from tqdm import tqdm

    from gfpgan.utils.checkpoint import CheckpointError
    args = build_parser().parse_args(argv)
    if not 0 <= args.weight <= 1 or args.upscale < 1 or (args.batch_size is not None and args.batch_size < 1):
        print('inference_gfpgan: -w must lie in [0, 1], -s and --batch_size must be at least 1.', file=sys.stderr)
        return 2
    try:
        paths = list_inputs(args.input)
        restorer = build_restorer(args)
    except (ValueError, OSError, CheckpointError) as err:
        print(f'inference_gfpgan: {err}', file=sys.stderr)
        return 2
    failed, faces = [], 0
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
    for path, result in results:
        if isinstance(result, Exception):
            fail(path, result)
            continue
        try:
            save_results(args, path, *result)
        except (ValueError, OSError, cv2.error) as err:
            fail(path, err)
            continue
        faces += len(result[1])
        bar.update()
    bar.close()
    print(f'{len(paths) - len(failed)} photo(s), {faces} face(s) restored into {args.output}' +
          (f'; {len(failed)} failed: {", ".join(failed)}' if failed else ''))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
