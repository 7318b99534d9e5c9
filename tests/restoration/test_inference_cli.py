"""inference_gfpgan.py's command line on a folder of good and bad files, with a small random restorer and a
stand-in detector in place of the release files (build_restorer is replaced; the rest runs as users run it)."""
import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from gfpgan import GFPGANer
from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.restoration import cli

SIZE = 64


@pytest.fixture
def small_restorer(monkeypatch, centre_face):
    torch.manual_seed(0)
    net = GFPGANv1Clean(out_size=SIZE, num_style_feat=32, channel_multiplier=1, num_mlp=2, narrow=0.25, sft_half=True)

    def build(args, found=None):
        return GFPGANer(
            net=net,
            upscale=args.upscale,
            face_size=SIZE,
            use_parse=False,
            device='cpu',
            det_model=None,
            detector=centre_face,
            batch_size=args.batch_size)

    monkeypatch.setattr(cli, 'build_restorer', build)
    monkeypatch.setattr(cli, 'required_files', lambda args: [])  # the stand-ins need no pretrained file


def test_folder_with_good_and_bad_files(tmp_path, small_restorer, capsys):
    photos = tmp_path / 'photos'
    photos.mkdir()
    photo = cv2.resize(skdata.astronaut()[:, :, ::-1], (96, 96), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(photos / 'a.jpg'), photo)
    cv2.imwrite(str(photos / 'gray.png'), cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(photos / 'rgba.png'), np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]))
    cv2.imwrite(str(photos / 'deep.png'), photo.astype(np.uint16) * 257)
    (photos / 'empty.png').write_bytes(b'')
    (photos / 'notes.png').write_text('not an image')
    before = {p.name: p.read_bytes() for p in photos.iterdir()}
    out = tmp_path / 'out'
    code = cli.main(
        ['-i',
         str(photos), '-o',
         str(out), '-s', '2', '--bg_upsampler', 'none', '--suffix', 'gf', '--no_progress'])
    assert code == 1  # two files failed, the rest went on
    printed = capsys.readouterr()
    assert '4 photo(s), 4 face(s) restored' in printed.out and 'empty.png' in printed.out
    assert 'skipped' in printed.out + printed.err
    assert {p.name: p.read_bytes() for p in photos.iterdir()} == before  # inputs untouched
    restored = {p.name: cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (out / 'restored_imgs').iterdir()}
    assert set(restored) == {'a_gf.jpg', 'gray_gf.png', 'rgba_gf.png', 'deep_gf.png'}
    assert restored['a_gf.jpg'].shape == (192, 192, 3)
    assert restored['gray_gf.png'].shape == (192, 192)
    assert restored['rgba_gf.png'].shape == (192, 192, 4) and (restored['rgba_gf.png'][..., 3] == 200).all()
    assert restored['deep_gf.png'].dtype == np.uint16
    assert sorted(p.name for p in (out / 'restored_faces').iterdir())[0] == 'a_00_gf.png'
    assert cv2.imread(str(out / 'cmp' / 'a_00.png')).shape == (SIZE, 2 * SIZE, 3)
    assert cv2.imread(str(out / 'cropped_faces' / 'a_00.png')).shape == (SIZE, SIZE, 3)


def test_bad_options_are_one_sentence(tmp_path, small_restorer, capsys):
    assert cli.main(['-i', str(tmp_path / 'nothing'), '-o', str(tmp_path / 'o')]) == 2
    assert 'neither an image file nor a folder' in capsys.readouterr().err
    assert cli.main(['-i', str(tmp_path), '-w', '2']) == 2
    assert '-w/--weight must lie in [0, 1]' in capsys.readouterr().err


def test_help_documents_every_flag(capsys):
    with pytest.raises(SystemExit):
        cli.main(['--help'])
    text = capsys.readouterr().out
    for flag in ('-i', '-o', '-v', '-s', '--bg_upsampler', '--bg_tile', '--suffix', '--only_center_face', '--aligned',
                 '--ext', '-w', '--model_path', '--device', '--half', '--bf16', '--batch_size'):
        assert flag in text


