"""Benchmark GFPGAN: the restorer network, the training data pipeline, training steps and photo restoration.

network: forward time of GFPGANv1Clean in the v1.4 configuration (out_size 512, channel_multiplier 2) per
face, on the CPU (float32, this machine's thread count) and, when a GPU is present, on CUDA (float32 and
bfloat16 autocast, batch 1/4/16, peak memory).

train: GFPGAN training on the CPU: the v1 generator's forward + backward at 512 and a full GFPGANModel step
(global, eye / mouth discriminators, identity, perceptual) of options/train_gfpgan_v1.yml at 512 (batch 1), then
iterations/s of options/train_gfpgan_tiny.yml; on CUDA the v1 step at batch 3 with peak memory. Random weights
stand in for the pretrained files (same cost).

data: FFHQDegradationDataset with the datasets.train options of options/train_gfpgan_v1.yml on 512x512
faces (``--dataroot``, or face images made from scikit-image's astronaut photo): ms per sample on one
thread (reading, decoding and degrading included), and samples/s through a DataLoader with N workers.

restore: photo restoration as inference_gfpgan.py runs it. The restorer alone (GFPGANer.restore_faces, v1.4
configuration: faces/s at batch 1 and 8, uint8 faces in and out), then end to end on scikit-image's astronaut
photo (512x512, one face, upscale 2): seconds per photo through GFPGANer.enhance_iter over a folder's worth of
photos with RetinaFace ResNet-50 detection, ParseNet paste mask, and no background or the tiled Real-ESRGAN x2.
On CUDA also float16 and bfloat16. Every network gets random weights saved to a file and loaded the way the
release files are (same cost); the detector's random output is replaced by the photo's known landmarks after its
network has run.

device (not part of all): the GPU measurement of issue 12 in one call, the most important cases first, each
started only if its estimated time fits in --time-budget (else a 'skipped: time budget' row):
  1. restorer forward, GFPGANv1Clean v1.4 at 512: float32 (true float32, TF32 off), bfloat16 and float16 autocast
     at batch 1 / 8 / 32, eager and torch.compile (batch 32 first, the other batches last), channels-last for bf16
     batch 32; faces/s, ms/face, first-call (compile) time, peak memory; PSNR (dB, [-1, 1] mapped to [0, 1]) of
     every output against float32 eager at the same batch, same input and fixed noise.
  2. training step, GFPGANModel.optimize_parameters of options/train_gfpgan_v1.yml at 512 (random weights in place
     of the pretrained files), precisions fp32 / bf16 / bf16 + compile (train.mixed_precision, train.compile,
     train.fused_optimizer; --train-set adds options) at batch 3 and at the largest batch that fits (one lazy-R1
     step per candidate 3, 6, 12, ... until CUDA runs out of memory); plain and lazy-R1 step times, their mix over
     net_d_reg_every iterations (it/s, samples/s), first-step (compile) time, peak memory, first-step losses. A
     compile that fell back to eager is listed as unsupported in its row.
  3. data loader: FFHQDegradationDataset (v1 options, generated 512x512 faces) through a DataLoader with 1, 2, 4, 8
     and 16 workers, steady-state samples/s (and per worker).
  4. end to end: s/photo through GFPGANer.enhance_iter with the Real-ESRGAN x2 background (skipped, with the reason,
     without facexlib).
  5. targets, each with the measured value and pass / fail / n/a: bf16 step >= 1.8x fp32 samples/s at the same
     batch with <= its peak memory; bf16 + compile >= 1.15x bf16; restorer bf16 batch 32 >= 4x float32 batch 1
     faces/s; restorer bf16 PSNR vs float32 >= 40 dB; the loader with <= 8 workers >= the fastest bf16 step's
     samples/s (else by how much it falls short).
JSON: {"machine": ..., "device": {"complete", "config", "cases", "restorer", "train", "data", "end_to_end",
"quality", "first_step_losses", "targets"}}, rewritten after every case (atomically, like --markdown) so an
interrupted run leaves what it measured. --quick runs the same code path in seconds on a CPU: a narrow 32x32
restorer at batch 1 / 2, train_gfpgan_tiny.yml at batch 2 and 4, one data worker, dynamo without code generation
for the restorer's compile row, no training compile and no end to end.

  python scripts/benchmark.py --suite device --device cuda --time-budget 240 --output $OUT/benchmark.json \
      --markdown $OUT/benchmark.md
  python scripts/benchmark.py --suite device --device cpu --quick --threads 1

Prints Markdown tables and writes the figures as JSON (--markdown FILE: the tables to a file too).
"""
import argparse
import gc
import importlib.util
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time

import cv2
import numpy as np
import torch
import yaml

from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean  # noqa: E402
from gfpgan.archs.presets import release_network_options  # noqa: E402
from gfpgan.data import build_dataloader, build_dataset  # noqa: E402
from gfpgan.errors import add_debug_argument  # noqa: E402
from gfpgan.preflight import Preflight  # noqa: E402
from gfpgan.restoration import LandmarksDetector  # noqa: E402
from gfpgan.utils.benchmark import (TARGETS, TimeBudget, evaluate_targets, json_safe, machine_info,  # noqa: E402
                                    markdown_table, psnr_db, time_callable)
