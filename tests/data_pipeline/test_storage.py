"""Image storage: deterministic folder scans, BasicSR's LMDB layout (meta_info.txt, stem keys, PNG values)
written and read, fork-safe LMDB reading, clear errors for every misconfiguration."""
import os
import pickle
import re
import shutil

import cv2
import lmdb
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan.data import lmdb_util
from gfpgan.data.lmdb_util import create_lmdb
from gfpgan.data.storage import (IMAGE_EXTENSIONS, DiskBackend, ImageSource, LmdbBackend, read_meta_info, scan_images)
from gfpgan.utils import ImageReadError, decode_image


def _touch(folder, *names):
    for name in names:
        path = os.path.join(folder, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        open(path, 'wb').close()


def test_scan_is_sorted_and_keeps_only_images(tmp_path):
    _touch(tmp_path, 'b.png', 'a.JPG', '10.png', '9.webp', 'c.txt', '.hidden.png', 'x.TIFF', 'y.bmp', 'z.jpeg',
           'sub/d.png', 'sub/deeper/e.tif', '.git/f.png', 'meta.pth')
    names = [os.path.relpath(p, tmp_path) for p in scan_images(tmp_path)]
    assert names == ['10.png', '9.webp', 'a.JPG', 'b.png', 'x.TIFF', 'y.bmp', 'z.jpeg']
    names = [os.path.relpath(p, tmp_path) for p in scan_images(str(tmp_path), recursive=True)]
    assert names == ['10.png', '9.webp', 'a.JPG', 'b.png', 'sub/d.png', 'sub/deeper/e.tif', 'x.TIFF', 'y.bmp', 'z.jpeg']
    assert all(p.startswith(str(tmp_path)) for p in scan_images(tmp_path))
    assert set(IMAGE_EXTENSIONS) == {'.png', '.jpg', '.jpeg', '.webp', '.bmp', '.tif', '.tiff'}


def test_scan_errors_name_folder_and_option(tmp_path):
    missing = tmp_path / 'ffhq_512'
    with pytest.raises(FileNotFoundError, match=re.escape(f"'{missing}' (given as 'dataroot_gt') does not exist")):
        scan_images(missing, option='dataroot_gt')
    missing.mkdir()
    _touch(missing, 'notes.txt', 'part1/a.png')
    with pytest.raises(FileNotFoundError, match=r'holds no images \(.png, .jpg.*1 subfolder\(s\) are not searched'):
        scan_images(missing, option='dataroot_gt')
    assert len(scan_images(missing, recursive=True)) == 1
    with pytest.raises(NotADirectoryError, match='is a file'):
        scan_images(missing / 'notes.txt')


def _faces(n=3, size=(24, 20)):
    """n different (h, w, 3) uint8 RGB face crops."""
    face = skdata.astronaut()
    return [np.ascontiguousarray(face[30 * i:30 * i + size[0], 180:180 + size[1]]) for i in range(n)]


def _write(path, img, params=()):
    assert cv2.imwrite(str(path), img, list(params))


def _raw_basicsr_lmdb(path, images):
    """An LMDB made with plain `lmdb` calls in BasicSR's layout, as existing FFHQ databases are."""
    env = lmdb.open(str(path), map_size=1 << 24)
    with env.begin(write=True) as txn, open(os.path.join(path, 'meta_info.txt'), 'w') as meta:
        for key, img in images.items():
            txn.put(key.encode('ascii'), cv2.imencode('.png', img, [cv2.IMWRITE_PNG_COMPRESSION, 1])[1])
            meta.write(f'{key}.png ({img.shape[0]},{img.shape[1]},{img.shape[2]}) 1\n')
    env.close()


def test_a_basicsr_lmdb_loads_unchanged(tmp_path):
    faces = _faces()
    images = {'00000002': faces[0][..., ::-1], '00000000': faces[1][..., ::-1], '00000001': faces[2][..., ::-1]}
    _raw_basicsr_lmdb(tmp_path / 'ffhq.lmdb', images)
    opt = {'type': 'lmdb'}
    source = ImageSource(tmp_path / 'ffhq.lmdb', opt)
    assert opt == {'type': 'lmdb'}  # the caller's options are not touched
    assert source.keys == ['00000002', '00000000', '00000001'] and len(source) == 3  # meta_info order
    np.testing.assert_array_equal(source.read('00000000'), faces[1] / np.float32(255))
    assert decode_image(source.read_bytes('00000001')).shape == (24, 20, 3)
    assert source.stem('00000001') == '00000001'
    assert read_meta_info(tmp_path / 'ffhq.lmdb')[0] == ('00000002', (24, 20, 3), 1)
    with pytest.raises(KeyError, match=re.escape("'00000009' is not in the LMDB database '") + '.*ffhq.lmdb'):
        source.read('00000009')
    # BasicSR's datasets add these two entries to the io_backend options themselves
    assert ImageSource(tmp_path / 'ffhq.lmdb', {'type': 'lmdb', 'db_paths': 'x', 'client_keys': ['gt']}).keys


def test_meta_info_parsing(tmp_path):
    root = tmp_path / 'hand.lmdb'
    lmdb.open(str(root), map_size=1 << 20).close()
    (root / 'meta_info.txt').write_text('00000000.png (512,512,3) 1\n'
                                        '\n'
                                        '00000001.png\n'
                                        'face.v2.png (4, 5,1) 9\n'
                                        'a (1).png (2,2,3) 0\n'
                                        'with space.png  \n'
                                        '00000002 (8,8,3)\n')
    assert read_meta_info(root) == [('00000000', (512, 512, 3), 1), ('00000001', None, None), ('face.v2', (4, 5, 1), 9),
                                    ('a (1)', (2, 2, 3), 0), ('with space', None, None), ('00000002', (8, 8, 3), None)]
    (root / 'meta_info.txt').write_text('a.png (1,1,3) 1\nb.png\na.jpg\n')
    with pytest.raises(ValueError, match=r"lists the key 'a' twice \(lines 1 and 3\)"):
        read_meta_info(root)
    (root / 'meta_info.txt').write_text('\n\n')
    with pytest.raises(ValueError, match='lists no images'):
        read_meta_info(root)


def test_lmdb_errors_say_how_to_create_one(tmp_path):
    with pytest.raises(
            FileNotFoundError,
            match=r"'.*missing.lmdb' \(given as 'dataroot_gt'\) does not exist.*"
            r'scripts/create_lmdb.py'):
        ImageSource(tmp_path / 'missing.lmdb', {'type': 'lmdb'})
    folder = tmp_path / 'ffhq_512'
    folder.mkdir()
    _write(folder / 'a.png', _faces(1)[0])
    with pytest.raises(
            FileNotFoundError,
            match='is not an LMDB database, it has no data.mdb .*io_backend type disk.*'
            'scripts/create_lmdb.py'):
        ImageSource(folder, {'type': 'lmdb'})
    root = tmp_path / 'nometa.lmdb'
    lmdb.open(str(root), map_size=1 << 20).close()
    with pytest.raises(FileNotFoundError, match='has no meta_info.txt.*scripts/create_lmdb.py'):
        read_meta_info(root)
    with pytest.raises(FileNotFoundError, match='it is an LMDB database: set io_backend type to lmdb'):
        ImageSource(root, {'type': 'disk'})


def test_io_backend_options_are_checked(tmp_path):
    _write(tmp_path / 'a.png', _faces(1)[0])
    with pytest.raises(ValueError, match=r"Unknown io_backend type 'memcached'.*known types: disk, lmdb"):
        ImageSource(tmp_path, {'type': 'memcached'})
    with pytest.raises(ValueError, match='takes no options, got readahead'):
        ImageSource(tmp_path, {'type': 'disk', 'readahead': True})
    assert ImageSource(tmp_path).keys == [str(tmp_path / 'a.png')]  # disk by default
    _raw_basicsr_lmdb(tmp_path / 'x.lmdb', {'a': _faces(1)[0]})
    with pytest.raises(ValueError, match='Unknown LMDB option.*map_sise'):
        ImageSource(tmp_path / 'x.lmdb', {'type': 'lmdb', 'map_sise': 1})
    assert len(ImageSource(tmp_path / 'x.lmdb', {'type': 'lmdb', 'readahead': True})) == 1


def test_disk_source_reads_and_names_bad_files(tmp_path):
    face = _faces(1)[0]
    _write(tmp_path / '00000001.png', face[..., ::-1])
    (tmp_path / '00000002.png').write_bytes(cv2.imencode('.png', face)[1].tobytes()[:100])
    source = ImageSource(str(tmp_path), {'type': 'disk'}, option='dataroot_gt')
    assert source.keys == [str(tmp_path / '00000001.png'), str(tmp_path / '00000002.png')]
    assert source.stem(source.keys[0]) == '00000001' and 'disk, 2 images' in repr(source)
    np.testing.assert_array_equal(source.read(source.keys[0]), face / np.float32(255))
    with pytest.raises(ImageReadError, match=re.escape(f"'{tmp_path / '00000002.png'}'") + '.*truncated PNG'):
        source.read(source.keys[1])
    os.remove(source.keys[0])
    with pytest.raises(ImageReadError, match='00000001.png.*No such file'):
        source.read(source.keys[0])
    assert DiskBackend().get(source.keys[1]) == (tmp_path / '00000002.png').read_bytes()


@pytest.fixture
def mixed_folder(tmp_path):
    """A folder of every supported format, depth and channel layout, and the RGB float image of each."""
    folder = tmp_path / 'faces'
    folder.mkdir()
    faces = _faces(7)
    rng = np.random.default_rng(0)
    deep = rng.integers(0, 65536, (6, 5, 3), dtype=np.uint16)
    _write(folder / 'a_png.png', faces[0][..., ::-1])
    _write(folder / 'b_jpg.jpg', faces[1][..., ::-1])
    _write(folder / 'c_webp.webp', faces[2][..., ::-1], (cv2.IMWRITE_WEBP_QUALITY, 90))
    _write(folder / 'd_bmp.BMP', faces[3][..., ::-1])
    _write(folder / 'e_gray.png', faces[4][..., 0])
    _write(folder / 'f_deep.png', deep)
    _write(folder / 'g_rgba.png', np.dstack([faces[6][..., ::-1], np.full(faces[6].shape[:2], 9, np.uint8)]))
    _write(folder / 'h_tif.tif', faces[5][..., ::-1])
    (folder / 'notes.txt').write_text('not an image')
    return folder


def test_create_lmdb_round_trip(mixed_folder, tmp_path):
    out = tmp_path / 'faces.lmdb'
    summary = create_lmdb(mixed_folder, out, num_workers=3, batch=3, progress=False)
    assert summary['num_images'] == 8 and summary['path'] == str(out) and summary['data_bytes'] > 0
    assert sorted(os.listdir(out)) == ['data.mdb', 'lock.mdb', 'meta_info.txt']
    assert sorted(os.listdir(tmp_path)) == ['faces', 'faces.lmdb']  # no temporary folder left
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out).st_mode & 0o777 == 0o777 & ~umask  # readable by others as the umask allows
    lines = (out / 'meta_info.txt').read_text().splitlines()
    assert lines == [
        'a_png.png (24,20,3) 1', 'b_jpg.png (24,20,3) 1', 'c_webp.png (24,20,3) 1', 'd_bmp.png (24,20,3) 1',
        'e_gray.png (24,20,1) 1', 'f_deep.png (6,5,3) 1', 'g_rgba.png (24,20,3) 1', 'h_tif.png (24,20,3) 1'
    ]
    disk, packed = ImageSource(mixed_folder, {'type': 'disk'}), ImageSource(out, {'type': 'lmdb'})
    assert [disk.stem(k) for k in disk.keys] == packed.keys
    for path, key in zip(disk.keys, packed.keys):
        assert packed.read_bytes(key)[:8] == b'\x89PNG\r\n\x1a\n'
        np.testing.assert_array_equal(packed.read(key), disk.read(path), err_msg=key)
    assert packed.read('f_deep').dtype == np.float32 and packed.read('f_deep').max() > 0.9  # 16 bits kept
    packed.backend.close()  # LMDB allows one open environment per database and process
    env = lmdb.open(str(out), readonly=True, lock=False)  # plain lmdb reads it too, as BasicSR does
    with env.begin() as txn:
        img = cv2.imdecode(np.frombuffer(txn.get(b'e_gray'), np.uint8), cv2.IMREAD_UNCHANGED)
    env.close()
    assert img.shape == (24, 20)