def test_a_folder_of_aligned_faces_with_a_local_v14_checkpoint(tmp_path, capsys):
    """The real build path of the command line (no stand-ins): -v 1.4 with --model_path, a checkpoint in the
    release layout (random weights), --aligned faces, no background upsampler."""
    from gfpgan.archs import build_network
    from gfpgan.archs.presets import release_network_options
    torch.manual_seed(0)
    model = tmp_path / 'GFPGANv1.4_random.pth'
    torch.save({'params_ema': build_network(release_network_options('clean')).state_dict()}, model)
    faces = tmp_path / 'faces'
    faces.mkdir()
    face = cv2.resize(skdata.astronaut()[0:300, 100:400, ::-1], (512, 512), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(faces / 'one.png'), face)
    cv2.imwrite(str(faces / 'two.jpg'), face[:, ::-1])
    out = tmp_path / 'out'
    argv = [
        '-i',
        str(faces), '-o',
        str(out), '-v', '1.4', '--model_path',
        str(model), '--aligned', '--bg_upsampler', 'none', '--device', 'cpu', '--batch_size', '2', '--no_progress'
    ]
    assert cli.main(argv) == 0
    assert '2 photo(s), 2 face(s) restored' in capsys.readouterr().out
    for name in ('one_00.png', 'two_00.png'):
        restored = cv2.imread(str(out / 'restored_faces' / name))
        assert restored.shape == (512, 512, 3) and restored.std() > 0
        assert cv2.imread(str(out / 'cmp' / name)).shape == (512, 1024, 3)
    assert not (out / 'restored_imgs').exists()  # aligned inputs are not pasted back


# A RestoreFormer small enough for the command line's real build path at 512 (latent 16x16, attention there).
SMALL_RESTOREFORMER = dict(
    type='RestoreFormer', n_embed=16, embed_dim=8, ch=32, ch_mult=(1, 1, 1, 1, 1, 2), attn_resolutions=(16, ),
    z_channels=16)


@pytest.fixture
def small_restoreformer(tmp_path, monkeypatch):
    """-v RestoreFormer builds this small configuration; its checkpoint in the release layout."""
    from gfpgan.archs import build_network, presets
    monkeypatch.setitem(presets.RELEASE_ARCHS, 'RestoreFormer', SMALL_RESTOREFORMER)
    torch.manual_seed(0)
    model = tmp_path / 'RestoreFormer_small.pth'
    torch.save({'params_ema': build_network(dict(SMALL_RESTOREFORMER)).state_dict()}, model)
    return model


def test_restoreformer_release_on_aligned_faces_never_needs_the_background_file(
        tmp_path, small_restoreformer, monkeypatch, capsys):
    from gfpgan.restoration import background

    def no_upsampler(*args, **kwargs):
        raise AssertionError('--aligned must not build the background upsampler')

    monkeypatch.setattr(background, 'RealESRGANUpsampler', no_upsampler)
    faces = tmp_path / 'faces'
    faces.mkdir()
    face = cv2.resize(skdata.astronaut()[0:300, 100:400, ::-1], (512, 512), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(faces / 'one.png'), face)
    out = tmp_path / 'out'
    argv = ['-i', str(faces), '-o', str(out), '-v', 'RestoreFormer', '--model_path', str(small_restoreformer),
            '--aligned', '--device', 'cpu', '--no_progress']  # default --bg_upsampler realesrgan
    assert cli.main(argv) == 0
    assert '1 photo(s), 1 face(s) restored' in capsys.readouterr().out
    restored = cv2.imread(str(out / 'restored_faces' / 'one_00.png'))
    assert restored.shape == (512, 512, 3) and restored.std() > 0


def test_missing_realesrgan_file_falls_back_to_resizing_with_one_warning(
        isolated_weights, small_restoreformer, capsys):
    args = cli.build_parser().parse_args(
        ['-v', 'RestoreFormer', '--model_path', str(small_restoreformer), '--device', 'cpu'])
    assert args.bg_upsampler is None  # the default: Real-ESRGAN when its file is there
    assert cli._optional_background(args) is None
    err = capsys.readouterr().err
    assert err.count('warning') == 1 and 'RealESRGAN_x2plus.pth' in err and 'plain interpolation' in err
    assert all(name != 'RealESRGAN_x2plus.pth' for name, _ in cli.required_files(args))
    explicit = cli.build_parser().parse_args(['--bg_upsampler', 'realesrgan'])
    assert 'RealESRGAN_x2plus.pth' in [name for name, _ in cli.required_files(explicit)]


@pytest.mark.parametrize('value, want', [('none', 'none'), ('None', 'none'), ('realesrgan', 'realesrgan')])
def test_bg_upsampler_spellings(value, want):
    assert cli.build_parser().parse_args(['--bg_upsampler', value]).bg_upsampler == want


def test_versions_and_extensions(capsys):
    parser = cli.build_parser()
    for version in ('1', '1.2', '1.3', '1.4', 'RestoreFormer'):
        assert parser.parse_args(['-v', version]).version == version
    for ext, want in (('auto', 'auto'), ('png', 'png'), ('jpg', 'jpg'), ('webp', 'webp'), ('.BMP', 'bmp'),
                      ('tiff', 'tiff')):
        assert parser.parse_args(['--ext', ext]).ext == want
    for bad in (['--ext', 'nonsense'], ['-v', '2.0']):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)
    assert 'OpenCV cannot write' in capsys.readouterr().err


