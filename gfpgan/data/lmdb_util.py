"""Pack a folder of images into an LMDB database in BasicSR's layout, the one existing FFHQ LMDBs use:
``<name>.lmdb/{data.mdb, lock.mdb, meta_info.txt}``, key = file stem, value = PNG bytes."""
import functools
import os
import secrets
import shutil
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import cv2
from tqdm import tqdm

from gfpgan.data.storage import scan_images
from gfpgan.utils.concurrency import ordered_map
from gfpgan.utils.fileio import atomic_write
from gfpgan.utils.img_util import ImageReadError, imdecode, read_image_bytes
from gfpgan.utils.optional import import_optional

__all__ = ['create_lmdb', 'encode_png']

# As stored: gray stays 1 channel and 16-bit stays 16-bit; the EXIF orientation is applied and an alpha
# channel dropped, so the database holds exactly what decode_image returns for the original file.
_READ_FLAGS = cv2.IMREAD_ANYCOLOR | cv2.IMREAD_ANYDEPTH
# First LMDB map size: twice the source files, at least 64 MiB; it doubles whenever it would fill up (it is
# address space, not disk space, except on Windows).
_MAP_SIZE_FACTOR, _MIN_MAP_SIZE = 2, 64 << 20


def encode_png(path, compress_level=1):
    """Read the image file ``path`` and re-encode it as PNG: (png bytes as a uint8 array, (h, w, c)).

    ImageReadError names a file that cannot be read or decoded.
    """
    img = imdecode(read_image_bytes(path), _READ_FLAGS, path)
    ok, png = cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, compress_level])
    if not ok:
        raise ImageReadError(f"Cannot re-encode image '{path}' ({img.dtype}, shape {img.shape}) as PNG.")
    return png, (img.shape[0], img.shape[1], img.shape[2] if img.ndim == 3 else 1)


def _ordered_map(function, items, workers):
    """``map(function, items)`` on a thread pool, in order, with a bounded number of results in flight
    (OpenCV releases the GIL while decoding and encoding, so threads run in parallel)."""
    with ThreadPoolExecutor(workers) as pool:
        results = ordered_map(functools.partial(pool.submit, function), items, 4 * workers)
        try:
            for _, result in results:
                yield result
        finally:
            results.close()  # cancels what is still pending before the pool waits for its threads


def _new_sibling_folder(parent, name, suffix):
    """Create a new hidden folder ``.{name}.<random>{suffix}`` in ``parent`` with the usual permissions
    (0o777 minus the umask, where ``tempfile.mkdtemp`` would make it private to its owner)."""
    while True:
        path = os.path.join(parent, f'.{name}.{secrets.token_hex(4)}{suffix}')
        try:
            os.mkdir(path, 0o777)
            return path
        except FileExistsError:
            continue


def _check_keys(paths, folder):
    keys = [os.path.splitext(os.path.basename(p))[0] for p in paths]
    counts = Counter(keys)
    duplicate = next((k for k, n in counts.items() if n > 1), None)
    if duplicate is not None:
        names = [os.path.basename(p) for p, k in zip(paths, keys) if k == duplicate]
        raise ValueError(f"{' and '.join(names)} in '{folder}' would share the LMDB key '{duplicate}' (the name "
                         'without extension); rename or remove one of them.')
    bad = next((p for p, k in zip(paths, keys) if not (k.isascii() and k.isprintable())), None)
    if bad is not None:
        raise ValueError(f"The name of '{bad}' is not printable ASCII, which LMDB keys must be (readers encode "
                         'them as ASCII); rename the file.')
    return keys


