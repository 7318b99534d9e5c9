"""Pack a folder of training images into an LMDB database (BasicSR's layout) for `io_backend: {type: lmdb}`."""
import argparse
import sys

from gfpgan.errors import add_debug_argument, run_cli  # noqa: E402 (light: no torch)

DESCRIPTION = """\
Pack a folder of images (png, jpg, jpeg, webp, bmp, tif, tiff; not its subfolders) into an LMDB
database, the layout existing FFHQ LMDBs use, so that training reads one memory-mapped file instead
of 70,000 small ones:

  <output>.lmdb/data.mdb       key = file name without extension ('00000000'), value = PNG bytes
  <output>.lmdb/lock.mdb
  <output>.lmdb/meta_info.txt  one line per image, sorted by name: '00000000.png (512,512,3) 1'
                               (name, (height,width,channels), PNG compression level)

Every image is re-encoded as PNG (lossless; EXIF orientation applied, alpha dropped, gray and
16-bit kept). The database is built next to the output under a hidden name and renamed into place
when complete, so an interrupted run never leaves a partial database; an existing output is
replaced, only once the new one is complete, with --force. Use it in the YAML options as:

  dataroot_gt: datasets/ffhq/ffhq_512.lmdb
  io_backend:
    type: lmdb
"""


def _size(num_bytes):
    for unit in ('bytes', 'KiB', 'MiB', 'GiB'):
        if num_bytes < 1024 or unit == 'GiB':
            return f'{num_bytes:.0f} {unit}' if unit == 'bytes' else f'{num_bytes:.1f} {unit}'
        num_bytes /= 1024


def main(argv=None):
    parser = argparse.ArgumentParser(description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('input', help='folder of images, e.g. datasets/ffhq/ffhq_512')
    parser.add_argument('output', help="LMDB folder to create, ending with '.lmdb', e.g. datasets/ffhq/ffhq_512.lmdb")
    parser.add_argument(
        '--compress-level',
        type=int,
        default=1,
        choices=range(10),
        metavar='0-9',
        help='PNG compression level: 0 stores raw pixels (largest, fastest to read), 9 is smallest '
        '(default: 1, as BasicSR)')
    parser.add_argument(
        '--workers', type=int, default=None, help='threads decoding and encoding images (default: min(8, CPUs))')
    parser.add_argument('--force', action='store_true', help='replace an existing output database')
    parser.add_argument('--quiet', action='store_true', help='no progress bar')
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    if args.workers is not None and args.workers < 1:
        parser.error('--workers must be at least 1.')
    from gfpgan.data.lmdb_util import create_lmdb  # here, so that --help answers without importing torch

    # a missing folder, an existing output, an unreadable image, a bad name: one `error:` line from run_cli
    summary = create_lmdb(
        args.input,
        args.output,
        compress_level=args.compress_level,
        num_workers=args.workers,
        overwrite=args.force,
        progress=not args.quiet)
    print(f"Wrote {summary['num_images']} images ({_size(summary['data_bytes'])} of PNG) to {summary['path']} in "
          f"{summary['seconds']:.1f} s.")
    return 0


if __name__ == '__main__':
    sys.exit(run_cli(main))