@pytest.mark.parametrize('ext', ['webp', 'bmp', 'jpg'])
def test_restored_photo_in_the_chosen_format(tmp_path, small_restorer, ext):
    photos = tmp_path / 'photos'
    photos.mkdir()
    photo = cv2.resize(skdata.astronaut()[:, :, ::-1], (96, 96), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(photos / 'a.png'), photo)
    (photos / 'b.pgx').write_bytes(cv2.imencode('.png', photo)[1].tobytes())  # OpenCV cannot write .pgx: auto gives png
    out = tmp_path / 'out'
    assert cli.main(['-i', str(photos), '-o', str(out), '--bg_upsampler', 'None', '--ext', ext, '--no_progress']) == 0
    restored = cv2.imread(str(out / 'restored_imgs' / f'a.{ext}'))
    assert restored.shape == (192, 192, 3)
    assert cli.main(['-i', str(photos / 'b.pgx'), '-o', str(tmp_path / 'auto'), '--bg_upsampler', 'none',
                     '--no_progress']) == 0
    assert cv2.imread(str(tmp_path / 'auto' / 'restored_imgs' / 'b.png')).shape == (192, 192, 3)


# ---------------------------------------------------------------------------------------------------------------
# Preflight and error reporting: every problem found before anything is built or restored, one `error:` report
# ---------------------------------------------------------------------------------------------------------------
def _photo_folder(root):
    photos = root / 'photos'
    photos.mkdir()
    cv2.imwrite(str(photos / 'a.png'), cv2.resize(skdata.astronaut()[:, :, ::-1], (96, 96)))
    return photos


def _report_lines(err):
    """The `error:` line and its indented problem lines; nothing else (no traceback)."""
    lines = err.strip().splitlines()
    assert lines[0].startswith('error: ') and 'Traceback' not in err, err
    assert all(line.startswith('  - ') for line in lines[1:]), err
    return lines


def test_every_missing_file_is_listed_at_once_with_one_download_command(isolated_weights, monkeypatch, capsys):
    from gfpgan.restoration import gfpganer

    def never(*args, **kwargs):
        raise AssertionError('nothing may be built before the preflight passed')

    monkeypatch.setattr(gfpganer, 'GFPGANer', never)
    photos = _photo_folder(isolated_weights)
    (isolated_weights / 'experiments' / 'pretrained_models').mkdir(parents=True)
    (isolated_weights / 'experiments' / 'pretrained_models' / 'detection_Resnet50_Final.pth').write_bytes(b'junk')
    out = isolated_weights / 'out'
    assert cli.main(['-i', str(photos), '-o', str(out), '--bg_upsampler', 'realesrgan', '-s', '0']) == 2
    lines = _report_lines(capsys.readouterr().err)
    text = '\n'.join(lines)
    assert len(lines) == 4 and '3 problems' in lines[0]
    assert '-s/--upscale must be at least 1' in text
    assert 'detection_Resnet50_Final.pth' in text and 'expected SHA-256' in text  # a damaged detector file
    assert text.count('download_pretrained.py --files') == 1
    assert 'download_pretrained.py --files GFPGANv1.3.pth parsing_parsenet.pth RealESRGAN_x2plus.pth' in text
    assert not out.exists()


def test_an_unwritable_output_folder_is_found_before_restoring(tmp_path, small_restorer, monkeypatch, capsys):
    def never(*args, **kwargs):
        raise AssertionError('the restorer must not be built')

    monkeypatch.setattr(cli, 'build_restorer', never)
    photos = _photo_folder(tmp_path)
    (tmp_path / 'plain_file').write_text('x')  # a folder inside a file can never be made (root or not)
    out = tmp_path / 'plain_file' / 'out'
    assert cli.main(['-i', str(photos), '-o', str(out), '--no_progress']) == 2
    lines = _report_lines(capsys.readouterr().err)
    assert len(lines) == 1 and 'cannot write to' in lines[0] and 'is a file, not a folder' in lines[0]


