"""The command line of scripts/download_pretrained.py: choose the catalogue files a use needs, fetch and verify them
into a folder, or list the catalogue with what a folder holds. Its help is ``HELP``. The one module of gfpgan.utils
that looks above it: the GFPGAN release files per version come from ``gfpgan.archs.presets`` (plain data)."""
import argparse
import os

from gfpgan.archs.presets import RELEASES
from gfpgan.errors import add_debug_argument
from gfpgan.preflight import PreflightError, writable_folder_problem

from . import pretrained
from .weights import PRETRAINED_DIR, download_file, sha256sum

__all__ = ['HELP', 'build_parser', 'selected_files', 'state', 'print_catalogue', 'fetch', 'main']

HELP = """Fetch the pretrained files a use needs into experiments/pretrained_models/ (or --dest), so that inference,
training and evaluation then run offline.

  python scripts/download_pretrained.py                       # inference with v1.4: GFPGANv1.4.pth, the
                                                              # RetinaFace detector, ParseNet, Real-ESRGAN x2
  python scripts/download_pretrained.py inference --version all --optional
  python scripts/download_pretrained.py training evaluation
  python scripts/download_pretrained.py --files face_detection_yunet_2023mar.onnx
  python scripts/download_pretrained.py --list                 # the catalogue and what --dest already holds

Uses: inference (a GFPGAN release per --version, detector, face parser, background upsampler), training (the
StyleGAN2 prior, ArcFace, the FFHQ component boxes, VGG19), finetune (GFPGANv1.4.pth, ArcFace, VGG19, the
detector for extract_components.py), evaluation (VGG16 for LPIPS, Inception for FID, ArcFace, NIQE parameters,
the FAN landmark network). --optional adds the alternatives (RetinaFace MobileNet, YuNet, Real-ESRGAN x4,
AlexNet for LPIPS).

Each file is downloaded to a temporary name and appears only when complete and matching its release size and
SHA-256 (where one is published); a file already in --dest that matches is kept, one that does not is reported
and replaced only with --force. Exits 1 if any file could not be had, with a summary.
"""


def build_parser():
    """The options of scripts/download_pretrained.py, with --debug; the help is HELP."""
    p = argparse.ArgumentParser(description=HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        'uses',
        nargs='*',
        metavar='use',
        help=f"what the files are for: {', '.join(pretrained.USES)} or all (default: inference, unless --files is "
        'given)')
    p.add_argument(
        '-v',
        '--version',
        nargs='+',
        default=['1.4'],
        choices=[*RELEASES, 'all'],
        help='GFPGAN release(s) for inference (default 1.4)')
    p.add_argument('--files', nargs='+', default=[], metavar='NAME', help='these catalogue files (any use)')
    p.add_argument('--optional', action='store_true', help='also the optional alternatives of each use')
    p.add_argument(
        '--dest',
        default=PRETRAINED_DIR,
        help=f'folder to put the files in (default {PRETRAINED_DIR}, where the code looks first; the cache '
        '$GFPGAN_CACHE is searched too)')
    p.add_argument('--force', action='store_true', help='replace files in --dest that do not match the release')
    p.add_argument('--list', action='store_true', help='print the catalogue and the state of --dest, fetch nothing')
    p.add_argument('--no_progress', action='store_true', help='no progress bars')
    add_debug_argument(p)
    return p


def selected_files(args):
    """The catalogue names the options ask for, in catalogue order; ValueError for unknown uses or files."""
    uses = args.uses or ([] if args.files else ['inference'])  # --files alone: just those files
    unknown = [u for u in uses if u != 'all' and u not in pretrained.USES]
    if unknown:
        raise ValueError(f"Unknown use {unknown[0]!r}; choose from {', '.join(pretrained.USES)} or all.")
    unknown = [name for name in args.files if name not in pretrained.PRETRAINED]
    if unknown:
        raise ValueError(f"'{unknown[0]}' is not in the pretrained catalogue; --list shows its files.")
    versions = list(RELEASES) if 'all' in args.version else args.version
    releases = {release['file'] for release in RELEASES.values()}
    wanted_releases = {RELEASES[v]['file'] for v in versions}
    names = set(args.files)
    for use in (pretrained.USES if 'all' in uses else uses):
        for name in pretrained.pretrained_files(use, include_optional=args.optional):
            if use != 'inference' or name not in releases or name in wanted_releases:
                names.add(name)
    return [name for name in pretrained.PRETRAINED if name in names]


def state(path, name):
    """('missing' | 'present' | 'differs', reason) of the file at ``path`` against catalogue entry ``name``."""
    if not os.path.isfile(path):
        return 'missing', ''
    ok, reason = pretrained.check_file(path, name)
    return ('present' if ok else 'differs'), reason


def print_catalogue(dest):
    """Print the catalogue as a Markdown table, with each file's state in ``dest``."""
    print(f'| file | uses | size (MB) | SHA-256 | in {dest} |')
    print('|---|---|---|---|---|')
    for name, entry in pretrained.PRETRAINED.items():
        uses = ', '.join(entry.uses) + (' (optional)' if entry.optional else '')
        size = f'{entry.size / 1e6:.1f}' if entry.size else '?'
        digest = (entry.sha256[:12] + ('...' if len(entry.sha256) > 12 else '')) if entry.sha256 else 'not published'
        status, _ = state(os.path.join(dest, name), name)
        print(f'| {name} | {uses} | {size} | {digest} | {status} |')


def fetch(name, dest, force, progress):
    """Bring one file into ``dest``: (ok, message)."""
    entry = pretrained.PRETRAINED[name]
    path = os.path.join(dest, name)
    status, reason = state(path, name)
    if status == 'present':
        return True, f'already there ({reason})'
    if status == 'differs' and not force:
        return False, f'{path} is not the release file ({reason}); rerun with --force to replace it'
    try:
        download_file(entry.url, path, sha256=entry.sha256, progress=progress, size=entry.size)
    except (OSError, ValueError) as err:
        return False, f'download from {entry.url} failed ({err})'
    if entry.sha256 is None:
        return True, f'downloaded; no published SHA-256 (this file has {sha256sum(path)})'
    return True, 'downloaded, SHA-256 verified'


def main(argv=None):
    """Fetch the files ``argv`` asks for (or --list them); 0 when all are there, 1 when some failed."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list:
        print_catalogue(args.dest)
        return 0
    try:
        names = selected_files(args)
    except ValueError as err:
        parser.error(str(err))
    problem = writable_folder_problem(args.dest)
    if problem is not None:  # found before the first download, not after it
        raise PreflightError(f"--dest: cannot write to '{args.dest}': {problem}.")
    failed = []
    for name in names:
        ok, message = fetch(name, args.dest, args.force, not args.no_progress)
        print(f"{'ok    ' if ok else 'FAILED'} {name}: {message}", flush=True)
        if not ok:
            failed.append(name)
    print(f'{len(names) - len(failed)} of {len(names)} file(s) in {args.dest}' +
          (f"; failed: {', '.join(failed)}" if failed else ''))
    return 1 if failed else 0
