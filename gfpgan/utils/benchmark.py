"""Helpers of ``scripts/benchmark.py``: wall-clock statistics of a callable, machine facts, Markdown tables, the time
budget of a run, output quality (PSNR) and the evaluation of the device suite's targets."""
import math
import os
import platform
import statistics
import time

import torch

__all__ = [
    'time_callable', 'machine_info', 'markdown_table', 'TimeBudget', 'psnr_db', 'json_safe', 'TARGETS',
    'evaluate_targets'
]


def time_callable(fn, runs=5, warmup=1, device='cpu'):
    """Run ``fn`` ``warmup`` times untimed, then ``runs`` times; seconds per call as a dict of statistics.

    On CUDA the device is synchronised around every call and the peak allocated memory is reported.
    """
    cuda = str(device).startswith('cuda')

    def sync():
        if cuda:
            torch.cuda.synchronize(device)

    first = None
    for i in range(warmup):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        if i == 0:
            first = time.perf_counter() - start
    if cuda:
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(runs):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    stats = {
        'median_s': statistics.median(times),
        'mean_s': statistics.fmean(times),
        'min_s': min(times),
        'max_s': max(times),
        'stdev_s': statistics.stdev(times) if len(times) > 1 else 0.0,
        'runs': runs,
        'first_call_s': first,
        'times_s': times,
    }
    if cuda:
        stats['peak_memory_mib'] = torch.cuda.max_memory_allocated(device) / 2**20
    return stats


def _cpu_model():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info():
    info = {
        'python': platform.python_version(),
        'torch': torch.__version__,
        'platform': platform.platform(),
        'cpu': _cpu_model(),
        'cpu_count': os.cpu_count(),
        'torch_threads': torch.get_num_threads(),
        'cuda': torch.cuda.is_available(),
    }
    if info['cuda']:
        info['gpu'] = torch.cuda.get_device_name(0)
    return info


def markdown_table(rows, columns):
    """rows: list of dicts; columns: list of (key, header, format spec or None)."""
    lines = ['| ' + ' | '.join(h for _, h, _ in columns) + ' |', '|' + '|'.join('---' for _ in columns) + '|']
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            value = row.get(key)
            cells.append('-' if value is None else (format(value, fmt) if fmt else str(value)))
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