class _Writer:
    """Puts values in key order, committing every ``batch`` values and growing the map before it fills."""

    def __init__(self, path, map_size, batch):
        self.env = import_optional('lmdb', 'Creating an LMDB database').open(path, map_size=map_size)
        self.map_size, self.batch = map_size, batch
        self.page = self.env.stat()['psize']
        self.count, self.pending = 0, 0
        self.txn = self.env.begin(write=True)

    def _used(self):
        return (self.env.info()['last_pgno'] + 1) * self.page

    def put(self, key, value):
        need = (len(value) // self.page + 2) * self.page  # overflow pages + leaf slack, pessimistic
        if self._used() + self.pending + need > 0.9 * self.map_size:
            self.txn.commit()
            self.pending = 0
            while self._used() + need > 0.5 * self.map_size:
                self.map_size *= 2
            self.env.set_mapsize(self.map_size)
            self.txn = self.env.begin(write=True)
        self.txn.put(key, value)
        self.pending += need
        self.count += 1
        if self.count % self.batch == 0:
            self.txn.commit()
            self.pending = 0
            self.txn = self.env.begin(write=True)

    def close(self, commit=True):
        if commit:
            self.txn.commit()
        else:
            self.txn.abort()
        self.env.close()


def create_lmdb(folder, lmdb_path, compress_level=1, num_workers=None, overwrite=False, batch=5000, progress=True):
    """Write every image of ``folder`` (sorted by name, not recursive) into the LMDB ``lmdb_path``.

    Each image is decoded (EXIF orientation applied, alpha dropped, gray and 16-bit kept) and re-encoded
    as PNG at ``compress_level`` (0-9) by ``num_workers`` threads; the value goes under the file stem,
    and ``meta_info.txt`` gets one ``{stem}.png ({h},{w},{c}) {compress_level}`` line per image, in key
    order. The database is built in a hidden sibling folder and renamed into place when complete; an
    existing ``lmdb_path`` is refused (FileExistsError) unless ``overwrite``, and then replaced only by a
    complete database. Returns ``{'path', 'num_images', 'data_bytes', 'seconds'}``.
    """
    start = time.time()
    folder, lmdb_path = os.fspath(folder), os.fspath(lmdb_path)
    if not isinstance(compress_level, int) or not 0 <= compress_level <= 9:
        raise ValueError(f'The PNG compression level must be an integer from 0 to 9, got {compress_level!r}.')
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f'batch must be a positive integer, got {batch!r}.')
    if not lmdb_path.rstrip('/\\').endswith('.lmdb'):
        raise ValueError(f"The LMDB path '{lmdb_path}' must end with '.lmdb', as the datasets require.")
    lmdb_path = lmdb_path.rstrip('/\\')
    source, target = os.path.realpath(folder), os.path.realpath(lmdb_path)
    if source == target or source.startswith(target + os.sep):
        raise ValueError(f"The LMDB path '{lmdb_path}' must not be the image folder '{folder}' or contain it.")
    if os.path.lexists(lmdb_path) and not overwrite:
        raise FileExistsError(f"'{lmdb_path}' already exists; pass --force (overwrite=True) to replace it.")
    import_optional('lmdb', 'Creating an LMDB database')  # before any work
    paths = scan_images(folder, option='the input folder')
    keys = _check_keys(paths, folder)
    num_workers = num_workers or min(8, os.cpu_count() or 1)

    parent = os.path.dirname(os.path.abspath(lmdb_path))
    os.makedirs(parent, exist_ok=True)
    name = os.path.basename(lmdb_path)
    building = _new_sibling_folder(parent, name, '.partial')
    try:
        source_bytes = sum(os.path.getsize(p) for p in paths)
        writer = _Writer(building, map_size=max(_MAP_SIZE_FACTOR * source_bytes, _MIN_MAP_SIZE), batch=batch)
        lines, data_bytes = [], 0
        results = _ordered_map(lambda p: encode_png(p, compress_level), paths, num_workers)
        try:
            for key, (png, (h, w, c)) in tqdm(
                    zip(keys, results), total=len(keys), unit='image', desc='Writing LMDB', disable=not progress):
                writer.put(key.encode('ascii'), png)
                lines.append(f'{key}.png ({h},{w},{c}) {compress_level}\n')
                data_bytes += png.nbytes
        except BaseException:
            results.close()  # stops the reading threads
            writer.close(commit=False)
            raise
        writer.close()
        with atomic_write(os.path.join(building, 'meta_info.txt')) as f:  # flushed to disk before the rename
            f.write(''.join(lines).encode('ascii'))
        if os.path.lexists(lmdb_path):
            old = _new_sibling_folder(parent, name, '.old')
            os.replace(lmdb_path, os.path.join(old, name))
            os.replace(building, lmdb_path)
            shutil.rmtree(old)
        else:
            os.replace(building, lmdb_path)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return {'path': lmdb_path, 'num_images': len(keys), 'data_bytes': data_bytes, 'seconds': time.time() - start}