def test_create_lmdb_grows_the_map_when_needed(tmp_path, monkeypatch):
    folder = tmp_path / 'noise'
    folder.mkdir()
    rng = np.random.default_rng(0)
    noise = [rng.integers(0, 256, (64, 64, 3), dtype=np.uint8) for _ in range(12)]  # incompressible
    for i, img in enumerate(noise):
        _write(folder / f'{i:02d}.png', img)
    monkeypatch.setattr(lmdb_util, '_MAP_SIZE_FACTOR', 0)
    monkeypatch.setattr(lmdb_util, '_MIN_MAP_SIZE', 64 << 10)
    create_lmdb(folder, tmp_path / 'noise.lmdb', compress_level=0, progress=False)
    source = ImageSource(tmp_path / 'noise.lmdb', {'type': 'lmdb'})
    np.testing.assert_array_equal(source.read('11'), noise[11][..., ::-1] / np.float32(255))


def test_create_lmdb_never_leaves_a_partial_database(mixed_folder, tmp_path, monkeypatch):
    out = tmp_path / 'faces.lmdb'
    out.mkdir()
    (out / 'keep').touch()
    with pytest.raises(FileExistsError, match=re.escape(f"'{out}' already exists; pass --force (overwrite=True)")):
        create_lmdb(mixed_folder, out, progress=False)
    assert os.listdir(out) == ['keep']  # refused: untouched
    create_lmdb(mixed_folder, out, overwrite=True, progress=False)
    assert len(ImageSource(out, {'type': 'lmdb'})) == 8
    before = (out / 'data.mdb').read_bytes()

    encode = lmdb_util.encode_png
    calls = []

    def failing(path, level):
        calls.append(path)
        if len(calls) == 5:
            raise KeyboardInterrupt  # interrupted half way
        return encode(path, level)

    monkeypatch.setattr(lmdb_util, 'encode_png', failing)
    with pytest.raises(KeyboardInterrupt):
        create_lmdb(mixed_folder, out, overwrite=True, num_workers=1, progress=False)
    calls.clear()
    with pytest.raises(KeyboardInterrupt):
        create_lmdb(mixed_folder, tmp_path / 'new.lmdb', num_workers=1, progress=False)
    monkeypatch.undo()
    assert (out / 'data.mdb').read_bytes() == before  # the old database is intact
    assert sorted(os.listdir(tmp_path)) == ['faces', 'faces.lmdb']  # no partial or temporary folder


