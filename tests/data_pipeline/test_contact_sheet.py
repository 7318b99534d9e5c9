"""The contact sheet of a prepared dataset: grouping (kept first, then by reason), framing colours, kept tiles equal to
the resized aligned faces, crops of rejected faces around their boxes, grey tiles for missing sources, the bound on
big sets, and an atomic write that never lands on an input."""
import os

import cv2
import numpy as np
import pytest

from gfpgan.data.contact_sheet import (BORDER, KEPT_COLOUR, MISSING_GREY, REJECTED_COLOUR, SHEET_LIMIT, contact_sheet,
                                       face_tile, sheet_groups, sheet_layout, sheet_plan,
                                       write_contact_sheet)
from gfpgan.utils.fileio import is_temporary_name

THUMB = 96
FACE_COLOUR = (10, 200, 250)  # BGR of the painted 'face' inside the box of the photo
BOX = [150, 100, 230, 180]


@pytest.fixture
def dataset(tmp_path):
    """A photos folder (one photo with a painted box, one without), an output folder with two aligned faces, and a
    manifest naming them, a missing source and a face of a vanished photo."""
    photos, out = tmp_path / 'photos', tmp_path / 'out'
    (photos / 'sub').mkdir(parents=True)
    (out / 'images').mkdir(parents=True)
    photo = np.full((300, 400, 3), (90, 60, 30), np.uint8)
    photo[BOX[1]:BOX[3], BOX[0]:BOX[2]] = FACE_COLOUR
    cv2.imwrite(str(photos / 'sub' / 'group.png'), photo)
    cv2.imwrite(str(photos / 'empty.jpg'), np.full((200, 300, 3), (40, 180, 40), np.uint8))
    rng = np.random.default_rng(0)
    for name in ('00000000.png', '00000001.png'):
        face = cv2.GaussianBlur(rng.integers(0, 256, (512, 512, 3), dtype=np.uint8), (0, 0), 6)
        cv2.imwrite(str(out / 'images' / name), face)
    faces = [
        {'source': 'sub/group.png', 'face': 0, 'box': BOX, 'kept': True, 'name': '00000000.png'},
        {'source': 'sub/group.png', 'face': 1, 'box': BOX, 'kept': False, 'reason': 'too blurry'},
        {'source': 'empty.jpg', 'face': None, 'kept': False, 'reason': 'no face'},
        {'source': 'sub/group.png', 'face': 2, 'box': BOX, 'kept': True, 'name': '00000001.png'},
        {'source': 'gone.png', 'face': None, 'kept': False, 'reason': 'unreadable'},
        {'source': 'moved.png', 'face': 0, 'box': BOX, 'kept': False, 'reason': 'too blurry', 'sharpness': 12.3},
        {'source': 'sub/group.png', 'face': 3, 'box': BOX, 'kept': False, 'reason': 'near duplicate of 00000000.png'},
    ]
    return photos, out, {'faces': faces, 'sources': ['sub/group.png', 'empty.jpg', 'gone.png', 'moved.png']}


