"""The benchmark suites network, data, train and restore of scripts/benchmark.py (``python scripts/benchmark.py
--help`` describes each): cases, their timing and the tables they print."""
import math
import os
import statistics
import tempfile
import time

import cv2
import numpy as np
import torch
import yaml

from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.archs.presets import release_network_options
from gfpgan.data import build_dataloader, build_dataset
from gfpgan.faces.detectors import LandmarksDetector
from gfpgan.utils.benchmark import machine_info, markdown_table, time_callable
from gfpgan.utils.checkpoint import load_network


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository (options/)
V14_CONFIG = {k: v for k, v in release_network_options('clean').items() if k != 'type'}


def build_restorer(model_path=None, device='cpu'):
    net = GFPGANv1Clean(**V14_CONFIG)
    if model_path:
        load_network(net, model_path, param_key='params_ema')
    return net.eval().to(device)


def bench_gfpgan(net, device, batch, dtype, runs, warmup, grad=False, size=512, memory_format=None):
    """Statistics of one restorer forward on a (batch, 3, size, size) input in [-1, 1] (fixed noise); times are per
    call. ``memory_format``: the input's layout (e.g. ``torch.channels_last``; default contiguous). Also returns the
    forward function, whose output is the (batch, 3, size, size) restored image."""
    torch.manual_seed(0)
    x = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    if memory_format is not None:
        x = x.contiguous(memory_format=memory_format)

    def forward():
        with torch.set_grad_enabled(grad), torch.autocast(
                device_type=torch.device(device).type, dtype=dtype, enabled=dtype != torch.float32):
            return net(x, return_rgb=False, randomize_noise=False)[0]

    stats = time_callable(forward, runs=runs, warmup=warmup, device=device)
    stats.update(
        device=device,
        batch=batch,
        dtype=str(dtype).replace('torch.', ''),
        grad=grad,
        per_face_s=stats['median_s'] / batch)
    return stats, forward


def make_faces(folder, count=16, size=512):
    """``count`` different size x size PNG faces (the astronaut photo shifted and mirrored), like FFHQ files."""
    try:
        from skimage import data as skdata
        photo = skdata.astronaut()[:, :, ::-1]
    except ImportError:  # smooth random colours: decodes about as fast as a photo
        photo = cv2.resize(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8), (512, 512))
    photo = cv2.resize(photo, (size, size), interpolation=cv2.INTER_AREA)
    for i in range(count):
        img = np.roll(photo, 13 * i, axis=1)
        cv2.imwrite(os.path.join(folder, f'{i:05d}.png'), img[:, ::-1] if i % 2 else img)


def v1_train_options(dataroot, name='train_gfpgan_v1.yml'):
    """datasets.train of the official config (or of options file ``name``), reading ``dataroot``; components off (no
    box file needed, and computing three boxes costs microseconds)."""
    with open(os.path.join(ROOT, 'options', name)) as f:
        opt = yaml.safe_load(f)['datasets']['train']
    opt.update(dataroot_gt=dataroot, io_backend={'type': 'disk'}, crop_components=False, phase='train')
    return opt


def bench_data_one_thread(dataset, samples):
    """Per-sample times (s) of ``dataset[i]`` in this process with OpenCV and torch on one thread."""
    threads = cv2.getNumThreads(), torch.get_num_threads()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    try:
        dataset.seed(0)
        dataset[0]
        times = []
        for i in range(samples):
            start = time.perf_counter()
            dataset[i % len(dataset)]
            times.append(time.perf_counter() - start)
    finally:
        cv2.setNumThreads(threads[0])
        torch.set_num_threads(threads[1])
    times.sort()
    return {
        'workers': 0,
        'threads': 1,
        'samples': samples,
        'median_ms': statistics.median(times) * 1e3,
        'mean_ms': statistics.fmean(times) * 1e3,
        'p90_ms': times[int(0.9 * (len(times) - 1))] * 1e3,
        'samples_per_s': len(times) / sum(times),
    }


