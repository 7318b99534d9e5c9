"""scripts/create_lmdb.py: a thin command line over create_lmdb, one-sentence errors with exit code 2."""
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from skimage import data as skdata

from gfpgan.data.storage import ImageSource
from gfpgan.errors import run_cli
from scriptload import load_script


def run(argv):
    """The exit code of the script's command line (argparse's refusals included)."""
    try:
        return run_cli(load_script('create_lmdb').main, argv)
    except SystemExit as err:
        return err.code


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, 'scripts', 'create_lmdb.py')


@pytest.fixture
def faces(tmp_path):
    folder = tmp_path / 'faces'
    folder.mkdir()
    face = skdata.astronaut()
    for i in range(3):
        cv2.imwrite(str(folder / f'{i:08d}.png'), np.ascontiguousarray(face[40 * i:40 * i + 32, 200:232, ::-1]))
    return folder


def test_help_runs_as_a_script():
    result = subprocess.run([sys.executable, SCRIPT, '--help'], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert 'meta_info.txt' in result.stdout and '--compress-level' in result.stdout and '--force' in result.stdout


def test_creates_and_replaces_with_force(faces, tmp_path, capsys):
    out = tmp_path / 'faces.lmdb'
    assert load_script('create_lmdb').main([str(faces),
                                            str(out), '--quiet', '--workers', '2', '--compress-level', '3']) == 0
    assert 'Wrote 3 images' in capsys.readouterr().out
    assert (out / 'meta_info.txt').read_text().splitlines()[0] == '00000000.png (32,32,3) 3'
    assert len(ImageSource(out, {'type': 'lmdb'})) == 3

    assert run([str(faces), str(out), '--quiet']) == 2
    assert 'already exists; pass --force' in capsys.readouterr().err
    os.remove(faces / '00000002.png')
    assert load_script('create_lmdb').main([str(faces), str(out), '--quiet', '--force']) == 0
    assert len(ImageSource(out, {'type': 'lmdb'})) == 2


@pytest.mark.parametrize('args, message', [
    (['{tmp}/absent', '{tmp}/x.lmdb'], "'{tmp}/absent' (given as 'the input folder') does not exist."),
    (['{faces}', '{tmp}/x.db'], "must end with '.lmdb'"),
    (['{faces}', '{tmp}/x.lmdb', '--compress-level', '12'], 'invalid choice'),
    (['{faces}', '{tmp}/x.lmdb', '--workers', '0'], '--workers must be at least 1.'),
])
def test_user_mistakes_exit_2_with_one_sentence(faces, tmp_path, capsys, args, message):
    args = [a.format(tmp=tmp_path, faces=faces) for a in args]
    assert run(args) == 2
    stderr = capsys.readouterr().err
    assert message.format(tmp=tmp_path) in stderr and 'Traceback' not in stderr


def test_a_bad_image_is_named_without_a_traceback(faces, tmp_path, capsys):
    (faces / '00000009.png').write_bytes(b'')
    assert run([str(faces), str(tmp_path / 'x.lmdb'), '--quiet']) == 2
    stderr = capsys.readouterr().err
    assert stderr.startswith('error: ')
    assert f"Cannot read image '{faces / '00000009.png'}': it is empty (0 bytes)." in stderr
    assert 'Traceback' not in stderr and not (tmp_path / 'x.lmdb').exists()