from gfpgan.utils.checkpoint import load_network  # noqa: E402
from gfpgan.utils.device import backend_flags, to_memory_format  # noqa: E402
from gfpgan.utils.fileio import atomic_write  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
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
    from gfpgan.data.components import component_locations, ffhq_template_boxes
    torch.manual_seed(0)
    gt = torch.rand(batch, 3, size, size, device=device) * 2 - 1
    data = {'gt': gt, 'lq': (gt + 0.2 * torch.randn_like(gt)).clamp(-1, 1)}
    locations = component_locations(ffhq_template_boxes(), size, eye_enlarge_ratio=1.4)
    for part, loc in zip(('left_eye', 'right_eye', 'mouth'), locations):
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
    from gfpgan.restoration import GFPGANer, ParseNetParser, RetinaFaceDetector
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


# ================================================================================================ device suite
QUICK_RESTORER = dict(V14_CONFIG, out_size=32, num_style_feat=32, num_mlp=2, channel_multiplier=1, narrow=0.25)

#: Sizes of the device suite: 'full' is the measurement (CUDA), 'quick' the same code path in seconds on a CPU.
DEVICE_SIZES = {
    'full':
    dict(
        restorer=V14_CONFIG,
        restorer_batches=(1, 8, 32),
        restorer_runs=5,
        restorer_warmup=2,
        restorer_compile_all=True,  # compile rows for every dtype and batch (the largest batch first)
        train_options='train_gfpgan_v1.yml',
        train_batch=3,
        train_search=(3, 6, 12, 24, 48, 96, 192, 384),
        train_runs=5,
        train_warmup=1,
        r1_runs=2,
        r1_warmup=1,
        max_runs=3,
        data_options='train_gfpgan_v1.yml',
        data_size=512,
        data_faces=16,
        data_workers=(1, 2, 4, 8, 16),
        data_batch=8,
        data_rounds=4,
        data_min_samples=64,
        photos=4,
        photo_batch=8,
        background='realesrgan'),
    'quick':
    dict(
        restorer=QUICK_RESTORER,
        restorer_batches=(1, 2),
        restorer_runs=1,
        restorer_warmup=1,
        restorer_compile_all=False,
        train_options='train_gfpgan_tiny.yml',
        train_batch=2,
        train_search=(4, ),
        train_runs=1,
        train_warmup=0,
        r1_runs=1,
        r1_warmup=0,
        max_runs=1,
        data_options='train_gfpgan_tiny.yml',
        data_size=64,
        data_faces=4,
        data_workers=(1, ),
        data_batch=2,
        data_rounds=2,
        data_min_samples=4,
        photos=1,
        photo_batch=1,
        background='none'),
}

#: Seconds a case of each kind is expected to take before one was measured (then: the longest measured).
DEVICE_ESTIMATES = {
    'full':
    dict(
        restorer=8,
        restorer_compile=90,
        train=30,
        train_compile=150,
        train_max=60,
        data=10,
        end_to_end=60),
    'quick':
    dict(restorer=0.5, restorer_compile=3, train=2, train_compile=60, train_max=3, data=2, end_to_end=30),
}

#: Training options of the three precisions (``train`` section), on top of TRAIN_COMMON and ``--train-set``.
TRAIN_PRECISIONS = {
    'fp32': {
        'mixed_precision': 'none',
        'compile': False
    },
    'bf16': {
        'mixed_precision': 'bf16',
        'compile': False
    },
    'bf16+compile': {
        'mixed_precision': 'bf16',
        'compile': True
    },
}
TRAIN_COMMON = {'fused_optimizer': True}
DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}
DTYPE_ORDER = list(DTYPES)
PRECISION_ORDER = list(TRAIN_PRECISIONS)


def first_line(err, limit=300):
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:limit] if text else ''}"


def schema_knows(dotted_key):
    """Whether ``gfpgan.options.SCHEMA`` declares option ``dotted_key`` (e.g. 'train.mixed_precision')."""
    import fnmatch

    from gfpgan.options import SCHEMA
    spec = SCHEMA
    for part in dotted_key.split('.'):
        fields = getattr(spec, 'fields', None) or {}
        spec = fields.get(part) or next((v for k, v in fields.items() if fnmatch.fnmatchcase(part, k)), None)
        if spec is None:
            return False
    return True


def is_out_of_memory(err):
    """Whether ``err`` says the GPU ran out of memory (the caching allocator's error, or a library's allocation)."""
    text = str(err)
    return isinstance(err, torch.cuda.OutOfMemoryError) or 'out of memory' in text or 'ALLOC_FAILED' in text


