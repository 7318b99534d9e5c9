"""Where training images live: a folder of image files or an LMDB database in BasicSR's layout, read
through one small interface (``ImageSource``) configured by the ``io_backend`` option of the YAML files."""
import os
import re
import threading

from gfpgan.errors import GFPGANError
from gfpgan.utils.img_util import ImageReadError, decode_image
from gfpgan.utils.optional import import_optional

__all__ = [
    'IMAGE_EXTENSIONS', 'is_image_file', 'scan_images', 'read_meta_info', 'DiskBackend', 'LmdbBackend', 'ImageSource',
    'NotAnLmdbError', 'MissingLmdbKeyError'
]

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff')

# BasicSR's meta_info.txt line: '00000000.png (512,512,3) 1' = name (h,w,c) PNG compression level.
_META_LINE = re.compile(r'^(?P<name>.+)\s+\((?P<shape>\s*\d+(?:\s*,\s*\d+)*\s*,?\s*)\)(?:\s+(?P<level>-?\d+))?$')
_CREATE_HINT = 'python scripts/create_lmdb.py <image folder> {path}'


def is_image_file(name, extensions=IMAGE_EXTENSIONS):
    """Whether ``name`` ends with one of ``extensions`` (lower-case, with the dot), in any case."""
    return os.path.splitext(name)[1].lower() in extensions


def _given_as(option):
    return f" (given as '{option}')" if option else ''


def scan_images(folder, recursive=False, option=None, extensions=IMAGE_EXTENSIONS):
    """Full paths of the image files in ``folder`` (subfolders too with ``recursive``), sorted by their
    path relative to ``folder``: a deterministic order, which index-keyed files (eye/mouth boxes) rely on.

    ``extensions``: the file endings counted as images. Hidden files and folders (names starting with '.') are
    skipped. A missing or image-less folder is
    a FileNotFoundError naming it and, when given, the ``option`` it came from (e.g. 'dataroot_gt').
    """
    folder = os.fspath(folder)
    if not os.path.exists(folder):
        raise FileNotFoundError(f"The image folder '{folder}'{_given_as(option)} does not exist.")
    if not os.path.isdir(folder):
        raise NotADirectoryError(f"'{folder}'{_given_as(option)} is a file, not a folder of images.")
    found, subfolders, seen = [], [], {os.path.realpath(folder)}

    def walk(relative):
        with os.scandir(os.path.join(folder, relative)) as entries:
            for entry in entries:
                if entry.name.startswith('.'):
                    continue
                name = os.path.join(relative, entry.name) if relative else entry.name
                if entry.is_file():
                    if is_image_file(entry.name, extensions):
                        found.append(name)
                elif entry.is_dir():
                    subfolders.append(name)
                    real = os.path.realpath(entry.path)
                    if recursive and real not in seen:  # a symbolic link loop is walked once
                        seen.add(real)
                        walk(name)

    walk('')
    if not found:
        if os.path.isfile(os.path.join(folder, 'data.mdb')):
            hint = '; it is an LMDB database: set io_backend type to lmdb'
        elif subfolders and not recursive:
            hint = f'; its {len(subfolders)} subfolder(s) are not searched'
        else:
            hint = ''
        raise FileNotFoundError(f"The image folder '{folder}'{_given_as(option)} holds no images "
                                f"({', '.join(extensions)}){hint}.")
    found.sort(key=lambda name: name.replace(os.sep, '/'))
    return [os.path.join(folder, name) for name in found]


class NotAnLmdbError(GFPGANError, FileNotFoundError, ValueError):
    """An lmdb io_backend root that is not an LMDB database: a FileNotFoundError (no data.mdb), and the ValueError
    that the original FFHQDegradationDataset raises for a dataroot_gt that is not a ``.lmdb`` folder."""


class MissingLmdbKeyError(ImageReadError, KeyError):
    """A key absent from an LMDB database (listed in its meta_info.txt but never written, or a wrong key): an
    unreadable image (ImageReadError, so training skips and counts it) and the KeyError that a lookup raises."""

    __str__ = BaseException.__str__  # KeyError's would quote the sentence


