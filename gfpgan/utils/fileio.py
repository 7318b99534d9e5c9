"""Atomic file writing shared by checkpoints and images: readers never see a partial file and an
interrupted write leaves the previous file intact; the temporaries a killed writer leaves behind are removable."""
import os
import re
import secrets
import stat
import time
from contextlib import contextmanager

__all__ = ['atomic_write', 'is_temporary_name', 'remove_stale_files', 'remove_stale_temporaries']

# ``.<target name>.<8 hex digits>.tmp``: the temporaries ``atomic_write`` creates, and nothing else
_TEMPORARY_NAME = re.compile(r'\..+\.[0-9a-f]{8}\.tmp')


def _open_temporary(folder, name):
    """A new, exclusively created temporary file next to ``name``; mode 0o666 minus the umask, as for
    a plain ``open(path, 'wb')`` (``tempfile.mkstemp`` would leave the final file readable by its owner only)."""
    while True:
        tmp = os.path.join(folder, f'.{name}.{secrets.token_hex(4)}.tmp')
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0), 0o666)
        except FileExistsError:
            continue


def _fsync_folder(folder):
    """Make a rename inside ``folder`` durable; a no-op where folders cannot be opened (Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path, auto_mkdir=True):
    """Yield a binary file object whose content replaces ``path`` only when the block ends without error.

    The data goes to a hidden temporary file in the same folder, is flushed and fsync'ed, then renamed
    over ``path`` (``os.replace``, atomic on POSIX and Windows). On any exception, KeyboardInterrupt
    included, the temporary file is removed and ``path`` is untouched.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if auto_mkdir:
        os.makedirs(folder, exist_ok=True)
    tmp, fd = _open_temporary(folder, os.path.basename(path))
    try:
        with os.fdopen(fd, 'wb') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


def is_temporary_name(name):
    """Whether the file name ``name`` is one of ``atomic_write``'s temporaries (``.<name>.<8 hex>.tmp``)."""
    return _TEMPORARY_NAME.fullmatch(name) is not None


def remove_stale_files(folder, min_age_s, match):
    """Remove the regular files of ``folder`` (not its subfolders) whose name ``match(name)`` accepts and that were
    last modified at least ``min_age_s`` seconds ago (a younger one may belong to a writer still running). Returns
    the [(path, bytes)] removed; none for a missing folder."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return []
    removed, now = [], time.time()
    for entry in entries:
        if not match(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < min_age_s:
                continue
            os.remove(entry.path)
        except FileNotFoundError:  # its writer finished or removed it meanwhile
            continue
        removed.append((entry.path, info.st_size))
    return removed


def remove_stale_temporaries(folder, min_age_s=10.0):
    """Remove the temporaries of interrupted ``atomic_write`` calls (a kill -9 during a checkpoint write) in
    ``folder``, not its subfolders: regular files named ``.<name>.<8 hex>.tmp`` last modified at least
    ``min_age_s`` seconds ago. Returns (files, bytes) removed; (0, 0) for a missing folder."""
    removed = remove_stale_files(folder, min_age_s, is_temporary_name)
    return len(removed), sum(size for _, size in removed)
