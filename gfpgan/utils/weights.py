"""Where pretrained weight files come from: a local path first, then the folders where the original GFPGAN and
facexlib put their downloads (``gfpgan/weights/``, facexlib's ``weights/``), ``experiments/pretrained_models/``, the
cache folders, then the file's URL (downloaded atomically, hash-checked). Offline, one sentence says which file to
put where."""
import importlib.util
import os
import tempfile
import urllib.parse
import urllib.request

from gfpgan.errors import GFPGANError

from .hashing import sha256sum

__all__ = [
    'WeightsNotFoundError', 'PRETRAINED_DIR', 'LEGACY_WEIGHTS_DIR', 'cache_dir', 'default_search_dirs',
    'facexlib_weights_dir', 'gfpgan_package_weights_dir', 'resolve_weights', 'download_file', 'sha256sum',
    'load_file_from_url'
]

PRETRAINED_DIR = os.path.join('experiments', 'pretrained_models')
LEGACY_WEIGHTS_DIR = os.path.join('gfpgan', 'weights')  # the original's inference script downloads here (cwd)


class WeightsNotFoundError(GFPGANError, FileNotFoundError):
    """A pretrained file that is neither on disk nor downloadable."""


def cache_dir():
    """``$GFPGAN_CACHE`` or ``~/.cache/gfpgan``."""
    return os.environ.get('GFPGAN_CACHE') or os.path.join(os.path.expanduser('~'), '.cache', 'gfpgan')


def _torch_hub_checkpoints():
    try:
        import torch.hub
        return os.path.join(torch.hub.get_dir(), 'checkpoints')
    except Exception:  # pragma: no cover - torch is always there in practice
        return None


def gfpgan_package_weights_dir():
    """``weights/`` inside the installed gfpgan package, where the original ``GFPGANer`` downloaded a model URL."""
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'weights')


def facexlib_weights_dir():
    """``weights/`` inside the installed facexlib package, where facexlib downloads its detection and parsing files
    (found without importing facexlib); None when facexlib is not installed."""
    try:
        spec = importlib.util.find_spec('facexlib')
    except (ImportError, ValueError):
        return None
    locations = list(getattr(spec, 'submodule_search_locations', None) or []) if spec is not None else []
    return os.path.join(locations[0], 'weights') if locations else None


def default_search_dirs():
    """Folders searched for a pretrained file name, in order: ``gfpgan/weights/`` (relative to the working directory)
    and the gfpgan package's ``weights/`` (where the original put downloads), facexlib's package ``weights/``,
    ``experiments/pretrained_models/``, the gfpgan cache, torch hub's checkpoints folder. Duplicates are dropped."""
    dirs, seen = [], set()
    for folder in (LEGACY_WEIGHTS_DIR, gfpgan_package_weights_dir(), facexlib_weights_dir(), PRETRAINED_DIR,
                   cache_dir(), _torch_hub_checkpoints()):
        key = os.path.realpath(folder) if folder else None
        if folder and key not in seen:
            seen.add(key)
            dirs.append(folder)
    return dirs


def _hash_ok(path, sha256):
    """sha256 is a full hex digest or a prefix of one (as torchvision file names carry)."""
    return not sha256 or sha256sum(path).startswith(sha256.lower())


def download_file(url, dst, sha256=None, progress=True, size=None):
    """Download ``url`` to ``dst`` via a temporary file; the file appears only complete and verified (length as
    the server announced and as ``size`` says, SHA-256 or its prefix)."""
    if os.environ.get('GFPGAN_NO_DOWNLOAD'):
        raise OSError('downloads are disabled (GFPGAN_NO_DOWNLOAD is set)')
    os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f'.{os.path.basename(dst)}.', suffix='.part', dir=os.path.dirname(os.path.abspath(dst)))
    try:
        with os.fdopen(fd, 'wb') as f, urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get('Content-Length') or 0) or None
            bar = None
            if progress:
                from tqdm import tqdm
                bar = tqdm(total=total, unit='B', unit_scale=True, desc=os.path.basename(dst))
            try:
                for block in iter(lambda: response.read(1 << 20), b''):
                    f.write(block)
                    if bar is not None:
                        bar.update(len(block))
            finally:
                if bar is not None:
                    bar.close()
        got = os.path.getsize(tmp)
        if got != (total or got) or got != (size or got):
            raise OSError(f'incomplete or wrong download ({got} bytes, expected {size or total})')
        if not _hash_ok(tmp, sha256):
            raise OSError(f'SHA-256 mismatch (expected {sha256}, got {sha256sum(tmp)})')
        os.replace(tmp, dst)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return dst


