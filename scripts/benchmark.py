"""Benchmark the GFPGAN restorer: forward time of GFPGANv1Clean in the v1.4 configuration
(out_size 512, channel_multiplier 2) per face, on the CPU (float32, this machine's thread count) and,
when a GPU is present, on CUDA (float32 and bfloat16 autocast, batch 1/4/16, peak memory).

Prints a Markdown table and writes the figures as JSON.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..')))

from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean  # noqa: E402
from gfpgan.utils.benchmark import machine_info, markdown_table, time_callable  # noqa: E402
from gfpgan.utils.checkpoint import load_network  # noqa: E402

V14_CONFIG = dict(
    out_size=512,
    num_style_feat=512,
    channel_multiplier=2,
    decoder_load_path=None,
    fix_decoder=False,
    num_mlp=8,
    input_is_latent=True,
    different_w=True,
    narrow=1,
    sft_half=True)


def build_restorer(model_path=None, device='cpu'):
    net = GFPGANv1Clean(**V14_CONFIG)
    if model_path:
        load_network(net, model_path, param_key='params_ema')
    return net.eval().to(device)


def bench_gfpgan(net, device, batch, dtype, runs, warmup, grad=False):
    """Statistics of one restorer forward on a (batch, 3, 512, 512) input; times are per call."""
    torch.manual_seed(0)
    x = torch.rand(batch, 3, 512, 512, device=device) * 2 - 1

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
    parser.add_argument('--output', default='benchmark_gfpgan.json', help='JSON file to write')
    args = parser.parse_args(argv)
    if args.runs < 1 or args.warmup < 0:
        parser.error('--runs must be >= 1 and --warmup >= 0.')
    if args.device == 'cuda' and not torch.cuda.is_available():
        parser.error('--device cuda was requested but no CUDA device is available.')
    if args.threads:
        torch.set_num_threads(args.threads)

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

    report = {
        'benchmark': 'GFPGANv1Clean forward, v1.4 configuration (512x512, channel_multiplier 2)',
        'config': V14_CONFIG,
        'weights': args.model_path or 'random',
        'machine': machine_info(),
        'results': results,
    }
    columns = [('device', 'device', None), ('dtype', 'dtype', None),
               ('batch', 'batch', None), ('grad', 'autograd', None), ('per_face_s', 'per face (s)', '.3f'),
               ('median_s', 'median/call (s)', '.3f'), ('min_s', 'min (s)', '.3f'), ('max_s', 'max (s)', '.3f'),
               ('first_call_s', 'first call (s)', '.2f'), ('peak_memory_mib', 'peak mem (MiB)', '.0f')]
    print()
    print(f"GFPGANv1Clean v1.4 forward — {report['machine']['cpu']}, {report['machine']['torch_threads']} threads, "
          f"torch {report['machine']['torch']}" +
          (f", {report['machine']['gpu']}" if report['machine']['cuda'] else ''))
    print(markdown_table(results, columns))
    atomic_save_json(report, args.output)
    print(f'\nwrote {args.output}')
    return 0


def atomic_save_json(obj, path):
    tmp = f'{path}.tmp'
    with open(tmp, 'w') as f:
        json.dump(obj, f, indent=2)
    os.replace(tmp, path)


if __name__ == '__main__':
    sys.exit(main())
