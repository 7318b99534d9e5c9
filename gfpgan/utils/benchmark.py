"""Timing helpers for ``scripts/benchmark.py``: wall-clock statistics of a callable and machine facts."""
import os
import platform
import statistics
import time

import torch

__all__ = ['time_callable', 'machine_info', 'markdown_table']


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