def _middle(tile):
    """The rows of a tile between its label strips, inside its frame."""
    return tile[THUMB // 2 - 10:THUMB // 2 + 10, BORDER:THUMB - BORDER]


def test_groups_layout_colours_and_contents(dataset):
    photos, out, manifest = dataset
    sheet = contact_sheet(manifest, str(photos), str(out), thumb=THUMB, columns=3)
    plan = sheet_plan(manifest, THUMB, None, 3)
    groups, tiles, titles = plan['groups'], plan['tiles'], plan['titles']
    assert [(title, len(records), total) for title, records, total in groups] == [
        ('kept', 2, 2), ('unreadable', 1, 1), ('no face', 1, 1), ('too blurry', 2, 2), ('near duplicate', 1, 1)]
    assert ' '.join(plan['header']) == 'kept 2, unreadable 1, no face 1, too blurry 2, near duplicate 1 - all 7 shown'
    height, width = plan['height'], plan['width']
    assert sheet.shape == (height, width, 3) and sheet.dtype == np.uint8
    assert (height, width, tiles, titles) == sheet_layout(groups, THUMB, 3, header_lines=len(plan['header']))
    assert width == 4 + 3 * (THUMB + 4)
    assert [t for t, _ in titles] == ['kept: 2', 'unreadable: 1', 'no face: 1', 'too blurry: 2', 'near duplicate: 1']
    assert [r['face'] for r, _, _ in tiles] == [0, 2, None, None, 1, 0, 3]  # groups in the summary table's order
    # every group starts a row: the two kept faces side by side, the next group below them
    (_, x0, y0), (_, x1, y1), (_, x2, y2) = tiles[:3]
    assert y0 == y1 and x1 == x0 + THUMB + 4 and x2 == x0 and y2 > y0 + THUMB
    assert height == sheet_layout(groups, THUMB, 3, header_lines=0)[0] + 20 * len(plan['header'])
    for record, x, y in tiles:
        tile = sheet[y:y + THUMB, x:x + THUMB]
        colour = KEPT_COLOUR if record['kept'] else REJECTED_COLOUR
        for point in (tile[THUMB // 2, 0], tile[THUMB // 2, THUMB - 1], tile[0, THUMB // 2], tile[THUMB - 1, 5]):
            assert tuple(int(v) for v in point) == colour
        assert tuple(int(v) for v in tile[THUMB // 2, BORDER]) != colour  # the frame is BORDER pixels wide
    by_face = {(r['source'], r['face']): sheet[y:y + THUMB, x:x + THUMB] for r, x, y in tiles}
    # kept: the aligned face resized
    for (source, index), name in ((('sub/group.png', 0), '00000000.png'), (('sub/group.png', 2), '00000001.png')):
        aligned = cv2.imread(str(out / 'images' / name))
        expected = cv2.resize(aligned, (THUMB, THUMB), interpolation=cv2.INTER_AREA)
        assert np.array_equal(_middle(by_face[(source, index)]), _middle(expected))
    # rejected with a box: the painted box in the middle, the photo around it (the margin)
    blurry = by_face[('sub/group.png', 1)]
    assert np.abs(blurry[THUMB // 2, THUMB // 2].astype(int) - FACE_COLOUR).max() <= 2
    assert np.abs(blurry[THUMB // 2, BORDER + 2].astype(int) - (90, 60, 30)).max() <= 2
    # no face: the whole photo, letterboxed in grey
    empty = by_face[('empty.jpg', None)]
    assert np.abs(empty[THUMB // 2, THUMB // 2].astype(int) - (40, 180, 40)).max() <= 3
    assert np.all(empty[THUMB // 2 - 24:THUMB // 2 + 24, BORDER:THUMB - BORDER] != MISSING_GREY)
    # missing sources: grey tiles, no error
    for key in (('gone.png', None), ('moved.png', 0)):
        assert np.all(_middle(by_face[key]) == MISSING_GREY)
    # the label: the reason with the measure it failed
    assert np.array_equal(by_face[('moved.png', 0)], face_tile(None, THUMB, False, 'too blurry: 12', 'moved.png'))
    assert not np.array_equal(by_face[('moved.png', 0)], face_tile(None, THUMB, False, 'too blurry', 'moved.png'))


def test_labels_are_white_text_on_a_dark_strip(dataset):
    photos, out, manifest = dataset
    sheet = contact_sheet(manifest, str(photos), str(out), thumb=THUMB, columns=3)
    tiles = sheet_plan(manifest, THUMB, None, 3)['tiles']
    record, x, y = next(t for t in tiles if t[0]['source'] == 'gone.png')  # a plain grey tile under its strips
    strip = sheet[y + THUMB - BORDER - 12:y + THUMB - BORDER, x + BORDER:x + THUMB - BORDER].max(axis=2)
    assert strip.max() > 200  # text
    assert np.median(strip) < 0.5 * MISSING_GREY  # on a darkened band
    # a long reason is wrapped on two lines within the tile, not cut by its frame
    record, x, y = next(t for t in tiles if t[0]['face'] == 3)
    rows = sheet[y:y + THUMB, x + BORDER:x + THUMB - BORDER].min(axis=2).max(axis=1)  # white: every channel high
    text_rows = np.flatnonzero(rows[THUMB // 2:] > 200) + THUMB // 2
    assert text_rows.size and np.diff(text_rows).max() > 2  # two separate lines of text


def test_big_sets_show_a_sample_of_every_group():
    faces = [{'source': f'{i}.png', 'face': 0, 'box': BOX, 'kept': True, 'name': f'{i:08d}.png'} for i in range(30)]
    faces += [{'source': f'b{i}.png', 'face': 0, 'box': BOX, 'kept': False, 'reason': 'too blurry'} for i in range(10)]
    faces += [{'source': f'd{i}.png', 'face': 0, 'kept': False, 'reason': 'too dark'} for i in range(5)]
    faces += [{'source': f'n{i}.png', 'face': 0, 'kept': False, 'reason': f'near duplicate of {i % 2:08d}.png'}
              for i in range(5)]
    groups = sheet_groups({'faces': faces}, max_faces=9)
    assert [(t, len(shown), total) for t, shown, total in groups] == [
        ('kept', 3, 30), ('too dark', 2, 5), ('too blurry', 2, 10), ('near duplicate', 2, 5)]
    kept = [r['source'] for r in groups[0][1]]
    assert kept == ['0.png', '10.png', '20.png']  # evenly spaced, first included
    few = sheet_groups({'faces': faces}, max_faces=2)
    assert [len(shown) for _, shown, _ in few] == [1, 1, 0, 0] and [t for _, _, t in few] == [30, 5, 10, 5]
    many = [dict(faces[0], source=f'{i}.png') for i in range(SHEET_LIMIT + 200)]
    assert len(sheet_groups({'faces': many})[0][1]) == SHEET_LIMIT


def test_writing_is_atomic_by_extension_and_never_over_an_input(dataset, monkeypatch):
    photos, out, manifest = dataset
    sources = {p: p.read_bytes() for p in photos.rglob('*') if p.is_file()}
    for name in ('sheet.jpg', 'sheet.png'):
        path = out / name
        path.write_bytes(b'an older sheet')
        assert write_contact_sheet(manifest, str(photos), str(out), str(path), thumb=THUMB, columns=4) == str(path)
        img = cv2.imread(str(path))
        assert img is not None and img.shape == contact_sheet(manifest, str(photos), str(out), THUMB, None, 4).shape
        assert path.read_bytes()[:4] == (b'\x89PNG' if name.endswith('png') else b'\xff\xd8\xff\xe0')
    assert not [n for n in os.listdir(out) if is_temporary_name(n)]
    for bad, message in ((photos / 'sheet.jpg', 'photos folder'), (photos / 'sub' / 'group.png', 'photos folder'),
                         (out / 'images' / 'sheet.png', 'training images folder'), (out / 'sheet.bmp', '.jpg')):
        with pytest.raises(ValueError, match=message):
            write_contact_sheet(manifest, str(photos), str(out), str(bad))
    assert {p: p.read_bytes() for p in photos.rglob('*') if p.is_file()} == sources
    assert sorted(os.listdir(out / 'images')) == ['00000000.png', '00000001.png']

    def broken(*args, **kwargs):
        raise RuntimeError('drawing failed')
    monkeypatch.setattr('gfpgan.data.contact_sheet.contact_sheet', broken)
    before = (out / 'sheet.png').read_bytes()
    with pytest.raises(RuntimeError):
        write_contact_sheet(manifest, str(photos), str(out), str(out / 'sheet.png'))
    assert (out / 'sheet.png').read_bytes() == before