def end_to_end_unavailable():
    """Why photos cannot be restored end to end here (a missing package), or None."""
    missing = [name for name in ('facexlib', 'skimage') if importlib.util.find_spec(name) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (RetinaFace / ParseNet come from facexlib, the photo from " \
            'scikit-image)'
    return None


class DeviceSuite:
    """The device benchmark (issue 12): restorer forward, training step, data loader and end to end on one device,
    each case within the time budget, and the targets computed from them. Rows: dicts with a ``status``: 'ok',
    'skipped: <why>' or 'error: <exception>'."""

    def __init__(self, args, budget):
        self.args = args
        self.device = args.device if args.device != 'auto' else ('cuda' if torch.cuda.is_available() else 'cpu')
        self.cuda = self.device == 'cuda'
        self.mode = 'quick' if args.quick else 'full'
        self.sizes = DEVICE_SIZES[self.mode]
        self.estimates = DEVICE_ESTIMATES[self.mode]
        self.budget = budget
        self.compile_backend = 'inductor' if self.cuda or not args.quick else 'eager'
        self.rows = {'restorer': [], 'train': [], 'data': [], 'end_to_end': []}
        self.restorer = None
        self.references = {}  # batch -> float32 eager restorer output
        self.max_batch = {}  # training precision -> largest batch that fits
        self.tmp = None  # a scratch folder (generated faces, weight files), made when first needed
        self.dataset = self.weights = None
        self.train_set = dict(args.train_set or {})

    # -------------------------------------------------------------------------------------------- running cases
    def scratch(self):
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix='gfpgan_bench_')
        return self.tmp

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def peak_mib(self):
        return torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None

    def free(self):
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()

    def run_case(self, section, kind, row, measure, skip=None):
        """Run ``measure()`` (returns the row's figures) unless ``skip`` (a reason) or the budget says no; errors are
        recorded in the row, never raised. The report files are rewritten after every case."""
        row = dict(row, device=self.device)
        estimate = self.budget.estimate(kind, self.estimates[kind])
        if skip:
            row['status'] = f'skipped: {skip}'
        elif not self.budget.allows(kind, self.estimates[kind]):
            row.update(status='skipped: time budget', estimate_s=estimate)
        else:
            self.free()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            try:
                row.update(measure())
                row.setdefault('status', 'ok')
            except Exception as err:  # noqa: BLE001 - one failed case must not lose the others
                row['status'] = f'error: {first_line(err)}'
                import traceback
                traceback.print_exc()
            row['case_s'] = time.perf_counter() - start
            self.budget.record(kind, row['case_s'])
            self.free()
        self.rows[section].append(row)
        label = ', '.join(f'{k} {row[k]}' for k in ('precision', 'dtype', 'batch', 'workers') if k in row)
        flags = ''.join(f' +{k}' for k in ('compile', 'channels_last') if row.get(k) is True)
        print(f"[{self.budget.elapsed():6.1f} s] {section} {label}{flags}: {row['status']}"
              + (f" ({row['case_s']:.1f} s)" if 'case_s' in row else ''), flush=True)
        self.save(complete=False)

    # -------------------------------------------------------------------------------------------- restorer
    def restorer_net(self):
        if self.restorer is None:
            torch.manual_seed(0)
            if self.mode == 'full':
                self.restorer = build_restorer(self.args.model_path, self.device)
            else:
                self.restorer = GFPGANv1Clean(**QUICK_RESTORER).eval().to(self.device)
        return self.restorer

    def restorer_case(self, dtype, batch, compile=False, channels_last=False):
        name = str(dtype).replace('torch.', '')
        row = {'dtype': name, 'batch': batch, 'compile': compile, 'channels_last': channels_last}
        if compile:
            row['compile_backend'] = self.compile_backend

        def measure():
            net = self.restorer_net()
            size = self.sizes['restorer']['out_size']
            memory_format = torch.channels_last if channels_last else None
            if channels_last:
                to_memory_format(net, torch.channels_last)
            try:
                model = net
                if compile:
                    torch._dynamo.reset()  # a fresh compile per case: first_call_s is the whole compile time
                    model = torch.compile(net, backend=self.compile_backend, dynamic=False)
                with backend_flags(tf32=False):  # float32 is true float32 (PyTorch leaves cuDNN on TF32)
                    stats, forward = bench_gfpgan(model, self.device, batch, dtype, self.sizes['restorer_runs'],
                                                  self.sizes['restorer_warmup'], size=size,
                                                  memory_format=memory_format)
                    with torch.no_grad():
                        out = forward().float()
            finally:
                if channels_last:
                    to_memory_format(net, torch.contiguous_format)
            stats.pop('times_s', None)
            stats.update(faces_per_s=batch / stats['median_s'], ms_per_face=stats['median_s'] / batch * 1e3,
                         size=size)
            if dtype == torch.float32 and not compile and not channels_last:
                self.references[batch] = out
            elif batch in self.references:
                value, diff = psnr_db(out, self.references[batch])
                stats.update(psnr_vs_float32_db=value, max_abs_diff_vs_float32=diff)
            stats['output_finite'] = bool(torch.isfinite(out).all())
            return stats

        self.run_case('restorer', 'restorer_compile' if compile else 'restorer', row, measure)

    # -------------------------------------------------------------------------------------------- training
    def build_train_model(self, settings):
        """GFPGANModel of the suite's options file with ``settings`` in its ``train`` options."""
        from gfpgan.models import build_model
        opt = v1_model_options(name=self.sizes['train_options'], device=self.device)
        opt['train'].update(settings)
        torch.manual_seed(0)
        return build_model(opt)

    def step(self, model, data, iteration):
        model.feed_data(data)
        model.optimize_parameters(iteration)

    def time_steps(self, model, batch, runs):
        """Training steps at ``batch``: the first (compile included), plain ones (no R1) and lazy-R1 ones (every
        net_d_reg_every iterations); the step time is their mix over net_d_reg_every iterations."""
        size = model.opt['network_g']['out_size']
        reg_every = int(model.opt['train']['net_d_reg_every'])
        data = face_batch(batch, size, self.device)
        plain_iters = (i for i in range(1, 10**9) if i % reg_every)
        r1_iters = (reg_every * j for j in range(1, 10**9))

        def timed(iteration):
            self.sync()
            start = time.perf_counter()
            self.step(model, data, iteration)
            self.sync()
            return time.perf_counter() - start

        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        torch.manual_seed(0)
        first_step = timed(next(plain_iters) if reg_every > 1 else next(r1_iters))
        losses = {k: float(v) for k, v in model.log_dict.items()}
        for _ in range(self.sizes['train_warmup']):
            timed(next(plain_iters))
        plain = [timed(next(plain_iters)) for _ in range(runs)] if reg_every > 1 else []
        first_r1 = None
        for _ in range(self.sizes['r1_warmup']):
            first_r1 = timed(next(r1_iters))
        r1 = [timed(next(r1_iters)) for _ in range(self.sizes['r1_runs'])]
        plain_s = statistics.median(plain) if plain else None
        r1_s = statistics.median(r1)
        step_s = ((reg_every - 1) * plain_s + r1_s) / reg_every if plain else r1_s
        return {
            'batch': batch,
            'step_s': step_s,
            'it_per_s': 1 / step_s,
            'samples_per_s': batch / step_s,
            'plain_step_s': plain_s,
            'r1_step_s': r1_s,
            'r1_every': reg_every,
            'plain_runs': len(plain),
            'r1_runs': len(r1),
            'first_step_s': first_step,
            'first_r1_step_s': first_r1,
            'peak_memory_mib': self.peak_mib(),
            'first_step_losses': losses,
        }

    def search_batch(self, model, start_batch):
        """The largest batch of the search list (from ``start_batch``) whose lazy-R1 step (the most memory) fits:
        one step each until CUDA runs out of memory, the peak of the last one predicts more than 95% of the memory
        for the next, or the time budget could not also time a row at the next. Returns (batch, [{batch, fits,
        peak_memory_mib, step_s | reason}])."""
        size = model.opt['network_g']['out_size']
        reg_every = int(model.opt['train']['net_d_reg_every'])
        total = torch.cuda.get_device_properties(0).total_memory / 2**20 if self.cuda else None
        steps_per_row = (1 + self.sizes['train_warmup'] + self.sizes['max_runs'] + self.sizes['r1_warmup'] +
                         self.sizes['r1_runs'])
        best, tried, last = None, [], None
        for batch in [b for b in self.sizes['train_search'] if b >= start_batch]:
            self.free()
            resident = torch.cuda.memory_allocated() / 2**20 if self.cuda else None  # weights, optimizer states
            if last is not None:
                growth = batch / last['batch']
                if total is not None and resident + (last['peak_memory_mib'] - resident) * growth > 0.95 * total:
                    tried.append({'batch': batch, 'fits': False, 'reason': 'predicted peak over 95% of the memory'})
                    break
                if self.budget.remaining() < last['step_s'] * growth * (1 + steps_per_row):
                    tried.append({'batch': batch, 'fits': False, 'reason': 'time budget'})
                    break
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            out_of_memory = False
            start = time.perf_counter()
            try:
                self.step(model, face_batch(batch, size, self.device), reg_every)
                self.sync()
            except RuntimeError as err:  # torch.cuda.OutOfMemoryError, or a cuDNN / cuBLAS allocation failure
                if not is_out_of_memory(err):
                    raise
                out_of_memory = True
            seconds = time.perf_counter() - start
            if out_of_memory:
                for optimizer in model.optimizers:
                    optimizer.zero_grad(set_to_none=True)
                self.free()
                tried.append({'batch': batch, 'fits': False, 'reason': 'CUDA out of memory'})
                break
            last = {'batch': batch, 'fits': True, 'peak_memory_mib': self.peak_mib(), 'step_s': seconds}
            tried.append(last)
            best = batch
        self.free()
        return best, tried

    def train_case(self, precision, kind):
        """One training row: ``kind`` 'base' (the suite's batch) or 'max' (the largest batch that fits)."""
        settings = {**TRAIN_COMMON, **TRAIN_PRECISIONS[precision], **self.train_set}
        compile = bool(settings.get('compile'))
        row = {'precision': precision, 'batch_kind': kind, 'options': settings}
        if kind == 'base':
            row['batch'] = self.sizes['train_batch']
        skip = None
        if compile and not self.cuda and self.mode == 'quick':
            skip = '--quick on the CPU (torch.compile of a training step takes minutes there)'
        elif kind == 'max' and not self.cuda and self.mode == 'full':
            skip = 'no memory limit to search on the CPU'
        elif kind == 'max' and compile and self.max_batch.get('bf16') is None:
            skip = 'needs the largest bf16 batch (not measured)'

        def measure():
            if compile:
                torch._dynamo.reset()  # compile afresh: first_step_s is the whole compile time
            with backend_flags(cudnn_benchmark=True):  # as train.py runs (unless the options ask for determinism)
                model = self.build_train_model(settings)
                try:
                    figures = {}
                    if kind == 'max' and compile:
                        batch = self.max_batch['bf16']
                    elif kind == 'max':
                        batch, figures['search'] = self.search_batch(model, self.sizes['train_batch'])
                        if batch is None:
                            return dict(figures, status='error: not even the first batch of the search fits')
                        self.max_batch[precision] = batch
                    else:
                        batch = self.sizes['train_batch']
                    runs = self.sizes['train_runs'] if kind == 'base' else self.sizes['max_runs']
                    notes = []
                    try:
                        figures.update(self.time_steps(model, batch, runs))
                    except RuntimeError as err:
                        fitting = [t['batch'] for t in figures.get('search', []) if t['fits'] and t['batch'] < batch]
                        if not (is_out_of_memory(err) and fitting):
                            raise
                        fallback = fitting[-1]  # fragmentation after the search: time the next smaller batch
                    else:
                        fallback = None
                    if fallback is not None:
                        for optimizer in model.optimizers:
                            optimizer.zero_grad(set_to_none=True)
                        self.free()
                        notes.append(f'out of memory while timing batch {batch}: timed batch {fallback}')
                        self.max_batch[precision] = fallback
                        figures.update(self.time_steps(model, fallback, runs))
                    figures['unsupported_options'] = []
                    if compile and not model.net_g_forward.active:
                        figures['unsupported_options'].append('compile')
                        notes.append('torch.compile fell back to eager')
                    figures['note'] = '; '.join(notes)
                    return figures
                finally:
                    del model

        case_kind = 'train_compile' if compile else ('train_max' if kind == 'max' else 'train')
        self.run_case('train', case_kind, row, measure, skip)

    # -------------------------------------------------------------------------------------------- data, photos
    def data_case(self, workers):
        row = {'workers': workers, 'batch': self.sizes['data_batch']}

        def measure():
            if self.dataset is None:
                folder = os.path.join(self.scratch(), 'faces')
                os.makedirs(folder, exist_ok=True)
                make_faces(folder, count=self.sizes['data_faces'], size=self.sizes['data_size'])
                opt = v1_train_options(folder, name=self.sizes['data_options'])
                self.dataset = (build_dataset(opt), opt)
            dataset, opt = self.dataset
            batch = self.sizes['data_batch']
            samples = max(self.sizes['data_min_samples'], self.sizes['data_rounds'] * workers * batch)
            stats = bench_data_workers(dataset, opt, workers, samples, batch=batch)
            stats.update(samples_per_s_per_worker=stats['samples_per_s'] / workers, size=self.sizes['data_size'])
            return stats

        self.run_case('data', 'data', row, measure)

    def end_to_end_case(self, dtype):
        name = str(dtype).replace('torch.', '')
        background = self.sizes['background']
        row = {'dtype': name, 'background': background, 'batch': self.sizes['photo_batch']}
        row['photos'] = self.sizes['photos']
        skip = end_to_end_unavailable()
        if skip is None and self.mode == 'quick':
            skip = '--quick (the end-to-end networks run at 512x512: tens of seconds on a CPU)'

        def measure():
            from skimage import data as skdata
            photo = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
            photos = [(f'photo{i}', photo) for i in range(self.sizes['photos'])]
            if self.weights is None:
                self.weights = random_weight_files(self.scratch())
            restorer, upsampler = build_photo_restorer(self.weights, self.device, dtype, background == 'realesrgan')
            restorer.batch_size = self.sizes['photo_batch']
            restorer.bg_upsampler = upsampler
            list(restorer.enhance_iter(photos[:1]))  # warm-up
            self.sync()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            list(restorer.enhance_iter(photos))
            self.sync()
            elapsed = time.perf_counter() - start
            return {'s_per_photo': elapsed / len(photos), 'total_s': elapsed, 'peak_memory_mib': self.peak_mib()}

        self.run_case('end_to_end', 'end_to_end', row, measure, skip)

    # -------------------------------------------------------------------------------------------- schedule
    def schedule(self):
        """The cases, most important first: what the targets need, then the rest of the grid, then the expensive
        (compile, largest batch) and the optional ones."""
        f32, bf16, f16 = torch.float32, torch.bfloat16, torch.float16
        batches = self.sizes['restorer_batches']
        small, big = batches[0], batches[-1]
        first = [(f32, small), (f32, big), (bf16, big), (f16, big)]
        cases = [lambda d=d, b=b: self.restorer_case(d, b) for d, b in first]
        cases += [lambda p=p: self.train_case(p, 'base') for p in ('fp32', 'bf16')]
        workers = self.sizes['data_workers']
        limit = TARGETS['loader_max_workers']
        order = sorted((w for w in workers if w <= limit), reverse=True) + sorted(w for w in workers if w > limit)
        cases += [lambda w=w: self.data_case(w) for w in order]
        cases.append(lambda: self.restorer_case(bf16, big, channels_last=True))
        rest = [(d, b) for d in (f32, bf16, f16) for b in batches if (d, b) not in first]
        if self.mode == 'quick':
            rest = [(d, b) for d, b in rest if d != f16]  # float16 is slow on a CPU: the largest batch only
        cases += [lambda d=d, b=b: self.restorer_case(d, b) for d, b in rest]
        cases.append(lambda: self.train_case('bf16+compile', 'base'))
        cases += [lambda p=p: self.train_case(p, 'max') for p in ('bf16', 'fp32')]
        compiled = [(bf16, big), (f16, big), (f32, big)] if self.sizes['restorer_compile_all'] else [(bf16, big)]
        cases += [lambda d=d, b=b: self.restorer_case(d, b, compile=True) for d, b in compiled]
        cases.append(lambda: self.train_case('bf16+compile', 'max'))
        cases += [lambda d=d: self.end_to_end_case(d) for d in ((bf16, f32) if self.cuda else (f32, ))]
        if self.sizes['restorer_compile_all']:
            cases += [
                lambda d=d, b=b: self.restorer_case(d, b, compile=True)
                for d in (bf16, f16, f32) for b in batches[:-1]
            ]
        return cases

    def run(self):
        self.started = time.time()
        try:
            for case in self.schedule():
                case()
        finally:
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return self.save(complete=True)

    # -------------------------------------------------------------------------------------------- report
    def result(self, complete):
        rows = {
            'restorer':
            sorted(self.rows['restorer'],
                   key=lambda r: (r['compile'], r['channels_last'], DTYPE_ORDER.index(r['dtype']), r['batch'])),
            'train':
            sorted(self.rows['train'],
                   key=lambda r: (PRECISION_ORDER.index(r['precision']), r['batch_kind'] != 'base')),
            'data':
            sorted(self.rows['data'], key=lambda r: r['workers']),
            'end_to_end':
            sorted(self.rows['end_to_end'], key=lambda r: DTYPE_ORDER.index(r['dtype'])),
        }
        restorer_batch = self.sizes['restorer_batches'][-1]
        quality = [{
            k: r.get(k)
            for k in ('dtype', 'batch', 'compile', 'channels_last', 'psnr_vs_float32_db', 'max_abs_diff_vs_float32',
                      'output_finite')
        } for r in rows['restorer'] if r.get('status') == 'ok' and 'max_abs_diff_vs_float32' in r]
        losses = {r['precision']: r['first_step_losses'] for r in rows['train']
                  if r['batch_kind'] == 'base' and r.get('first_step_losses')}
        counts = {}
        for section in rows.values():
            for r in section:
                kind = r['status'].split(':')[0]
                counts[kind] = counts.get(kind, 0) + 1
        return {
            'benchmark': 'device suite: restorer forward, training step, data loader, end to end (random weights)',
            'complete': complete,
            'config': {
                'device': self.device,
                'mode': self.mode,
                'time_budget_s': self.budget.seconds,
                'elapsed_s': self.budget.elapsed(),
                'sizes': {k: v for k, v in self.sizes.items()},
                'train_precisions': {p: {**TRAIN_COMMON, **s, **self.train_set}
                                     for p, s in TRAIN_PRECISIONS.items()},
                'compile_backend': self.compile_backend,
                'restorer_tf32': False,
                'restorer_cudnn_benchmark': torch.backends.cudnn.benchmark,
                'train_cudnn_benchmark': True,
                'c_compiler': shutil.which('cc') or shutil.which('gcc'),
                'weights': self.args.model_path or 'random',
                'gpu_memory_mib': (torch.cuda.get_device_properties(0).total_memory / 2**20 if self.cuda else None),
            },
            'cases': counts,
            **rows,
            'quality': quality,
            'first_step_losses': losses,
            'targets': evaluate_targets(rows['restorer'], rows['train'], rows['data'], restorer_batch=restorer_batch),
        }

    def save(self, complete):
        result = self.result(complete)
        report = {'machine': self.args.machine, 'device': result}
        write_json(self.args.output, report)
        if self.args.markdown:
            write_text(self.args.markdown, device_markdown(report) + '\n')
        return result


def write_json(path, report):
    with atomic_write(path) as f:
        f.write(json.dumps(json_safe(report), indent=2, allow_nan=False).encode('utf-8'))


def write_text(path, text):
    with atomic_write(path) as f:
        f.write(text.encode('utf-8'))


def _yes(value):
    return {True: 'yes', False: 'no'}.get(value, value)


def _status(row):
    status = row.get('status', '')
    if status == 'ok' and row.get('unsupported_options'):
        return 'ok; unsupported: ' + ', '.join(row['unsupported_options'])
    return status


def _ms(value):
    return None if value is None else value * 1e3


def _search_step(step):
    if not step['fits']:
        return f"no ({step['reason']})"
    return 'fits' if step.get('peak_memory_mib') is None else f"fits ({step['peak_memory_mib']:.0f} MiB)"


def device_markdown(report):
    """The device suite's tables (Markdown), the targets last."""
    machine, result = report['machine'], report['device']
    config = result['config']
    where = machine.get('gpu') if config['device'] == 'cuda' else f"{machine['cpu']}, {machine['torch_threads']} " \
        'threads'
    state = '' if result['complete'] else ' — INCOMPLETE (interrupted or still running)'
    size = config['sizes']['restorer']['out_size']
    parts = [
        f"## GFPGAN device benchmark: {config['device']} ({where}), torch {machine['torch']}, {config['mode']} sizes, "
        f"{config['elapsed_s']:.0f} s" + (f" of a {config['time_budget_s']:.0f} s budget" if config['time_budget_s']
                                          else '') + state
    ]
    restorer = [
        dict(r, compile=_yes(r.get('compile')), channels_last=_yes(r.get('channels_last')), status=_status(r))
        for r in result['restorer']
    ]
    parts += [
        f'\n### Restorer: GFPGANv1Clean forward, {size}x{size} ('
        + ('v1.4 configuration' if config['mode'] == 'full' else 'narrow quick configuration')
        + f", {config['weights']} weights, fixed noise; float32 without TF32; compile backend "
        f"{config['compile_backend']})",
        markdown_table(restorer, [('dtype', 'dtype', None), ('batch', 'batch', None), ('compile', 'compile', None),
                                  ('channels_last', 'channels-last', None), ('faces_per_s', 'faces/s', '.2f'),
                                  ('ms_per_face', 'ms/face', '.2f'), ('first_call_s', 'first call (s)', '.2f'),
                                  ('peak_memory_mib', 'peak mem (MiB)', '.0f'),
                                  ('psnr_vs_float32_db', 'PSNR vs float32 (dB)', '.1f'), ('status', 'status', None)])
    ]
    quality = [
        dict(q,
             compile=_yes(q['compile']),
             channels_last=_yes(q['channels_last']),
             psnr=('identical' if q['max_abs_diff_vs_float32'] == 0 else
                   f"{q['psnr_vs_float32_db']:.2f}" if q['psnr_vs_float32_db'] is not None else 'not finite'))
        for q in result['quality']
    ]
    parts += [
        '\n### Restorer quality: outputs against float32 eager at the same batch (same input, fixed noise; [-1, 1] '
        'mapped to [0, 1])',
        markdown_table(quality, [('dtype', 'dtype', None), ('batch', 'batch', None), ('compile', 'compile', None),
                                 ('channels_last', 'channels-last', None), ('psnr', 'PSNR (dB)', None),
                                 ('max_abs_diff_vs_float32', 'max abs diff', '.2e')])
    ]
    train = [
        dict(r,
             step_ms=_ms(r.get('step_s')),
             plain_ms=_ms(r.get('plain_step_s')),
             r1_ms=_ms(r.get('r1_step_s')),
             batch=r.get('batch', '-'),
             kind='largest that fits' if r['batch_kind'] == 'max' else 'base',
             status=_status(r)) for r in result['train']
    ]
    parts += [
        f"\n### Training step: GFPGANModel.optimize_parameters, options/{config['sizes']['train_options']} "
        '(random weights in place of the pretrained files); step = the mix of plain steps and one lazy-R1 step '
        'every net_d_reg_every iterations',
        markdown_table(train, [('precision', 'precision', None), ('batch', 'batch', None), ('kind', 'batch kind', None),
                               ('it_per_s', 'it/s', '.2f'), ('samples_per_s', 'samples/s', '.2f'),
                               ('step_ms', 'step (ms)', '.1f'), ('plain_ms', 'plain step (ms)', '.1f'),
                               ('r1_ms', 'R1 step (ms)', '.1f'), ('first_step_s', 'first step (s)', '.2f'),
                               ('peak_memory_mib', 'peak mem (MiB)', '.0f'), ('status', 'status', None)])
    ]
    for r in result['train']:
        if r.get('search'):
            steps = ', '.join(f"{s['batch']} " + _search_step(s) for s in r['search'])
            parts.append(f"\nLargest batch, {r['precision']}: {steps}.")
        if r.get('note'):
            parts.append(f"\nNote, {r['precision']} ({r['batch_kind']}): {r['note']}.")
    settings = '; '.join(f'{p}: ' + ', '.join(f'{k}={v}' for k, v in s.items())
                         for p, s in config['train_precisions'].items())
    parts.append(f'\nTraining options (`train` section): {settings}.')
    losses = result['first_step_losses']
    if losses:
        names = list(dict.fromkeys(name for values in losses.values() for name in values))
        rows = []
        for name in names:
            row = {'loss': name, **{p: losses[p].get(name) for p in losses}}
            reference = losses.get('fp32', {}).get(name)
            diffs = [abs(v[name] - reference) / abs(reference) for p, v in losses.items()
                     if p != 'fp32' and reference and v.get(name) is not None]
            row['rel'] = max(diffs) if diffs else None
            rows.append(row)
        parts += [
            '\n### First-step losses (same weights, batch and seed)',
            markdown_table(rows, [('loss', 'loss', None)] + [(p, p, '.5g') for p in losses]
                           + [('rel', 'max rel. diff vs fp32', '.2%')])
        ]
    parts += [
        f"\n### Data loader: FFHQDegradationDataset, options/{config['sizes']['data_options']} at "
        f"{config['sizes']['data_size']}x{config['sizes']['data_size']} (generated faces), steady state",
        markdown_table(result['data'], [('workers', 'workers', None), ('batch', 'batch', None),
                                        ('samples', 'samples', None), ('samples_per_s', 'samples/s', '.1f'),
                                        ('samples_per_s_per_worker', 'samples/s per worker', '.1f'),
                                        ('status', 'status', None)])
    ]
    parts += [
        '\n### End to end: astronaut photo 512x512 (1 face), upscale 2, RetinaFace R50 + ParseNet + GFPGAN v1.4 '
        '(+ Real-ESRGAN x2, tile 400) through GFPGANer.enhance_iter',
        markdown_table(result['end_to_end'], [('dtype', 'dtype', None), ('background', 'background', None),
                                              ('batch', 'batch', None), ('photos', 'photos', None),
                                              ('s_per_photo', 's/photo', '.3f'),
                                              ('peak_memory_mib', 'peak mem (MiB)', '.0f'),
                                              ('status', 'status', None)])
    ]
    parts += [
        '\n### Targets',
        markdown_table(result['targets'], [('target', 'target', None), ('requirement', 'requirement', None),
                                           ('measured', 'measured', None), ('status', 'status', None),
                                           ('note', 'note', None)])
    ]
    return '\n'.join(parts)


def run_device_benchmark(args):
    budget = TimeBudget(args.time_budget)
    suite = DeviceSuite(args, budget)
    print(f'device suite on {suite.device} ({suite.mode} sizes)'
          + (f', time budget {args.time_budget:.0f} s' if args.time_budget else ''), flush=True)
    result = suite.run()
    show(args, '\n' + device_markdown({'machine': args.machine, 'device': result}))
    return result


def check_outputs(args):
    """The files written at the end (--output, --markdown) can be written: found now, not after the benchmark."""
    pf = Preflight()
    for path, flag in ((args.output, '--output'), (args.markdown, '--markdown')):
        if path:
            pf.check(not os.path.isdir(path), f"{flag}: '{path}' is a folder; give a file name.")
            pf.output_folder(os.path.dirname(os.path.abspath(path)), flag)
    pf.raise_if_any()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--device',
        choices=['auto', 'cpu', 'cuda'],
        default='auto',
        help='cpu, cuda, or auto: the CPU, plus CUDA when available (default)')
    parser.add_argument('--runs', type=int, default=5, help='timed runs per case (default 5; the median is reported)')
    parser.add_argument('--warmup', type=int, default=1, help='untimed runs first (default 1)')
    parser.add_argument('--threads', type=int, default=None, help='CPU threads (default: torch default)')
    parser.add_argument('--cpu-batch-sizes', type=int, nargs='+', default=[1], help='CPU batch sizes (default 1)')
    parser.add_argument(
        '--cuda-batch-sizes', type=int, nargs='+', default=[1, 4, 16], help='CUDA batch sizes (default 1 4 16)')
    parser.add_argument(
        '--with-grad', action='store_true', help='also time the CPU forward with autograd enabled (the training path)')
    parser.add_argument(
        '--model_path',
        default=None,
        help='a GFPGANv1Clean checkpoint (e.g. GFPGANv1.4.pth); default: random weights, same timing')
    parser.add_argument(
        '--suite',
        choices=['all', 'network', 'data', 'train', 'restore', 'device'],
        default='all',
        help='what to benchmark (default: all = network, data, train and restore; device: the GPU measurement of '
        'issue 12, see above)')
    parser.add_argument(
        '--quick',
        action='store_true',
        help='device suite: tiny sizes (narrow 32x32 restorer, train_gfpgan_tiny.yml, 1 data worker, no end to end): '
        'the same code path in seconds, for tests')
    parser.add_argument(
        '--time-budget',
        type=float,
        default=None,
        metavar='SECONDS',
        help='device suite: a case starts only if its estimated time fits in what is left of SECONDS; the others '
        "become 'skipped: time budget' rows (default: no limit)")
    parser.add_argument(
        '--train-set',
        nargs='+',
        default=[],
        metavar='KEY=VALUE',
        help='device suite: extra `train` options for every training row, e.g. channels_last=true tf32=true')
    parser.add_argument(
        '--restore-batch-sizes',
        type=int,
        nargs='+',
        default=[1, 8],
        help='GFPGANer batch sizes of the restore suite (default 1 8)')
    parser.add_argument(
        '--restore-photos', type=int, default=4, help='photos per end-to-end run of the restore suite (default 4)')
    parser.add_argument(
        '--restore-bg',
        nargs='+',
        choices=['none', 'realesrgan'],
        default=['none', 'realesrgan'],
        help='backgrounds of the end-to-end restore cases (default: both)')
    parser.add_argument(
        '--dataroot', default=None, help='a folder of 512x512 faces for the data benchmark (default: generated ones)')
    parser.add_argument('--data-samples', type=int, default=200, help='samples timed per data case (default 200)')
    parser.add_argument(
        '--data-workers',
        type=int,
        nargs='*',
        default=sorted({1, os.cpu_count() or 1}),
        help='DataLoader worker counts to time (default: 1 and this machine\'s core count)')
    parser.add_argument('--output', default='benchmark_gfpgan.json', help='JSON file to write')
    parser.add_argument('--markdown', default=None, metavar='FILE', help='also write the printed tables to FILE')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    check_outputs(args)
    if min(args.runs, args.data_samples, args.restore_photos, *args.restore_batch_sizes) < 1 or args.warmup < 0:
        parser.error('--runs, --data-samples, --restore-photos and --restore-batch-sizes must be >= 1, --warmup >= 0.')
    if args.dataroot is not None and not os.path.isdir(args.dataroot):
        parser.error(f'--dataroot {args.dataroot} is not a folder.')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda was requested but no CUDA device is available.')
    if args.time_budget is not None and args.time_budget < 0:
        parser.error('--time-budget must be >= 0 seconds.')
    train_set = {}
    for item in args.train_set:
        key, sep, value = item.partition('=')
        if not sep or not key:
            parser.error(f'--train-set takes KEY=VALUE items, got {item!r}.')
        if not schema_knows(f'train.{key}'):
            parser.error(f'--train-set {key}: the train section has no option {key!r} (see gfpgan/options.py).')
        train_set[key] = yaml.safe_load(value)
    args.train_set = train_set
    if args.threads:
        torch.set_num_threads(args.threads)

    args.tables = []
    args.machine = machine_info()
    report = {'machine': args.machine}
    if args.suite == 'device':
        report['device'] = run_device_benchmark(args)
    if args.suite in ('all', 'network'):
        report['network'] = run_network_benchmark(args)
    if args.suite in ('all', 'data'):
        report['data'] = run_data_benchmark(args)
    if args.suite in ('all', 'train'):
        report['train'] = run_train_benchmark(args)
    if args.suite in ('all', 'restore'):
        report['restore'] = run_restore_benchmark(args)
    write_json(args.output, report)
    print(f'\nwrote {args.output}')
    if args.markdown:
        write_text(args.markdown, '\n\n'.join(t.strip('\n') for t in args.tables) + '\n')
        print(f'wrote {args.markdown}')
    return 0


if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
