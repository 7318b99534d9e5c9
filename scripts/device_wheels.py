"""Download the wheels the GPU machine lacks into .whl/ (``make device-wheels``), for scripts/device_check.sh.

The GPU machine (Python 3.12, torch with CUDA, no internet) has torch, torchvision, numpy, OpenCV, SciPy and the test
tools, but not lmdb, lpips, pytorch-fid, facexlib and facexlib's filterpy. This fetches each of them at the version
installed in this environment (.venv), as a CPython 3.12 manylinux x86_64 wheel (a pure-Python package that only
ships a source archive is built into a wheel here), into an ignored folder that the device call carries (``.whl``).
Wheels already there are kept; another version of the same package is replaced. Each wheel's Requires-Dist is checked
against what the GPU machine has, and the total size is printed (the carry limit is 64 MiB).
"""
import argparse
import importlib.metadata
import os
import re
import subprocess
import sys
import zipfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
PACKAGES = ('lmdb', 'lpips', 'pytorch-fid', 'facexlib', 'filterpy')
# What the GPU machine has installed (normalised names); pillow comes with torchvision and matplotlib, and
# opencv-python-headless provides the cv2 module that opencv-python would.
DEVICE_HAS = frozenset({
    'torch', 'torchvision', 'numpy', 'opencv-python-headless', 'opencv-python', 'scipy', 'pyyaml', 'tqdm',
    'tensorboard', 'safetensors', 'scikit-image', 'onnx', 'onnxruntime', 'pytest', 'pluggy', 'iniconfig', 'packaging',
    'setuptools', 'wheel', 'pip', 'numba', 'matplotlib', 'pillow'
})
PYTHON_VERSION = '3.12'
PLATFORMS = ('manylinux_2_28_x86_64', 'manylinux_2_27_x86_64', 'manylinux_2_17_x86_64', 'manylinux2014_x86_64',
             'manylinux1_x86_64')
CARRY_LIMIT = 64 * 2**20


def normalise(name):
    """PEP 503 name: lower case, runs of '-', '_', '.' as one '-'."""
    return re.sub(r'[-_.]+', '-', name).lower()


def wheel_project(filename):
    """(normalised name, version) of a wheel file name, or None for anything else."""
    if not filename.endswith('.whl'):
        return None
    parts = filename[:-4].split('-')
    return (normalise(parts[0]), parts[1]) if len(parts) >= 5 else None


def wheel_requirements(path):
    """Normalised names of a wheel's unconditional Requires-Dist (those behind an ``extra`` marker left out)."""
    with zipfile.ZipFile(path) as wheel:
        metadata = next(n for n in wheel.namelist() if re.fullmatch(r'[^/]+\.dist-info/METADATA', n))
        text = wheel.read(metadata).decode('utf-8', 'replace')
    names = []
    for line in text.splitlines():
        if not line.startswith('Requires-Dist:'):
            continue
        spec = line.split(':', 1)[1].strip()
        if ';' in spec and 'extra' in spec.split(';', 1)[1]:
            continue
        names.append(normalise(re.match(r'[A-Za-z0-9._-]+', spec).group(0)))
    return names


def installed_version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"{name} is not installed in this environment ({sys.executable}), so its version is unknown: "
                         "run `make test` (or pip install -e '.[test]') first.") from None


def pip(*args):
    """Run pip of this interpreter; True when it succeeded."""
    print('  $ pip ' + ' '.join(args), flush=True)
    return subprocess.run([sys.executable, '-m', 'pip', *args]).returncode == 0


def fetch(name, version, dest):
    """Put ``name==version`` into ``dest`` as a wheel for the GPU machine; False when that failed."""
    platform_args = [arg for p in PLATFORMS for arg in ('--platform', p)]
    if pip('download', '--quiet', '--no-deps', '--only-binary=:all:', '--python-version', PYTHON_VERSION,
           '--implementation', 'cp', *platform_args, '--dest', dest, f'{name}=={version}'):
        return True
    print(f'  no {PYTHON_VERSION} wheel of {name} {version}: building one from its source archive (pure Python only)')
    if not pip('wheel', '--quiet', '--no-deps', '--wheel-dir', dest, f'{name}=={version}'):
        return False
    built = [f for f in os.listdir(dest) if wheel_project(f) == (normalise(name), version)]
    if not all(re.search(r'-py[23.]*-none-any\.whl$', f) for f in built):
        print(f'  {", ".join(built)} is not a pure-Python wheel: it would not run on the GPU machine', file=sys.stderr)
        return False
    return True


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--dest', default=os.path.join(ROOT, '.whl'), help='wheel folder (default .whl)')
    parser.add_argument(
        'packages', nargs='*', default=list(PACKAGES), help=f"what to fetch (default: {' '.join(PACKAGES)})")
    args = parser.parse_args(argv)
    os.makedirs(args.dest, exist_ok=True)

    failed = []
    for name in args.packages:
        version = installed_version(name)
        present = {f: wheel_project(f) for f in sorted(os.listdir(args.dest))}
        mine = [f for f, project in present.items() if project and project[0] == normalise(name)]
        if any(present[f][1] == version for f in mine):
            print(f'{name} {version}: already there')
            continue
        for stale in mine:
            print(f'{name}: removing {stale} (this environment has {version})')
            os.remove(os.path.join(args.dest, stale))
        print(f'{name} {version}: fetching')
        if not fetch(name, version, args.dest):
            failed.append(f'{name}=={version}')

    wheels = sorted(f for f in os.listdir(args.dest) if wheel_project(f))
    provided = {wheel_project(f)[0] for f in wheels}
    missing = {}
    for f in wheels:
        for requirement in wheel_requirements(os.path.join(args.dest, f)):
            if requirement not in DEVICE_HAS and requirement not in provided:
                missing.setdefault(requirement, []).append(f)
    total = sum(os.path.getsize(os.path.join(args.dest, f)) for f in wheels)
    print(f'\n{len(wheels)} wheels in {args.dest}: {total / 2**20:.2f} MiB in all '
          f'(carry limit {CARRY_LIMIT >> 20} MiB)')
    for f in wheels:
        print(f'  {f}  {os.path.getsize(os.path.join(args.dest, f)) / 2**10:.0f} KiB')
    for requirement, needed_by in sorted(missing.items()):
        print(f'WARNING: {requirement} (needed by {", ".join(needed_by)}) is not on the GPU machine and not in '
              f'{args.dest}: add it (python scripts/device_wheels.py {requirement}) or check it is not needed.',
              file=sys.stderr)
    if failed:
        print(f'Could not fetch {", ".join(failed)}.', file=sys.stderr)
    if total > CARRY_LIMIT:
        print(f'{args.dest} is over the {CARRY_LIMIT >> 20} MiB carry limit.', file=sys.stderr)
    return 1 if failed or missing or total > CARRY_LIMIT else 0


if __name__ == '__main__':
    sys.exit(main())