def test_create_lmdb_input_errors(mixed_folder, tmp_path):
    _write(mixed_folder / 'a_png.jpg', _faces(1)[0])
    with pytest.raises(ValueError, match="a_png.jpg and a_png.png in '.*faces' would share the LMDB key 'a_png'"):
        create_lmdb(mixed_folder, tmp_path / 'x.lmdb', progress=False)
    os.remove(mixed_folder / 'a_png.jpg')
    (mixed_folder / 'z_cut.png').write_bytes((mixed_folder / 'a_png.png').read_bytes()[:-30])
    with pytest.raises(ImageReadError, match=re.escape(f"'{mixed_folder / 'z_cut.png'}'") + '.*truncated PNG'):
        create_lmdb(mixed_folder, tmp_path / 'x.lmdb', progress=False)
    assert not (tmp_path / 'x.lmdb').exists()
    with pytest.raises(ValueError, match="must end with '.lmdb'"):
        create_lmdb(mixed_folder, tmp_path / 'x.db', progress=False)
    with pytest.raises(ValueError, match='from 0 to 9'):
        create_lmdb(mixed_folder, tmp_path / 'x.lmdb', compress_level=10, progress=False)
    with pytest.raises(FileNotFoundError, match="'.*absent' \\(given as 'the input folder'\\) does not exist"):
        create_lmdb(tmp_path / 'absent', tmp_path / 'x.lmdb', progress=False)


