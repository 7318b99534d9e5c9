"""gfpgan.utils.concurrency: the stoppable queue put and the in-order bounded map used by the pipelines."""
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from gfpgan.utils.concurrency import ordered_map, put_unless_stopped


def test_put_unless_stopped_puts_or_gives_up_when_stopped():
    out, stop = queue.Queue(1), threading.Event()
    assert put_unless_stopped(out, 'a', stop, poll_s=0.01)
    timer = threading.Timer(0.05, stop.set)
    timer.start()
    started = time.monotonic()
    assert not put_unless_stopped(out, 'b', stop, poll_s=0.01)  # full queue: returns once stop is set
    assert time.monotonic() - started < 2 and out.get_nowait() == 'a' and out.empty()


def test_ordered_map_keeps_order_and_bounds_work_in_flight():
    submitted, finished = [], []

    def slow(x):
        time.sleep(0.02 * (5 - x % 5))  # later items finish first
        finished.append(x)
        return x * x

    def submit(x):
        submitted.append(x)
        return pool.submit(slow, x)

    with ThreadPoolExecutor(4) as pool:
        results = ordered_map(submit, range(12), in_flight=3)
        first = next(results)
        assert first == (0, 0) and len(submitted) == 4  # 3 in flight, the next submitted as the first is handed out
        assert list(results) == [(x, x * x) for x in range(1, 12)]


def test_ordered_map_cancels_pending_work_when_closed_or_failing():
    first, rest = threading.Event(), threading.Event()
    with ThreadPoolExecutor(1) as pool:
        futures = []

        def submit(x):
            futures.append(pool.submit((first if x == 0 else rest).wait, 5))
            return futures[-1]

        results = ordered_map(submit, range(5), in_flight=3)
        threading.Timer(0.05, first.set).start()
        assert next(results) == (0, True) and len(futures) == 4
        results.close()  # item 1 may be running on the one worker; items 2 and 3 are still queued
        rest.set()
        assert futures[2].cancelled() and futures[3].cancelled() and len(futures) == 4

    def fail(x):
        raise ValueError(f'bad {x}')

    with ThreadPoolExecutor(2) as pool:
        with pytest.raises(ValueError, match='bad 0'):
            list(ordered_map(lambda x: pool.submit(fail, x), range(3), in_flight=2))
