"""Checks made before a run does any heavy work: every problem is collected, then reported together.

A command builds a :class:`Preflight`, calls its checks (files, folders, pretrained weights, output folders,
choices) and finally :meth:`Preflight.raise_if_any`, which raises one :class:`PreflightError` listing every
problem on its own line, and the single ``scripts/download_pretrained.py`` command that fetches every missing
pretrained file. Nothing here creates a file or a folder, and nothing is downloaded.
"""
import difflib
import os

from gfpgan.errors import GFPGANError

__all__ = ['PreflightError', 'Preflight', 'did_you_mean', 'writable_folder_problem', 'download_command']


class PreflightError(GFPGANError, ValueError):
    """Problems found before a run started; ``problems`` holds one sentence each."""

    def __init__(self, message, problems=()):
        super().__init__(message)
        self.problems = list(problems)


def did_you_mean(name, known):
    """`` (did you mean 'x'?)`` for the closest of `known` to `name`, else ``; known: a, b, c``."""
    known = sorted(str(k) for k in known)
    close = difflib.get_close_matches(str(name), known, n=1, cutoff=0.6)
    if close:
        return f" (did you mean '{close[0]}'?)"
    return f"; known: {', '.join(known)}" if known else ''


def download_command(names):
    """The one command that fetches the catalogue files `names` into experiments/pretrained_models/."""
    return 'python scripts/download_pretrained.py --files ' + ' '.join(dict.fromkeys(names))


def writable_folder_problem(path):
    """None when files can be created in folder `path` (made later if missing), else why not (one clause).

    The nearest existing ancestor must be a folder this process may write to; nothing is created.
    """
    path = os.path.abspath(os.fspath(path))
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            return 'no part of it exists'
        probe = parent
    if not os.path.isdir(probe):
        return f"'{probe}' is a file, not a folder"
    if not os.access(probe, os.W_OK | os.X_OK):
        return f"'{probe}' is not writable"
    return None


class Preflight:
    """Collects the problems of one command's inputs; `source` (e.g. the YAML file) is named in the summary."""

    def __init__(self, source=None):
        self.source = source
        self.problems = []
        self.missing_weights = []  # catalogue names that scripts/download_pretrained.py can fetch
        self.weight_users = {}  # catalogue name -> what needs it (an option, a command-line flag)

    def __bool__(self):
        return bool(self.problems or self.missing_weights)

    def add(self, message):
        """Record one problem (a sentence)."""
        message = message.strip()
        if message not in self.problems:
            self.problems.append(message)

    def check(self, condition, message):
        """Record `message` unless `condition`; returns `condition`."""
        if not condition:
            self.add(message)
        return bool(condition)

    def file(self, path, what):
        """`path` must be an existing file; `what` names it (``option `x` (a.yml)`` or ``--input``)."""
        if path is None or os.path.isfile(path):
            return True
        kind = 'is a folder, not a file' if os.path.isdir(path) else 'does not exist'
        return self.check(False, f"{what}: '{path}' {kind}.")

    def folder(self, path, what):
        """`path` must be an existing folder."""
        if path is None or os.path.isdir(path):
            return True
        kind = 'is a file, not a folder' if os.path.exists(path) else 'does not exist'
        return self.check(False, f"{what}: '{path}' {kind}.")

    def exists(self, path, what):
        """`path` must exist (file or folder)."""
        return path is None or self.check(os.path.exists(path), f"{what}: '{path}' does not exist.")

    def output_folder(self, path, what):
        """Files must be creatable in folder `path` (it may not exist yet)."""
        if path is None:
            return True
        reason = writable_folder_problem(path)
        return self.check(reason is None, f"{what}: cannot write to '{path}': {reason}.")

    def weights(self, name_or_path, what, search_dirs=None):
        """A pretrained file, found as ``resolve_weights`` would find it without downloading; returns its path or
        None. A missing catalogue file is listed for the download command; any other missing file is a problem."""
        from gfpgan.utils.pretrained import PRETRAINED
        from gfpgan.utils.weights import WeightsNotFoundError, resolve_weights
        try:
            return resolve_weights(name_or_path, progress=False, search_dirs=search_dirs, download=False)
        except WeightsNotFoundError as err:
            name = os.path.basename(os.fspath(name_or_path))
            if name in PRETRAINED and 'SHA-256' not in str(err):
                if name not in self.missing_weights:
                    self.missing_weights.append(name)
                    self.weight_users[name] = what
            else:
                self.add(f'{what}: {err}')
            return None

    def images(self, folder, what, recursive=False, extensions=None):
        """`folder` must be a folder holding images (files with one of ``extensions``, default the training
        images' IMAGE_EXTENSIONS); returns their paths (empty when it does not)."""
        from gfpgan.data.storage import IMAGE_EXTENSIONS, scan_images
        if folder is None:
            return []
        try:
            return scan_images(folder, recursive=recursive, extensions=extensions or IMAGE_EXTENSIONS)
        except OSError as err:  # missing, not a folder, or no image in it
            self.add(f'{what}: {err}')
            return []

    def fetch_missing(self, progress=True):
        """Download the missing catalogue files now, as ``resolve_weights`` would during the run (not with
        ``GFPGAN_NO_DOWNLOAD``); those that cannot be fetched stay listed. Call it once the other checks passed, so
        nothing is downloaded for a run that cannot start. Returns {name: path} of the files fetched."""
        from gfpgan.utils.weights import WeightsNotFoundError, resolve_weights
        if os.environ.get('GFPGAN_NO_DOWNLOAD') or self.problems:
            return {}
        fetched = {}
        for name in list(self.missing_weights):
            try:
                fetched[name] = resolve_weights(name, progress=progress)
            except WeightsNotFoundError:
                continue
            self.missing_weights.remove(name)
        return fetched

    def choice(self, value, known, what):
        """`value` must be one of `known`; the problem suggests the closest."""
        return self.check(value in known, f"{what}: {value!r} is not known{did_you_mean(value, known)}.")

    def lines(self):
        """One sentence a problem; the missing pretrained files share one, with the command that fetches them."""
        lines = list(self.problems)
        if self.missing_weights:
            from gfpgan.utils.weights import PRETRAINED_DIR
            files = ', '.join(f'{name} (for {self.weight_users[name]})' if self.weight_users.get(name) else name
                              for name in self.missing_weights)
            lines.append(f'Pretrained file(s) missing: {files}; fetch them into {PRETRAINED_DIR}/ with '
                         f'`{download_command(self.missing_weights)}`.')
        return lines

    def report(self, header=None):
        """The problems as one message: a lone problem's sentence, else a header line and one indented line each."""
        lines = self.lines()
        if len(lines) == 1 and header is None:
            return lines[0]
        count = len(lines)
        where = f' in {self.source}' if self.source else ''
        header = header or f"{count} problem{'s' if count != 1 else ''}{where}; nothing was started"
        return header + ':\n' + '\n'.join(f'  - {line}' for line in lines)

    def raise_if_any(self, header=None, error=PreflightError):
        """Raise one ``error`` (PreflightError or a subclass) listing every problem, if there is any."""
        if self:
            raise error(self.report(header), self.lines())
