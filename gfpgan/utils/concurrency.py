"""Small building blocks for the producer threads and worker pools of the data and video pipelines (no torch)."""
import queue
from collections import deque

__all__ = ['put_unless_stopped', 'ordered_map']

POLL_S = 0.1  # how often a blocked producer looks whether its consumer went away


def put_unless_stopped(out, item, stop, poll_s=POLL_S):
    """Put ``item`` into the bounded queue ``out`` unless the event ``stop`` is set first; return whether it was put.
    A producer thread blocked on a full queue thus ends soon after its consumer stops."""
    while not stop.is_set():
        try:
            out.put(item, timeout=poll_s)
            return True
        except queue.Full:
            continue
    return False


def ordered_map(submit, items, in_flight):
    """``(item, result)`` for each of ``items`` in order, computed through ``submit(item) -> Future`` (e.g. a pool's
    ``submit`` bound to a function) with at most ``in_flight`` futures pending; the pending ones are cancelled when
    the caller stops early or a result raises."""
    items = iter(items)
    pending = deque((item, submit(item)) for _, item in zip(range(in_flight), items))
    try:
        while pending:
            item, future = pending.popleft()
            result = future.result()
            for following in items:
                pending.append((following, submit(following)))
                break
            yield item, result
    finally:
        for _, future in pending:
            future.cancel()