class _Reads(torch.utils.data.Dataset):

    def __init__(self, source):
        self.source = source

    def __len__(self):
        return len(self.source)

    def __getitem__(self, index):
        return torch.from_numpy(self.source.read(self.source.keys[index]))


def test_lmdb_source_survives_fork_and_pickle(tmp_path):
    faces = _faces(4)
    _raw_basicsr_lmdb(tmp_path / 'f.lmdb', {f'{i}': face[..., ::-1] for i, face in enumerate(faces)})
    source = ImageSource(tmp_path / 'f.lmdb', {'type': 'lmdb'})
    expected = torch.stack([torch.from_numpy(face / np.float32(255)) for face in faces])
    assert torch.equal(_Reads(source)[0], expected[0])  # the environment is now open in this process
    loader = torch.utils.data.DataLoader(
        _Reads(source), batch_size=1, num_workers=2, multiprocessing_context='fork', persistent_workers=False)
    assert torch.equal(torch.cat(list(loader)), expected)
    assert torch.equal(_Reads(source)[1], expected[1])  # the parent's handle still works
    copy = pickle.loads(pickle.dumps(source))  # what workers started by spawn receive
    assert torch.equal(_Reads(copy)[3], expected[3])  # a second source on the same database, same process
    backend = LmdbBackend(tmp_path / 'f.lmdb')
    assert decode_image(backend.get('2')).shape == (24, 20, 3)
    backend.close()
    assert backend.get('1') and torch.equal(_Reads(source)[2], expected[2])  # both reopen


def test_lmdb_replaced_at_the_same_path_is_read_afresh(tmp_path):
    faces = _faces(2)
    _raw_basicsr_lmdb(tmp_path / 'f.lmdb', {'a': faces[0][..., ::-1]})
    old = ImageSource(tmp_path / 'f.lmdb', {'type': 'lmdb'})
    old.read('a')
    shutil.rmtree(tmp_path / 'f.lmdb')
    _raw_basicsr_lmdb(tmp_path / 'f.lmdb', {'a': faces[1][..., ::-1]})
    np.testing.assert_array_equal(
        ImageSource(tmp_path / 'f.lmdb', {
            'type': 'lmdb'
        }).read('a'), faces[1] / np.float32(255))
