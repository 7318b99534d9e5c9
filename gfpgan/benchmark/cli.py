"""The command line of scripts/benchmark.py: options, the output preflight, and the suites run in turn."""
import argparse
import os

import torch
import yaml

from gfpgan.errors import add_debug_argument
from gfpgan.preflight import Preflight
from gfpgan.utils.benchmark import TimeBudget, machine_info

from .device import DeviceSuite
from .device_config import schema_knows
from .device_report import device_markdown, write_json, write_text
from .suites import run_data_benchmark, run_network_benchmark, run_restore_benchmark, run_train_benchmark, show


DESCRIPTION = """\
Benchmark GFPGAN: the restorer network, the training data pipeline, training steps and photo restoration.

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
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
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
            parser.error(f'--train-set {key}: the train section has no option {key!r} (see gfpgan/config/schema.py).')
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