# ---------------------------------------------------------------------------------------------- time budget
class TimeBudget:
    """Seconds left for a benchmark run (``seconds`` None: unlimited). A case starts only when its estimated duration
    fits in what is left: the estimate of a kind of case is the longest one of that kind measured so far, else the
    caller's default. ``clock`` is injectable for tests."""

    def __init__(self, seconds=None, clock=time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self.start = clock()
        self.measured = {}

    def elapsed(self):
        return self.clock() - self.start

    def remaining(self):
        return math.inf if self.seconds is None else self.seconds - self.elapsed()

    def estimate(self, kind, default):
        return self.measured.get(kind, default)

    def allows(self, kind, default):
        """Whether a case of ``kind`` (``default`` seconds when none was measured yet) fits in the time left."""
        return self.remaining() >= self.estimate(kind, default)

    def record(self, kind, seconds):
        self.measured[kind] = max(seconds, self.measured.get(kind, 0.0))


# ---------------------------------------------------------------------------------------------- quality, JSON
@torch.no_grad()
def psnr_db(output, reference):
    """(PSNR in dB, max |difference|) of two (B, 3, H, W) images in [-1, 1], both mapped to [0, 1] (clamped); the
    PSNR is ``math.inf`` for identical images and NaN when ``output`` is not finite."""
    out = ((output.float() + 1) / 2).clamp(0, 1)
    ref = ((reference.float() + 1) / 2).clamp(0, 1)
    if not bool(torch.isfinite(output).all()):
        return math.nan, math.nan
    diff = out - ref
    mse = float(diff.square().mean())
    return (math.inf if mse == 0 else 10 * math.log10(1 / mse)), float(diff.abs().max())


def json_safe(obj):
    """``obj`` with every NaN / infinite float replaced by None (strict JSON has neither) and tuples as lists."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    return obj


# ---------------------------------------------------------------------------------------------- targets
#: Thresholds of the device suite's targets (issue 12).
TARGETS = {
    'train_bf16_speedup': 1.8,  # bf16 step samples/s over fp32 at the same batch (and peak memory <= fp32's)
    'train_compile_speedup': 1.15,  # bf16 + torch.compile over bf16 eager
    'restorer_batch_speedup': 4.0,  # restorer bf16 at the largest batch over float32 batch 1, faces/s
    'restorer_bf16_psnr_db': 40.0,  # restorer bf16 output against float32, same input and noise
    'loader_max_workers': 8,  # the data loader with at most this many workers ...
    'loader_keeps_up': 1.0,  # ... delivers at least this times the fastest bf16 training step's samples/s
}


def _ok(row):
    return row is not None and row.get('status') == 'ok'


def _target(name, requirement, value=None, threshold=None, measured='', status='n/a', note=''):
    return {
        'target': name,
        'requirement': requirement,
        'value': value,
        'threshold': threshold,
        'measured': measured,
        'status': status,
        'note': note
    }


def _missing(rows, label):
    """Why ``rows`` (possibly None) cannot be compared: skipped, failed or unsupported."""
    for row in rows:
        if row is None:
            return f'{label}: not measured'
        if row.get('status') != 'ok':
            return f"{label}: {row.get('status')}"
    return ''


def _train_row(train, precision, batch):
    return next((r for r in train if r.get('precision') == precision and r.get('batch') == batch), None)


def _common_train_batch(train, a, b):
    """The smallest batch measured (status ok) for both precisions ``a`` and ``b``, or None."""
    batches = sorted({r['batch'] for r in train if r.get('precision') == a and _ok(r)}
                     & {r['batch'] for r in train if r.get('precision') == b and _ok(r)})
    return batches[0] if batches else None


def _unsupported(row, option):
    return option in (row.get('unsupported_options') or [])


def _speedup_target(train, name, requirement, fast, slow, threshold, option, check_memory):
    batch = _common_train_batch(train, fast, slow)
    if batch is None:
        rows = [next((r for r in train if r.get('precision') == p), None) for p in (slow, fast)]
        note = _missing(rows, 'training rows') or 'no batch measured for both'
        return _target(name, requirement, threshold=threshold, note=note)
    slow_row, fast_row = _train_row(train, slow, batch), _train_row(train, fast, batch)
    ratio = fast_row['samples_per_s'] / slow_row['samples_per_s']
    measured = (f"{ratio:.2f}x at batch {batch} ({fast_row['samples_per_s']:.2f} vs "
                f"{slow_row['samples_per_s']:.2f} samples/s)")
    passed, notes = ratio >= threshold, []
    if check_memory:
        fast_mem, slow_mem = fast_row.get('peak_memory_mib'), slow_row.get('peak_memory_mib')
        if fast_mem is None or slow_mem is None:
            notes.append('peak memory not measured (CPU): speed only')
        else:
            measured += f'; peak {fast_mem:.0f} vs {slow_mem:.0f} MiB'
            if fast_mem > slow_mem:
                passed = False
                notes.append(f'{fast} needs {fast_mem - slow_mem:.0f} MiB more than {slow}')
    if _unsupported(fast_row, option):
        return _target(name, requirement, ratio, threshold, measured, 'n/a',
                       f'train.{option} is not supported by the model yet: {fast} ran like {slow}')
    return _target(name, requirement, ratio, threshold, measured, 'pass' if passed else 'fail', '; '.join(notes))


def evaluate_targets(restorer=(), train=(), data=(), restorer_batch=None, thresholds=None):
    """Targets of the device suite from its rows: a list of ``{target, requirement, value, threshold, measured,
    status ('pass' | 'fail' | 'n/a'), note}``.

    restorer: rows with ``dtype`` ('float32' | 'bfloat16' | 'float16'), ``batch``, ``compile``, ``channels_last``,
    ``faces_per_s``, ``psnr_vs_float32_db``, ``max_abs_diff_vs_float32``, ``status`` ('ok' when measured);
    ``restorer_batch``: the batch of the bf16 targets (default: the largest bf16 eager batch measured).
    train: rows with ``precision`` ('fp32' | 'bf16' | 'bf16+compile'), ``batch``, ``samples_per_s``,
    ``peak_memory_mib`` (None on the CPU), ``unsupported_options`` and ``status``.
    data: rows with ``workers``, ``samples_per_s`` and ``status``.
    """
    t = dict(TARGETS, **(thresholds or {}))
    train, restorer, data = list(train), list(restorer), list(data)
    targets = [
        _speedup_target(train, 'bf16 training step',
                        f"bf16 samples/s >= {t['train_bf16_speedup']}x fp32 at the same batch, peak memory <= fp32",
                        'bf16', 'fp32', t['train_bf16_speedup'], 'mixed_precision', True),
        _speedup_target(train, 'torch.compile training step',
                        f"bf16 + compile samples/s >= {t['train_compile_speedup']}x bf16 eager", 'bf16+compile', 'bf16',
                        t['train_compile_speedup'], 'compile', False),
    ]

    def eager(dtype, batch):
        return next((r for r in restorer if r.get('dtype') == dtype and r.get('batch') == batch
                     and not r.get('compile') and not r.get('channels_last')), None)

    if restorer_batch is None:
        measured = [r['batch'] for r in restorer if r.get('dtype') == 'bfloat16' and _ok(r)]
        restorer_batch = max(measured) if measured else None
    bf16, fp32_1 = eager('bfloat16', restorer_batch), eager('float32', 1)
    name = 'restorer batching + bf16'
    requirement = (f"bf16 batch {restorer_batch} faces/s >= {t['restorer_batch_speedup']}x float32 batch 1")
    if _ok(bf16) and _ok(fp32_1):
        ratio = bf16['faces_per_s'] / fp32_1['faces_per_s']
        targets.append(
            _target(name, requirement, ratio, t['restorer_batch_speedup'],
                    f"{ratio:.2f}x ({bf16['faces_per_s']:.1f} vs {fp32_1['faces_per_s']:.1f} faces/s)",
                    'pass' if ratio >= t['restorer_batch_speedup'] else 'fail'))
    else:
        targets.append(
            _target(name, requirement, threshold=t['restorer_batch_speedup'],
                    note=_missing([fp32_1, bf16], 'restorer rows')))

    name, requirement = 'restorer bf16 quality', f"PSNR of bf16 vs float32 >= {t['restorer_bf16_psnr_db']} dB"
    if _ok(bf16) and (bf16.get('psnr_vs_float32_db') is not None or bf16.get('max_abs_diff_vs_float32') == 0):
        value = bf16.get('psnr_vs_float32_db')
        if value is None:
            targets.append(_target(name, requirement, None, t['restorer_bf16_psnr_db'], 'identical outputs', 'pass'))
        else:
            targets.append(
                _target(name, requirement, value, t['restorer_bf16_psnr_db'],
                        f'{value:.1f} dB at batch {restorer_batch}',
                        'pass' if value >= t['restorer_bf16_psnr_db'] else 'fail'))
    else:
        note = _missing([bf16], 'restorer bf16 row') or 'no float32 reference output (or a non-finite output)'
        targets.append(_target(name, requirement, threshold=t['restorer_bf16_psnr_db'], note=note))

    name = 'data loader keeps up'
    requirement = (f"DataLoader samples/s with <= {t['loader_max_workers']} workers >= the fastest bf16 training "
                   'step samples/s')
    loaders = [r for r in data if _ok(r) and r.get('workers', 0) <= t['loader_max_workers']]
    steps = [r for r in train if _ok(r) and r.get('precision', '').startswith('bf16')
             and not _unsupported(r, 'mixed_precision')]
    if loaders and steps:
        loader = max(loaders, key=lambda r: r['samples_per_s'])
        step = max(steps, key=lambda r: r['samples_per_s'])
        ratio = loader['samples_per_s'] / step['samples_per_s']
        passed = ratio >= t['loader_keeps_up']
        note = '' if passed else (f"the loader is {(1 - ratio) * 100:.0f}% short "
                                  f"({step['samples_per_s'] - loader['samples_per_s']:.1f} samples/s)")
        targets.append(
            _target(name, requirement, ratio, t['loader_keeps_up'],
                    f"{loader['samples_per_s']:.1f} samples/s ({loader['workers']} workers) vs "
                    f"{step['samples_per_s']:.1f} ({step['precision']}, batch {step['batch']})",
                    'pass' if passed else 'fail', note))
    else:
        targets.append(
            _target(name, requirement, threshold=t['loader_keeps_up'],
                    note='no data loader row measured' if not loaders else 'no bf16 training row measured'))
    return targets
