"""User-facing failures and how every entry point reports them.

A :class:`GFPGANError` is a mistake of input, options, files or environment that the user can fix; its message
is one sentence saying what went wrong, where (file / option) and what to do. :func:`run_cli` runs a command's
``main(argv)`` and turns such errors (and OS errors: disk full, permission denied, missing file) into one
``error: ...`` line on stderr and exit code 2; the traceback is shown only with ``--debug`` on the command line
or ``GFPGAN_DEBUG=1`` in the environment. Exit code 1 stays for partial success (some inputs failed).
"""
import errno
import os
import sys
import traceback

__all__ = [
    'GFPGANError', 'EXIT_ERROR', 'EXIT_PARTIAL', 'DEBUG_ENV', 'describe_os_error', 'error_message', 'run_cli',
    'add_debug_argument', 'is_fatal_os_error', 'os_error_at'
]

EXIT_PARTIAL = 1
EXIT_ERROR = 2
DEBUG_ENV = 'GFPGAN_DEBUG'


class GFPGANError(Exception):
    """Base of the project's user-facing errors; the message is one actionable sentence."""


_OS_CAUSES = {
    errno.ENOSPC: 'no space left on the device: free some space or write somewhere else',
    errno.EDQUOT: 'the disk quota is exceeded: free some space or write somewhere else',
    errno.EACCES: 'permission denied: choose a folder you can write to, or change its permissions',
    errno.EPERM: 'operation not permitted: choose a folder you can write to, or change its permissions',
    errno.EROFS: 'the file system is read-only: write somewhere else',
    errno.ENOENT: 'no such file or folder',
    errno.ENOTDIR: 'a part of the path is not a folder',
    errno.EISDIR: 'it is a folder, not a file',
}


# OS errors that no later input of the same run can escape (the same disk, the same folder): a command stops at the
# first one instead of failing every remaining input the same way.
_FATAL_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM)


def is_fatal_os_error(err):
    """Whether ``err`` is a disk-full / quota / read-only / permission OSError, fatal to the whole run."""
    return isinstance(err, OSError) and err.errno in _FATAL_ERRNOS


def os_error_at(err, path):
    """``err`` itself when it names a file, else the same OSError naming ``path`` (a failed write of an open file
    carries no name), so that the report says which file could not be written."""
    if err.filename is not None:
        return err
    return OSError(err.errno, err.strerror or str(err), os.fspath(path))


def add_debug_argument(parser):
    """Add ``--debug`` to an argparse parser (run_cli reads it from the command line to show tracebacks)."""
    parser.add_argument('--debug', action='store_true', help='show the traceback of an error')
    return parser


def describe_os_error(err):
    """One sentence for an OSError: the path and the cause (``Cannot use 'x.pth': no space left ...``)."""
    path = err.filename if err.filename is not None else None
    cause = _OS_CAUSES.get(err.errno) or (err.strerror or str(err)).rstrip('.')
    if path is None:
        return f'{cause[:1].upper()}{cause[1:]}.'
    other = f" (and '{err.filename2}')" if err.filename2 else ''
    return f"Cannot use '{os.fspath(path)}'{other}: {cause}."


def error_message(err):
    """The message reported for ``err``: one sentence (a preflight report adds one indented line a problem)."""
    if isinstance(err, OSError) and (err.errno in _OS_CAUSES or err.filename is not None) and \
            not isinstance(err, GFPGANError):
        return describe_os_error(err)
    text = str(err).strip() or type(err).__name__
    return text


def _debugging(argv):
    return os.environ.get(DEBUG_ENV, '').strip() not in ('', '0') or '--debug' in (argv or ())


def run_cli(main, argv=None):
    """Run ``main(argv)`` (argv None: the command line) and return its exit code, reporting a user-facing error
    (GFPGANError, OSError, ValueError) as ``error: <message>`` with code 2, Ctrl-C as code 130. Any other
    exception is a bug and keeps its traceback."""
    shown = sys.argv[1:] if argv is None else argv
    try:
        code = main(argv)
    except KeyboardInterrupt:
        print('error: interrupted.', file=sys.stderr)
        return 130
    except (GFPGANError, OSError, ValueError) as err:
        if _debugging(shown):
            traceback.print_exc()
        print(f'error: {error_message(err)}', file=sys.stderr)
        return EXIT_ERROR
    return 0 if code is None else code