def bench_data_workers(dataset, opt, workers, samples, batch=8):
    """Samples/s through a DataLoader with ``workers`` worker processes, in the steady state: the clock starts when the
    first round of batches (one per worker, made in parallel while the workers started) has arrived, then times
    ``samples`` more. Samples are drawn with replacement, so no epoch boundary stalls the workers."""
    opt = dict(opt, num_worker_per_gpu=workers, batch_size_per_gpu=batch, persistent_workers=False)
    first_round = max(workers, 1)
    timed_batches = max(1, math.ceil(samples / batch))
    sampler = torch.utils.data.RandomSampler(
        dataset,
        replacement=True,
        num_samples=(first_round + timed_batches) * batch,
        generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    loader = build_dataloader(dataset, opt, sampler=sampler, seed=0)
    done, start = 0, None
    for i, batch_data in enumerate(loader):
        if i < first_round:
            if i == first_round - 1:
                start = time.perf_counter()
            continue
        done += batch_data['lq'].shape[0]
        if done >= samples:
            break
    elapsed = time.perf_counter() - start
    return {'workers': workers, 'threads': 1, 'samples': done, 'samples_per_s': done / elapsed}


def run_data_benchmark(args):
    with tempfile.TemporaryDirectory() as tmp:
        dataroot = args.dataroot
        if dataroot is None:
            dataroot = os.path.join(tmp, 'faces')
            os.makedirs(dataroot)
            make_faces(dataroot)
        opt = v1_train_options(dataroot)
        dataset = build_dataset(opt)
        rows = [bench_data_one_thread(dataset, args.data_samples)]
        print(f"FFHQDegradationDataset, 1 thread: median {rows[0]['median_ms']:.1f} ms/sample", flush=True)
        for workers in args.data_workers:
            rows.append(bench_data_workers(dataset, opt, workers, args.data_samples))
            print(f'FFHQDegradationDataset, {workers} workers: {rows[-1]["samples_per_s"]:.1f} samples/s', flush=True)
    columns = [('workers', 'DataLoader workers', None), ('samples', 'samples', None),
               ('median_ms', 'median (ms/sample)', '.1f'), ('mean_ms', 'mean (ms)', '.1f'),
               ('p90_ms', 'p90 (ms)', '.1f'), ('samples_per_s', 'samples/s', '.1f')]
    show(args, '\nFFHQDegradationDataset, options/train_gfpgan_v1.yml, 512x512 '
         f"({'--dataroot ' + args.dataroot if args.dataroot else 'generated faces'}); workers 0 = this process",
         markdown_table(rows, columns))
    return {
        'benchmark': 'FFHQDegradationDataset sample, options/train_gfpgan_v1.yml, 512x512',
        'dataroot': args.dataroot or 'generated (astronaut photo)',
        'results': rows
    }


def v1_model_options(out_size=512, name='train_gfpgan_v1.yml', device='cpu'):
    """The whole options dict of an options file, ready for GFPGANModel without data or pretrained files."""
    with open(os.path.join(ROOT, 'options', name)) as f:
        opt = yaml.safe_load(f)
    opt.update(is_train=True, dist=False, rank=0, world_size=1, num_gpu=1 if device == 'cuda' else 0)
    opt['network_g']['decoder_load_path'] = None
    opt['path'] = {'models': tempfile.gettempdir(), 'training_states': tempfile.gettempdir()}
    if opt['train'].get('perceptual_opt'):
        opt['train']['perceptual_opt']['pretrained'] = False
    return opt


def face_batch(batch, size, device):
    """A (lq, gt) batch with the boxes of FFHQ-aligned faces (the 5-point template's), as the dataset gives."""
    from gfpgan.faces.components import COMPONENTS, component_locations, ffhq_template_boxes
    torch.manual_seed(0)
    gt = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    data = {'gt': gt, 'lq': (gt + 0.2 * torch.randn_like(gt)).clamp(-1, 1)}
    locations = component_locations(ffhq_template_boxes(), size, eye_enlarge_ratio=1.4)
    for part, loc in zip(COMPONENTS, locations):
        data[f'loc_{part}'] = loc.expand(batch, 4).clone()
    return data


def bench_train_step(opt, batch, device, runs, warmup):
    """Seconds per GFPGANModel.optimize_parameters on a random batch (iteration 1: no lazy R1)."""
    from gfpgan.models import build_model
    model = build_model(opt)
    data = face_batch(batch, opt['network_g']['out_size'], device)

    def step():
        model.feed_data(data)
        model.optimize_parameters(1)

    stats = time_callable(step, runs=runs, warmup=warmup, device=device)
    stats.update(device=device, batch=batch, case=f"{opt['name']} step", iters_per_s=1 / stats['median_s'])
    return stats


def bench_generator_fwd_bwd(opt, batch, device, runs, warmup):
    """Seconds per forward + backward of the options' generator (L1 to a random target), autograd on."""
    from gfpgan.archs import build_network
    torch.manual_seed(0)
    net = build_network(opt['network_g']).to(device).train()
    data = face_batch(batch, opt['network_g']['out_size'], device)

    def step():
        net.zero_grad(set_to_none=True)
        out, _ = net(data['lq'], return_rgb=True)
        (out - data['gt']).abs().mean().backward()

    stats = time_callable(step, runs=runs, warmup=warmup, device=device)
    stats.update(
        device=device,
        batch=batch,
        case=f"{opt['network_g']['type']} forward + backward",
        iters_per_s=1 / stats['median_s'])
    return stats


def run_train_benchmark(args):
    rows = []
    if args.device in ('auto', 'cpu'):
        v1 = v1_model_options()
        rows.append(bench_generator_fwd_bwd(v1, 1, 'cpu', args.runs, args.warmup))
        print(f"cpu {rows[-1]['case']}: {rows[-1]['median_s']:.2f} s", flush=True)
        rows.append(bench_train_step(v1, 1, 'cpu', args.runs, args.warmup))
        print(f"cpu {rows[-1]['case']}: {rows[-1]['median_s']:.2f} s", flush=True)
        tiny = v1_model_options(name='train_gfpgan_tiny.yml')
        batch = tiny['datasets']['train']['batch_size_per_gpu']
        rows.append(bench_train_step(tiny, batch, 'cpu', max(args.runs, 5), max(args.warmup, 1)))
        print(f"cpu {rows[-1]['case']}: {rows[-1]['iters_per_s']:.2f} it/s", flush=True)
    if args.device in ('auto', 'cuda') and torch.cuda.is_available():
        v1 = v1_model_options(device='cuda')
        for batch in (1, 3):
            rows.append(bench_train_step(v1, batch, 'cuda', max(args.runs, 5), max(args.warmup, 2)))
            print(f"cuda {rows[-1]['case']} batch {batch}: {rows[-1]['iters_per_s']:.2f} it/s", flush=True)
    columns = [('device', 'device', None), ('case', 'case', None), ('batch', 'batch', None),
               ('median_s', 'median (s)', '.3f'), ('iters_per_s', 'it/s', '.2f'), ('min_s', 'min (s)', '.3f'),
               ('peak_memory_mib', 'peak mem (MiB)', '.0f')]
    show(args, '\nGFPGAN training (random weights in place of the pretrained files)', markdown_table(rows, columns))
    return {'benchmark': 'GFPGAN training step', 'results': rows}


def run_network_benchmark(args):
    results = []
    if args.device in ('auto', 'cpu'):
        net = build_restorer(args.model_path, 'cpu')
        for batch in args.cpu_batch_sizes:
            stats, forward = bench_gfpgan(net, 'cpu', batch, torch.float32, args.runs, args.warmup)
            results.append(stats)
            print(f'cpu float32 batch {batch}: {stats["per_face_s"]:.3f} s/face', flush=True)
        if args.with_grad:
            stats, slow = bench_gfpgan(net, 'cpu', 1, torch.float32, args.runs, args.warmup, grad=True)
            results.append(stats)
            with torch.no_grad():
                fast_out = forward()[:1]
            diff = (slow().detach()[:1] - fast_out).abs().max().item()
            stats['max_abs_diff_vs_inference_path'] = diff
            print(
                f'cpu float32 batch 1, autograd on: {stats["per_face_s"]:.3f} s/face, '
                f'max |difference| to the inference path {diff:.3g}',
                flush=True)
        del net
    if args.device in ('auto', 'cuda') and torch.cuda.is_available():
        net = build_restorer(args.model_path, 'cuda')
        for dtype in (torch.float32, torch.bfloat16):
            for batch in args.cuda_batch_sizes:
                stats, _ = bench_gfpgan(net, 'cuda', batch, dtype, args.runs, max(args.warmup, 2))
                results.append(stats)
                print(f'cuda {stats["dtype"]} batch {batch}: {stats["per_face_s"] * 1000:.2f} ms/face', flush=True)

    machine = machine_info()
    columns = [('device', 'device', None), ('dtype', 'dtype', None),
               ('batch', 'batch', None), ('grad', 'autograd', None), ('per_face_s', 'per face (s)', '.3f'),
               ('median_s', 'median/call (s)', '.3f'), ('min_s', 'min (s)', '.3f'), ('max_s', 'max (s)', '.3f'),
               ('first_call_s', 'first call (s)', '.2f'), ('peak_memory_mib', 'peak mem (MiB)', '.0f')]
    show(
        args, f"\nGFPGANv1Clean v1.4 forward — {machine['cpu']}, {machine['torch_threads']} threads, "
        f"torch {machine['torch']}" + (f", {machine['gpu']}" if machine['cuda'] else ''),
        markdown_table(results, columns))
    return {
        'benchmark': 'GFPGANv1Clean forward, v1.4 configuration (512x512, channel_multiplier 2)',
        'config': V14_CONFIG,
        'weights': args.model_path or 'random',
        'results': results,
    }


ASTRONAUT_LANDMARKS = [[202.5, 101.0], [246.0, 104.0], [222.5, 126.0], [202.5, 141.0], [245.0, 142.5]]


class KnownFaceDetector(LandmarksDetector):
    """Reports the astronaut's face after running ``retinaface`` for its cost (with random weights it finds nothing:
    no box passes the threshold, but the network, priors and decoding run)."""

    def __init__(self, retinaface):
        super().__init__(ASTRONAUT_LANDMARKS)
        self.retinaface = retinaface

    def detect(self, img):
        self.retinaface.detect_faces(img, conf_threshold=1.1)
        return super().detect(img)


def random_weight_files(folder):
    """Random-weight files in the release layouts of the four networks a restoration loads."""
    from facexlib.detection.retinaface import RetinaFace
    from facexlib.parsing.parsenet import ParseNet

    from gfpgan.archs import build_network
    from gfpgan.archs.rrdbnet_arch import RRDBNet
    torch.manual_seed(0)
    nets = {
        'gfpgan.pth': {
            'params_ema': build_network(release_network_options('clean')).state_dict()
        },
        'retinaface.pth': RetinaFace(network_name='resnet50', half=False, device=torch.device('cpu')).state_dict(),
        'parsenet.pth': ParseNet(in_size=512, out_size=512, parsing_ch=19).state_dict(),
        'realesrgan_x2.pth': {
            'params_ema': RRDBNet(3, 3, scale=2, num_feat=64, num_block=23, num_grow_ch=32).state_dict()
        },
    }
    paths = {}
    for name, state in nets.items():
        paths[name] = os.path.join(folder, name)
        torch.save(state, paths[name])
    return paths


def build_photo_restorer(paths, device, dtype, with_background):
    """GFPGANer with the benchmark's networks, and a Real-ESRGAN x2 upsampler to set as its background (or None)."""
    from gfpgan.faces.detectors import RetinaFaceDetector
    from gfpgan.faces.parsing import ParseNetParser
    from gfpgan.restoration import GFPGANer
    from gfpgan.restoration.background import RealESRGANUpsampler
    half, bf16 = dtype == torch.float16, dtype == torch.bfloat16
    restorer = GFPGANer(
        paths['gfpgan.pth'],
        upscale=2,
        device=device,
        det_model=None,
        detector=KnownFaceDetector(RetinaFaceDetector(weights=paths['retinaface.pth'], device=device)),
        parser=ParseNetParser(weights=paths['parsenet.pth'], device=device),
        half=half,
        bf16=bf16)
    if not with_background:
        return restorer, None
    return restorer, RealESRGANUpsampler(
        2, model_path=paths['realesrgan_x2.pth'], tile=400, half=half, bf16=bf16, device=device)


def restore_cases(args):
    """(device, dtype) pairs to time."""
    cases = []
    if args.device in ('auto', 'cpu'):
        cases.append(('cpu', torch.float32))
    if args.device in ('auto', 'cuda') and torch.cuda.is_available():
        cases += [('cuda', torch.float32), ('cuda', torch.float16), ('cuda', torch.bfloat16)]
    return cases


def run_restore_benchmark(args):
    from skimage import data as skdata
    photo = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
    photos = [(f'photo{i}', photo) for i in range(args.restore_photos)]
    faces_rows, photo_rows = [], []
    with tempfile.TemporaryDirectory() as tmp:
        paths = random_weight_files(tmp)
        for device, dtype in restore_cases(args):
            name = str(dtype).replace('torch.', '')
            restorer, upsampler = build_photo_restorer(paths, device, dtype, 'realesrgan' in args.restore_bg)
            for batch in args.restore_batch_sizes:
                restorer.batch_size = batch
                restorer.bg_upsampler = None
                faces = restorer.enhance(photo)[0] * batch
                stats = time_callable(
                    lambda: restorer.restore_faces(faces), runs=args.runs, warmup=args.warmup, device=device)
                stats.update(device=device, dtype=name, batch=batch, faces_per_s=batch / stats['median_s'])
                faces_rows.append(stats)
                print(f"{device} {name} restorer batch {batch}: {stats['faces_per_s']:.2f} faces/s", flush=True)
                for background in args.restore_bg:
                    restorer.bg_upsampler = upsampler if background == 'realesrgan' else None
                    stats = time_callable(lambda: list(restorer.enhance_iter(photos)), runs=1, warmup=1, device=device)
                    stats.update(
                        device=device,
                        dtype=name,
                        batch=batch,
                        background=background,
                        photos=len(photos),
                        s_per_photo=stats['median_s'] / len(photos))
                    photo_rows.append(stats)
                    print(
                        f"{device} {name} batch {batch}, background {background}: "
                        f"{stats['s_per_photo']:.2f} s/photo",
                        flush=True)
    show(
        args, '\nGFPGANer.restore_faces, v1.4 configuration, 512x512 uint8 faces in and out (random weights)',
        markdown_table(faces_rows, [('device', 'device', None), ('dtype', 'dtype', None), ('batch', 'batch', None),
                                    ('faces_per_s', 'faces/s', '.2f'), ('median_s', 'median/call (s)', '.3f'),
                                    ('peak_memory_mib', 'peak mem (MiB)', '.0f')]))
    show(
        args, f'\nEnd to end, astronaut photo 512x512 (1 face), upscale 2, {len(photos)} photos through enhance_iter; '
        'RetinaFace R50 + ParseNet + GFPGAN v1.4 (+ Real-ESRGAN x2, tile 400)',
        markdown_table(photo_rows, [('device', 'device', None), ('dtype', 'dtype', None), ('batch', 'batch', None),
                                    ('background', 'background', None), ('s_per_photo', 's/photo', '.2f'),
                                    ('peak_memory_mib', 'peak mem (MiB)', '.0f')]))
    return {
        'benchmark': 'photo restoration (random weights, release layouts)',
        'restorer': faces_rows,
        'end_to_end': photo_rows
    }


def show(args, *lines):
    """Print ``lines`` (a table and its title) and keep them for ``--markdown``."""
    text = '\n'.join(lines)
    print(text, flush=True)
    args.tables.append(text)