def resolve_weights(name_or_path, url=None, sha256=None, progress=True, search_dirs=None, download=True):
    """Local path of a pretrained file.

    Order: ``name_or_path`` itself if it exists (a path you give is used as it is); its file name in
    ``search_dirs`` (default: ``default_search_dirs()``: ``gfpgan/weights/``, the gfpgan package's and facexlib's
    ``weights/`` folders, ``experiments/pretrained_models/``, the gfpgan cache, torch hub's checkpoints folder,
    so files an existing install of the original or facexlib downloaded are found); then ``url`` downloaded into
    the gfpgan cache (not with ``download=False``). A file name in the catalogue (``gfpgan.utils.pretrained``)
    brings its URL and SHA-256 when they are not given. Raises WeightsNotFoundError naming the file, where to put
    it and where to get it.
    """
    from .pretrained import PRETRAINED
    name_or_path = os.fspath(name_or_path)
    if os.path.isfile(name_or_path):
        return name_or_path
    filename = os.path.basename(name_or_path) or os.path.basename(url or '')
    known = PRETRAINED.get(filename)
    size = None
    if known is not None:
        url, sha256, size = url or known.url, sha256 or known.sha256, known.size
    dirs = search_dirs if search_dirs is not None else default_search_dirs()
    bad_hash = []
    for folder in dirs:
        if folder and os.path.isfile(os.path.join(folder, filename)):
            candidate = os.path.join(folder, filename)
            if _hash_ok(candidate, sha256):
                return candidate
            bad_hash.append(candidate)
    if bad_hash:
        where = ', '.join(bad_hash)
        raise WeightsNotFoundError(
            f"'{where}' does not have the expected SHA-256 ({sha256}...): the file is corrupt or "
            f'a different one; replace it with the release file{f" from {url}" if url else ""}.')
    reason = 'no URL is known for it'
    if url and not download:
        reason = 'downloading was not allowed'
    elif url:
        dst = os.path.join(cache_dir(), filename)
        try:
            return download_file(url, dst, sha256=sha256, progress=progress, size=size)
        except (OSError, ValueError) as err:
            reason = f'downloading {url} failed ({err})'
    where = ', '.join(d for d in dirs if d)
    get = f' Get it from {url} and' if url else ' Obtain it and'
    fetch = f"; 'python scripts/download_pretrained.py --files {filename}' does this" if known else ''
    raise WeightsNotFoundError(f"Pretrained file '{filename}' was not found (looked in: {where}) and {reason}.{get} "
                               f"put it in {PRETRAINED_DIR}/ (or pass its path){fetch}.")


def load_file_from_url(url, model_dir=None, progress=True, file_name=None):
    """Local path of ``url`` in ``model_dir`` (default: torch hub's ``checkpoints`` folder), downloaded there if
    the file is not already present, as BasicSR's and facexlib's function of this name.

    The download goes through a temporary file and is checked against the pretrained catalogue's size and SHA-256
    when the file is a known release file, so the file appears only complete and verified. Offline (or with
    ``GFPGAN_NO_DOWNLOAD`` set) a missing file raises WeightsNotFoundError naming the URL and where to put it.
    """
    from .pretrained import PRETRAINED
    if model_dir is None:
        model_dir = _torch_hub_checkpoints()
    url_name = os.path.basename(urllib.parse.urlparse(url).path)
    filename = file_name or url_name
    if not filename:
        raise ValueError(f"Cannot tell a file name from the URL '{url}'; pass file_name.")
    target = os.path.abspath(os.path.join(os.fspath(model_dir), filename))
    if os.path.isfile(target):
        return target
    known = PRETRAINED.get(url_name)
    sha256 = size = None
    if known is not None and known.url == url:
        sha256, size = known.sha256, known.size
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if progress:
        print(f'Downloading: "{url}" to {target}')
    try:
        return download_file(url, target, sha256=sha256, progress=progress, size=size)
    except (OSError, ValueError) as err:
        raise WeightsNotFoundError(f"'{target}' is missing and downloading {url} failed ({err}); get the file "
                                   'from that URL and put it there.') from err
