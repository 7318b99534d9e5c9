"""Batch prefetchers behind the `prefetch_mode` option: none, a CPU thread, or a side CUDA stream.

All share BasicSR's prefetcher interface used by the training loop: `next()` returns the next batch or
None at the end of the epoch, `reset()` starts a new epoch, and `close()` releases what they hold.
"""
import atexit
import queue
import threading
import weakref
from collections.abc import Mapping

import torch
from torch.utils.data import DataLoader

from gfpgan.config.spec import Value
from gfpgan.utils.concurrency import POLL_S, put_unless_stopped as _put
from gfpgan.utils.validation import is_int

#: The prefetcher's options in a `datasets.<phase>` block, declared once: the options schema composes them
#: (gfpgan.config.schema) and the checks below take their choices and bounds from here.
PREFETCH_OPTIONS = {
    'prefetch_mode': Value('str', choices=('cpu', 'cuda')),
    'num_prefetch_queue': Value('int', minimum=1),
}
PREFETCH_MODES = (None, ) + PREFETCH_OPTIONS['prefetch_mode'].choices


def check_prefetch_options(opt):
    """Validate `prefetch_mode` and `num_prefetch_queue` of a dataset's options; return the mode."""
    mode = opt.get('prefetch_mode')
    if mode not in PREFETCH_MODES:
        valid = ', '.join('~ (none)' if m is None else repr(m) for m in PREFETCH_MODES)
        raise ValueError(f'prefetch_mode must be one of {valid}, got {mode!r}.')
    _check_queue_depth(opt.get('num_prefetch_queue', 1))
    return mode


def _check_queue_depth(depth):
    """Raise a ValueError unless `depth` is an integer >= the declared minimum of `num_prefetch_queue`."""
    minimum = PREFETCH_OPTIONS['num_prefetch_queue'].minimum
    if not is_int(depth) or depth < minimum:
        raise ValueError(f'num_prefetch_queue must be an integer >= {minimum}, got {depth!r}.')


