"""A restored folder paired with its references and inputs by file name, and images read the way every per-image
metric takes them: (H, W, 3) BGR uint8 arrays."""
import os
from dataclasses import dataclass, field

import numpy as np

from gfpgan.data.storage import scan_images
from gfpgan.utils.img_util import read_image

__all__ = ['FolderPairs', 'pair_folders', 'read_bgr_uint8']


@dataclass
class FolderPairs:
    """Restored images matched by name (file stem, after ``suffix`` is removed from restored names) with their
    references and inputs; names found on one side only are kept in ``unmatched`` for the report."""
    names: list
    restored: dict
    reference: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    unmatched: dict = field(default_factory=dict)  # {'restored only': [...], 'reference only': [...], ...}


def _by_stem(folder, suffix='', option=None):
    """{stem without suffix: path} of the images in ``folder``; two files with one stem are an error."""
    found = {}
    for path in scan_images(folder, option=option):
        stem = os.path.splitext(os.path.relpath(path, folder))[0]
        if suffix and stem.endswith(suffix):
            stem = stem[:-len(suffix)]
        if stem in found:
            raise ValueError(f"Two images in '{folder}' are both named '{stem}' ({os.path.basename(found[stem])}, "
                             f'{os.path.basename(path)}); keep one per name.')
        found[stem] = path
    return found


def pair_folders(restored, reference=None, inputs=None, suffix=''):
    """Match ``restored`` with ``reference`` (and ``inputs``) by file stem. Only names present in every given folder
    are evaluated; the others are listed in ``unmatched``. Raises ValueError when no name is shared."""
    restored_files = _by_stem(restored, suffix, option='--restored')
    folders = {
        'reference': _by_stem(reference, option='--gt') if reference else None,
        'input': _by_stem(inputs, option='--lq') if inputs else None
    }
    names = set(restored_files)
    for files in folders.values():
        if files is not None:
            names &= set(files)
    unmatched = {}
    for side, files in (('restored', restored_files), *folders.items()):
        if files is not None and set(files) - names:
            unmatched[f'{side} only'] = sorted(set(files) - names)
    if not names:
        given = ', '.join(f"'{f}'" for f in (restored, reference, inputs) if f)
        raise ValueError(f'No image name is shared by {given} (names are compared without extension'
                         f"{f' and without the suffix {suffix!r}' if suffix else ''}); check the folders or --suffix.")
    names = sorted(names)
    return FolderPairs(names, {n: restored_files[n]
                               for n in names}, {n: folders['reference'][n]
                                                 for n in names} if folders['reference'] else {},
                       {n: folders['input'][n]
                        for n in names} if folders['input'] else {}, unmatched)


def read_bgr_uint8(path):
    """An image file as a (H, W, 3) BGR uint8 array (16-bit files are rounded to 8 bits)."""
    rgb = read_image(path)
    return np.ascontiguousarray(np.clip(np.rint(rgb[..., ::-1] * 255.), 0, 255).astype(np.uint8))
