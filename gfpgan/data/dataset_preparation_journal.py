"""The dataset preparation's record of its work: an append-only journal (``manifest.jsonl``) that a killed run
resumes from, and the aggregate files made from it (``manifest.json``, ``meta_info.txt``, the eye/mouth box file).

Journal lines: a header ``{"journal": 1, "options": {...}}``, then per source one line per face record (a photo
with no face: one record with ``face`` null) and a closing ``{"done": source, "boxes": {key: boxes}}``. The lines of
a source are appended with one write, flushed and fsync'ed; a source whose closing line is missing (a kill mid-write)
is cut off on resume and done again. In memory only the sources done, the kept faces' boxes and their hashes are
held, so memory stays flat while the journal grows; the aggregates stream the journal."""
import contextlib
import json
import os
import re

import numpy as np

from gfpgan.faces.quality import hash_from_hex
from gfpgan.utils.fileio import atomic_write

from .components import dataset_key, save_component_boxes

__all__ = ['IMAGES', 'META_INFO', 'COMPONENTS_FILE', 'MANIFEST', 'JOURNAL', 'PreparationState', 'load_manifest',
           'foreign_output_problem', 'output_lock']

IMAGES, META_INFO, COMPONENTS_FILE, MANIFEST, JOURNAL = ('images', 'meta_info.txt', 'components.pth',
                                                         'manifest.json', 'manifest.jsonl')
_FACE_NAME = re.compile(r'(\d{8})\.png')


def _dumps(value):
    return json.dumps(value, separators=(',', ':'), ensure_ascii=True)


@contextlib.contextmanager
def output_lock(output):
    """Hold the output folder for one run: a second run into it at the same time is refused in one sentence (the
    two would append to one journal and give faces the same names). An advisory lock on a hidden file, where the
    platform has ``fcntl``."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    with open(os.path.join(output, '.prepare_dataset.lock'), 'a') as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"'{output}' is being prepared by another run right now; wait for it to finish or choose "
                             'another output folder.') from None
        yield


def foreign_output_problem(output):
    """Why ``output`` cannot receive a prepared dataset (one sentence), or None: without a journal of ours, a
    manifest.json (an earlier version's output) or any file in images/ (someone else's images, which the run would
    take for faces of an interrupted run and delete) is refused."""
    if os.path.exists(os.path.join(output, JOURNAL)):
        return None
    if os.path.isfile(os.path.join(output, MANIFEST)):
        return (f"'{output}' holds a manifest.json but no {JOURNAL} (an earlier version's output); choose another "
                'output folder.')
    images = os.path.join(output, IMAGES)
    if os.path.isdir(images) and any(not name.startswith('.') for name in os.listdir(images)):
        return (f"'{images}' already holds files that prepare_dataset did not make; choose an empty or new output "
                'folder.')
    return None


class PreparationState:
    """The journal of one output folder and what resuming needs from it: ``sources`` (done, in order), ``boxes``
    ({key: boxes} of the kept faces) and their perceptual hashes; ``options`` those the journal was started with."""

    def __init__(self, output):
        self.output = output
        self.path = os.path.join(output, JOURNAL)
        self.sources, self.boxes, self.options = [], {}, None
        self._hashes = np.zeros(1024, dtype=np.uint64)
        self.kept = 0
        problem = foreign_output_problem(output)
        if problem:
            raise ValueError(problem)
        if os.path.exists(self.path):
            self._read()

    @property
    def hashes(self):
        """The kept faces' perceptual hashes, in name order, as a uint64 array."""
        return self._hashes[:self.kept]

    def _keep(self, key, boxes, phash):
        if self.kept == len(self._hashes):
            self._hashes = np.concatenate([self._hashes, np.zeros_like(self._hashes)])
        self._hashes[self.kept] = np.uint64(phash)
        self.boxes[key] = boxes
        self.kept += 1

    def _read(self):
        """Load the journal; a torn or unfinished tail (the source a kill interrupted) is cut off."""
        good, pending = 0, []
        with open(self.path, 'rb') as f:
            for line in f:
                if not line.endswith(b'\n'):
                    break  # torn last line
                try:
                    entry = json.loads(line)
                except ValueError:
                    break
                if 'journal' in entry:
                    self.options = entry.get('options', {})
                elif 'done' in entry:
                    for record in pending:
                        if record.get('kept'):
                            self._keep(record['key'], entry['boxes'][record['key']], hash_from_hex(record['phash']))
                    self.sources.append(entry['done'])
                    pending = []
                else:
                    pending.append(entry)
                    continue
                good = f.tell()
        if good < os.path.getsize(self.path):
            os.truncate(self.path, good)

    def start(self, options):
        """Open the journal for appending; a new one begins with the options."""
        if self.options is None:
            self.options = options
            with open(self.path, 'ab') as f:
                f.write((_dumps({'journal': 1, 'options': options}) + '\n').encode())
        self._file = open(self.path, 'ab')

    def close(self):
        if getattr(self, '_file', None) is not None:
            self._file.close()
            self._file = None

    def add_source(self, rel, records, kept):
        """Append a source's face records and its kept faces (``[(key, boxes, phash)]``, keys continuing
        ``dataset_key(kept)`` in order) to the journal, durably."""
        boxes = {key: box for key, box, _ in kept}
        lines = [_dumps(record) for record in records] + [_dumps({'done': rel, 'boxes': boxes})]
        self._file.write(('\n'.join(lines) + '\n').encode())
        self._file.flush()
        os.fsync(self._file.fileno())
        for key, box, phash in kept:
            self._keep(key, box, phash)
        self.sources.append(rel)

    def remove_orphan_images(self):
        """Delete the NNNNNNNN.png faces in images/ that no finished source kept (written by a source a kill
        interrupted): the rerun gives those names to other faces, and the LMDB packs the whole folder."""
        folder = os.path.join(self.output, IMAGES)
        for name in os.listdir(folder) if os.path.isdir(folder) else ():
            match = _FACE_NAME.fullmatch(name)
            if match and int(match.group(1)) >= self.kept:
                os.remove(os.path.join(folder, name))

    def write_aggregates(self, extra=None):
        """Write meta_info.txt, the box file and manifest.json (options, ``extra``, sources, every face record
        streamed from the journal), each atomically."""
        with atomic_write(os.path.join(self.output, META_INFO)) as f:
            f.write(''.join(f'{dataset_key(i)}.png\n' for i in range(self.kept)).encode())
        if self.boxes:
            save_component_boxes(self.boxes, os.path.join(self.output, COMPONENTS_FILE))
        if getattr(self, '_file', None) is not None:
            self._file.flush()
        head = {'options': self.options, **(extra or {}), 'sources': self.sources}
        with atomic_write(os.path.join(self.output, MANIFEST)) as out, open(self.path, 'rb') as journal:
            out.write(_dumps(head)[:-1].encode() + b',"faces":[\n')
            first = True
            for line in journal:
                if line.startswith(b'{"source"'):
                    out.write((b'' if first else b',\n') + line.rstrip(b'\n'))
                    first = False
            out.write(b'\n]}\n')


_GEOMETRY = ('landmarks68', 'landmarks5', 'matrix')


def _without_geometry(record):
    for key in _GEOMETRY:
        record.pop(key, None)
    return record


def load_manifest(output, light=False):
    """The manifest.json of the output folder ``output`` as a dict; ``light``: the face records without their
    landmarks and matrices (dropped as each record is parsed: about a seventh of the memory for a big set)."""
    with open(os.path.join(output, MANIFEST), encoding='utf-8') as f:
        return json.load(f, object_hook=_without_geometry if light else None)