def test_a_damaged_yunet_file_is_reported_by_the_preflight(isolated_weights, capsys):
    photos = _photo_folder(isolated_weights)
    garbage = isolated_weights / 'yunet.onnx'
    garbage.write_bytes(b'this is no ONNX model')
    model = isolated_weights / 'model.pth'
    model.write_bytes(b'found, not loaded: the preflight only looks files up')
    out = isolated_weights / 'out'
    argv = ['-i', str(photos), '-o', str(out), '--model_path', str(model), '--det_model', 'yunet', '--yunet_model',
            str(garbage), '--bg_upsampler', 'none']
    assert cli.main(argv) == 2
    lines = _report_lines(capsys.readouterr().err)
    text = '\n'.join(lines)
    assert "'" + str(garbage) + "' is not a YuNet ONNX model OpenCV can load" in text
    assert 'parsing_parsenet.pth' in text and not out.exists()


def test_debug_flag_and_environment_show_the_traceback(tmp_path, small_restorer, monkeypatch, capsys):
    argv = ['-i', str(tmp_path / 'nothing'), '-o', str(tmp_path / 'o')]
    assert cli.main(argv + ['--debug']) == 2
    err = capsys.readouterr().err
    assert 'Traceback' in err and 'PreflightError' in err and err.strip().splitlines()[-1].startswith('error: ')
    monkeypatch.setenv('GFPGAN_DEBUG', '1')
    assert cli.main(argv) == 2
    assert 'Traceback' in capsys.readouterr().err


def test_a_full_disk_stops_the_run_naming_the_file(tmp_path, small_restorer, monkeypatch, capsys):
    import errno

    from gfpgan.utils import img_util

    def full(img, path, *args, **kwargs):
        raise OSError(errno.ENOSPC, 'No space left on device')  # as a failed write() of an open file: no name

    monkeypatch.setattr(img_util, 'imwrite', full)
    photos = _photo_folder(tmp_path)
    cv2.imwrite(str(photos / 'b.png'), cv2.resize(skdata.astronaut()[:, :, ::-1], (96, 96)))
    out = tmp_path / 'out'
    assert cli.main(['-i', str(photos), '-o', str(out), '--bg_upsampler', 'none', '--no_progress']) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == (f"error: Cannot use '{out / 'cropped_faces' / 'a_00.png'}': no space "
                                            'left on the device: free some space or write somewhere else.')
    assert 'b.png' not in err  # stopped at the first photo, not every photo failing alike


def test_the_script_itself_reports_one_line(tmp_path):
    import os
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, GFPGAN_NO_DOWNLOAD='1', PYTHONPATH=root)
    env.pop('GFPGAN_DEBUG', None)
    result = subprocess.run([sys.executable, os.path.join(root, 'inference_gfpgan.py'), '-i',
                             str(tmp_path / 'nothing'), '-o', str(tmp_path / 'out'), '-w', '5'],
                            capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = _report_lines(result.stderr)
    assert "'" + str(tmp_path / 'nothing') + "' is neither an image file nor a folder" in result.stderr
    assert '-w/--weight must lie in [0, 1]' in result.stderr and len(lines) >= 3
    assert not (tmp_path / 'out').exists()


def test_a_damaged_model_file_is_one_sentence(tmp_path, small_restoreformer, capsys):
    faces = _photo_folder(tmp_path)
    junk = tmp_path / 'junk.pth'
    junk.write_bytes(b'junk\n')  # torch's unpickler stumbles on it with a KeyError
    out = tmp_path / 'out'
    argv = ['-i', str(faces), '-o', str(out), '-v', 'RestoreFormer', '--model_path', str(junk), '--aligned',
            '--device', 'cpu', '--no_progress']
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: Cannot read checkpoint '{junk}'") and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_release_files_are_downloaded_once_everything_else_is_fine(isolated_weights, monkeypatch, capsys):
    """As the original, release files are fetched when missing (unless GFPGAN_NO_DOWNLOAD): after the other checks
    passed and before anything is built; nothing is fetched for a run that cannot start."""
    import os

    from gfpgan.utils import weights
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD')
    fetched = []

    def download(url, dst, sha256=None, progress=True, size=None):
        fetched.append(os.path.basename(dst))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, 'wb') as f:
            f.write(b'stand-in')
        return dst

    monkeypatch.setattr(weights, 'download_file', download)
    photos = _photo_folder(isolated_weights)
    (isolated_weights / 'a_file').write_text('x')
    assert cli.main(['-i', str(photos), '-o', str(isolated_weights / 'a_file' / 'out')]) == 2
    assert fetched == [] and 'cannot write to' in capsys.readouterr().err
    args = cli.build_parser().parse_args(['-i', str(photos), '-o', str(isolated_weights / 'out'), '--no_progress'])
    paths, found = cli.check_run(args)
    assert fetched == ['GFPGANv1.3.pth', 'detection_Resnet50_Final.pth', 'parsing_parsenet.pth']
    assert all(os.path.isfile(path) for path in found.values()) and paths == [str(photos / 'a.png')]
