"""SHA-256 of files, each file hashed once per process while its size and modification time stay: shared by the
pretrained catalogue (checking a file) and weight resolution (finding one), which must not import each other."""
import hashlib
import os

__all__ = ['sha256sum']

_DIGESTS = {}  # (real path, size, modification time) -> digest


def sha256sum(path, chunk=1 << 20):
    """Hex SHA-256 of the file at ``path`` (remembered while the file's size and modification time stay)."""
    stat = os.stat(path)
    key = (os.path.realpath(path), stat.st_size, stat.st_mtime_ns)
    if key not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(chunk), b''):
                h.update(block)
        _DIGESTS[key] = h.hexdigest()
    return _DIGESTS[key]