def _check_lmdb(path, option=None):
    """Raise NotAnLmdbError with one sentence unless ``path`` is an LMDB folder with data.mdb."""
    create = _CREATE_HINT.format(path=path)
    if not os.path.exists(path):
        raise NotAnLmdbError(f"The LMDB database '{path}'{_given_as(option)} does not exist; create it from a "
                             f'folder of images with `{create}`.')
    if not os.path.isfile(os.path.join(path, 'data.mdb')):
        has_images = os.path.isdir(path) and any(is_image_file(name) for name in os.listdir(path))
        hint = ' (it holds image files: use io_backend type disk to read them as they are)' if has_images else ''
        raise NotAnLmdbError(f"'{path}'{_given_as(option)} is not an LMDB database, it has no data.mdb{hint}; "
                             f'create one from a folder of images with `{create}`.')


def read_meta_info(lmdb_path, option=None):
    """The entries of ``<lmdb_path>/meta_info.txt`` in file order, as (key, shape, compression) tuples.

    Lines are BasicSR's ``00000000.png (512,512,3) 1``; the key is the name without its extension
    ('00000000'), shape a tuple of ints and compression an int, either None when the line holds only
    a name. Blank lines are skipped. A missing database or meta_info.txt is a FileNotFoundError saying
    how to create it; duplicate keys are a ValueError.
    """
    lmdb_path = os.fspath(lmdb_path)
    _check_lmdb(lmdb_path, option)
    meta_path = os.path.join(lmdb_path, 'meta_info.txt')
    if not os.path.isfile(meta_path):
        raise FileNotFoundError(f"The LMDB database '{lmdb_path}'{_given_as(option)} has no meta_info.txt listing "
                                f'its images; create the database again with `{_CREATE_HINT.format(path=lmdb_path)}`.')
    entries, lines = [], {}
    with open(meta_path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            match = _META_LINE.match(line)
            if match:
                name, shape = match['name'].strip(), tuple(int(v) for v in match['shape'].split(',') if v.strip())
                level = int(match['level']) if match['level'] is not None else None
            else:
                name, shape, level = line, None, None
            key = os.path.splitext(name)[0]
            if key in lines:
                raise ValueError(f"'{meta_path}' lists the key '{key}' twice (lines {lines[key]} and {number}).")
            lines[key] = number
            entries.append((key, shape, level))
    if not entries:
        raise ValueError(f"'{meta_path}' lists no images; create the database again with "
                         f'`{_CREATE_HINT.format(path=lmdb_path)}`.')
    return entries


def _lmdb(path):
    """The lmdb module (an optional package: only LMDB datasets need it)."""
    return import_optional('lmdb', f"Reading the LMDB database '{path}' (io_backend type lmdb)")


class DiskBackend:
    """Reads files as they are: the key is the file path."""

    def get(self, key):
        """The bytes of file ``key``; OSError (FileNotFoundError, ...) when it cannot be read."""
        with open(key, 'rb') as f:
            return f.read()


class _Environments:
    """The LMDB environments this process has open, one per database (LMDB forbids opening one twice in a
    process, and py-lmdb refuses it). Those inherited through fork are closed, unmapping them in the child
    only, before the child opens its own: an LMDB handle must not be used across a fork."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pid = os.getpid()
        self.open = {}  # (st_dev, st_ino) of data.mdb -> lmdb.Environment

    def get(self, path, identity, options):
        with self.lock:
            if self.pid != os.getpid():
                inherited, self.open, self.pid = list(self.open.values()), {}, os.getpid()
                for env in inherited:
                    env.close()
            env = self.open.get(identity)
            if env is None:
                lmdb = _lmdb(path)
                try:
                    env = lmdb.open(path, **options)
                except lmdb.Error as err:
                    raise OSError(f"Cannot open the LMDB database '{path}': {err}") from err
                self.open[identity] = env
            return env

    def close(self, identity):
        with self.lock:
            env = self.open.pop(identity, None) if self.pid == os.getpid() else None
        if env is not None:
            env.close()


_ENVIRONMENTS = _Environments()


class LmdbBackend:
    """Reads values of an LMDB database (read-only, no locking, no readahead: many random readers).

    The environment is opened on first use, shared by every backend on the same database in a process,
    and opened again in a process started by fork (DataLoader workers); the backend pickles without it,
    for workers started by spawn.
    """

    OPEN_OPTIONS = ('readonly', 'lock', 'readahead', 'meminit', 'max_readers', 'max_spare_txns')

    def __init__(self, path, **open_options):
        self.path = os.fspath(path)
        unknown = sorted(set(open_options) - set(self.OPEN_OPTIONS))
        if unknown:
            raise ValueError(f"Unknown LMDB option(s) {', '.join(unknown)} for '{self.path}'; known: "
                             f"{', '.join(self.OPEN_OPTIONS)}.")
        _check_lmdb(self.path)
        _lmdb(self.path)  # a missing package is reported when the dataset is built, not at its first sample
        stat = os.stat(os.path.join(self.path, 'data.mdb'))
        self.identity = (stat.st_dev, stat.st_ino)  # a database re-created at the same path is another one
        self.open_options = dict(readonly=True, lock=False, readahead=False, meminit=False)
        self.open_options.update(open_options)

    def get(self, key):
        """The value stored under ``key`` (a str); MissingLmdbKeyError (a KeyError and an ImageReadError) naming
        the key and the database when absent."""
        with _ENVIRONMENTS.get(self.path, self.identity, self.open_options).begin(write=False) as txn:
            value = txn.get(key.encode('utf-8'))
        if value is None:
            raise MissingLmdbKeyError(f"Key '{key}' is not in the LMDB database '{self.path}'; create the database "
                                      f'again with `{_CREATE_HINT.format(path=self.path)}`.')
        return value

    def close(self):
        """Close this database's environment in this process (for every backend on it); the next ``get``
        opens it again."""
        _ENVIRONMENTS.close(self.identity)


class ImageSource:
    """The images of one dataset root, in a folder or an LMDB, from an ``io_backend`` option.

    ``io_backend`` is the YAML option of BasicSR / GFPGAN configs: ``{'type': 'disk'}`` (``root`` is a folder
    of images; keys are their sorted full paths) or ``{'type': 'lmdb'}`` (``root`` is a ``.lmdb`` folder;
    keys are the meta_info.txt keys, in its order; other entries are LMDB open options). The caller's dict
    is not modified. ``option`` names the setting ``root`` came from, for error messages.
    """

    BACKENDS = ('disk', 'lmdb')
    _IGNORED = ('db_paths', 'client_keys')  # set by BasicSR's datasets themselves, not by users

    def __init__(self, root, io_backend=None, option='dataroot_gt', recursive=False):
        self.root = os.fspath(root)
        options = dict(io_backend) if io_backend is not None else {'type': 'disk'}
        kind = options.pop('type', None)
        for name in self._IGNORED:
            options.pop(name, None)
        if kind not in self.BACKENDS:
            raise ValueError(f"Unknown io_backend type {kind!r} for '{self.root}'; known types: "
                             f"{', '.join(self.BACKENDS)}.")
        self.type = kind
        if kind == 'disk':
            if options:
                raise ValueError(f"io_backend type disk takes no options, got {', '.join(sorted(options))}.")
            self.backend = DiskBackend()
            self.keys = scan_images(self.root, recursive=recursive, option=option)
        else:
            self.keys = [key for key, _, _ in read_meta_info(self.root, option)]
            self.backend = LmdbBackend(self.root, **options)

    def __len__(self):
        return len(self.keys)

    def __repr__(self):
        return f"ImageSource('{self.root}', {self.type}, {len(self)} images)"

    def stem(self, key):
        """The image's name without folder and extension ('00000000'), for both backends."""
        return os.path.splitext(os.path.basename(key))[0] if self.type == 'disk' else key

    def describe(self, key):
        """How errors name the image of ``key``: its path, or the LMDB and the key."""
        return key if self.type == 'disk' else f'{self.root} [key {key}]'

    def read_bytes(self, key):
        """The encoded image stored under ``key`` (bytes)."""
        return self.backend.get(key)

    def get(self, filepath, client_key='default'):
        """BasicSR's ``FileClient.get``: the bytes of ``filepath`` (a path, or an LMDB key)."""
        return self.read_bytes(filepath)

    def read(self, key):
        """The image of ``key`` as (H, W, 3) float32 RGB in [0, 1] (``decode_image``); ImageReadError
        (a ValueError) when it is unreadable, empty, truncated, not an image or, in an LMDB, missing."""
        try:
            data = self.read_bytes(key)
        except OSError as err:
            raise ImageReadError(f"Cannot read image '{self.describe(key)}': {err.strerror or err}.") from err
        return decode_image(data, self.describe(key))