def map_tensors(obj, fn):
    """Apply `fn` to every tensor in nested dicts, lists and tuples; other values are returned as they are."""
    if torch.is_tensor(obj):
        return fn(obj)
    if isinstance(obj, Mapping):
        return type(obj)((key, map_tensors(value, fn)) for key, value in obj.items())
    if isinstance(obj, tuple) and hasattr(obj, '_fields'):  # namedtuple
        return type(obj)(*(map_tensors(value, fn) for value in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(map_tensors(value, fn) for value in obj)
    return obj


class PlainPrefetcher:
    """`prefetch_mode: ~`: batches straight from the loader, in the caller's thread."""

    def __init__(self, loader):
        self.loader = loader
        self._iterator = None
        self.reset()

    def next(self):
        """Return the next batch, or None at the end of the epoch."""
        if self._iterator is None:
            return None
        try:
            return next(self._iterator)
        except StopIteration:
            self._iterator = None
            return None

    def reset(self):
        """Start a new epoch."""
        self._iterator = None  # lets a non-persistent DataLoader iterator shut its workers down first
        self._iterator = iter(self.loader)

    def close(self):
        """Drop the current epoch's iterator."""
        self._iterator = None


class _Failure:
    """An exception raised by the loader, carried through the queue to the consumer."""

    def __init__(self, error):
        self.error = error


_END = object()
_LIVE = weakref.WeakSet()  # thread prefetchers whose threads may still run: stopped at interpreter exit
_EXIT_JOIN_S = 10.0


@atexit.register
def _stop_live_prefetchers():
    """Stop every running prefetch thread before the interpreter finalizes.

    A daemon thread still inside a DataLoader call when the interpreter tears down aborts the process
    ('terminate called without an active exception'); stopping it first makes exit clean.
    """
    for prefetcher in list(_LIVE):
        prefetcher.close(timeout=_EXIT_JOIN_S)


def _produce(iterator, out, stop):
    """Thread body: fill `out` from `iterator`, then an end marker or the error that stopped it."""
    try:
        for batch in iterator:
            if not _put(out, batch, stop):
                return
        _put(out, _END, stop)
    except BaseException as error:  # handed to the consumer, never lost with the thread
        _put(out, _Failure(error), stop)


class ThreadPrefetcher:
    """`prefetch_mode: cpu`: a daemon thread keeps up to `num_prefetch_queue` batches ready.

    The epoch's iterator is created in the caller's thread, so the seeds it draws from the global torch RNG
    come in program order; the thread only iterates. Loader exceptions are re-raised by `next()`.
    """

    def __init__(self, loader, num_prefetch_queue=1):
        _check_queue_depth(num_prefetch_queue)
        self.loader = loader
        self.num_prefetch_queue = num_prefetch_queue
        self._thread = None
        self._queue = None
        self._stop = None
        self.reset()

    def next(self):
        """Return the next batch, or None at the end of the epoch; re-raise the loader's exception."""
        if self._thread is None:
            return None
        while True:
            try:
                item = self._queue.get(timeout=POLL_S)
                break
            except queue.Empty:
                if not self._thread.is_alive() and self._queue.empty():
                    self._release()
                    raise RuntimeError('The prefetch thread ended without finishing the epoch.')
        if item is _END:
            self._release()
            return None
        if isinstance(item, _Failure):
            self._release()
            raise item.error
        return item

    def reset(self):
        """Stop the current epoch's thread and start a new epoch."""
        self.close()
        iterator = iter(self.loader)
        self._queue = queue.Queue(self.num_prefetch_queue)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_produce, args=(iterator, self._queue, self._stop), name='gfpgan-prefetch', daemon=True)
        del iterator  # the thread holds the only reference: it is released when the thread ends
        self._thread.start()
        _LIVE.add(self)

    def close(self, timeout=None):
        """Stop the thread and wait for it (up to `timeout` s); it finishes at most the batch it is loading."""
        thread, stop = self._thread, self._stop
        self._release()
        _LIVE.discard(self)
        if thread is not None:
            stop.set()
            thread.join(timeout)

    def _release(self):
        """Forget the current epoch's thread and queue."""
        self._thread = None
        self._queue = None

    def __del__(self):
        # Only signal: joining here could block finalization at interpreter exit; the thread is a daemon.
        stop = getattr(self, '_stop', None)
        if stop is not None:
            stop.set()


class CUDAPrefetcher:
    """`prefetch_mode: cuda`: copies the next batch to the GPU on a side stream while the current one is used.

    Needs a loader with `pin_memory: true`, without which the copies are not asynchronous.
    """

    def __init__(self, loader, device=None):
        if not torch.cuda.is_available():
            raise RuntimeError("prefetch_mode 'cuda' needs a CUDA device, and none is available.")
        self.loader = loader
        self.device = torch.device('cuda', torch.cuda.current_device()) if device is None else torch.device(device)
        if self.device.type != 'cuda':
            raise ValueError(f"prefetch_mode 'cuda' needs a CUDA device, got {self.device}.")
        self.stream = torch.cuda.Stream(device=self.device)
        self._iterator = None
        self._batch = None
        self.reset()

    def _preload(self):
        """Fetch the next batch and start copying its tensors on the side stream."""
        try:
            batch = next(self._iterator)
        except StopIteration:
            self._iterator = None
            self._batch = None
            return
        with torch.cuda.stream(self.stream):
            self._batch = map_tensors(batch, lambda t: t.to(self.device, non_blocking=True))

    def next(self):
        """Return the next batch with its tensors on the GPU, or None at the end of the epoch."""
        if self._batch is None:
            return None
        current = torch.cuda.current_stream(self.device)
        current.wait_stream(self.stream)
        batch = map_tensors(self._batch, lambda t: _used_on(t, current))
        self._preload()
        return batch

    def reset(self):
        """Start a new epoch and begin copying its first batch."""
        self._iterator = None
        self._batch = None
        self._iterator = iter(self.loader)
        self._preload()

    def close(self):
        """Drop the current epoch's iterator and pending batch."""
        self._iterator = None
        self._batch = None


def _used_on(tensor, stream):
    """Tell the caching allocator that `tensor`, made on the side stream, is used on `stream`."""
    if tensor.is_cuda:
        tensor.record_stream(stream)
    return tensor


def build_prefetcher(loader, opt, device=None):
    """Build the prefetcher that the dataset options `opt` ask for (`prefetch_mode`, `num_prefetch_queue`)."""
    mode = check_prefetch_options(opt)
    if mode is None:
        return PlainPrefetcher(loader)
    if mode == 'cpu':
        return ThreadPrefetcher(loader, opt.get('num_prefetch_queue', 1))
    pinned = loader.pin_memory if isinstance(loader, DataLoader) else opt.get('pin_memory', False)
    if not pinned:
        raise ValueError("prefetch_mode 'cuda' needs pin_memory: true in the dataset options.")
    return CUDAPrefetcher(loader, device)
