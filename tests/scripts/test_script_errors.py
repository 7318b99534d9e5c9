"""What every command line of scripts/ shares: --debug in its help, and an output it cannot write found before
the work (calculate_fid_stats.py, make_demo_faces.py, download_pretrained.py), exit code 2 and no traceback."""
import pytest
from scriptload import load_script

from gfpgan.errors import run_cli

SCRIPTS = ('benchmark', 'calculate_fid_stats', 'convert_gfpganv1_to_clean', 'create_lmdb', 'demo',
           'download_pretrained', 'evaluate', 'export_onnx', 'extract_components', 'make_demo_faces', 'make_test_set',
           'prepare_dataset', 'test_gfpgan')


@pytest.mark.parametrize('name', SCRIPTS)
def test_help_offers_debug(name, capsys):
    with pytest.raises(SystemExit) as exit_info:
        load_script(name).main(['--help'])
    assert exit_info.value.code == 0
    assert '--debug' in capsys.readouterr().out


def _code(name, argv):
    try:
        return run_cli(load_script(name).main, [str(a) for a in argv])
    except SystemExit as err:  # argparse's refusal: its usage line and one `error:` sentence
        return err.code


@pytest.mark.parametrize('name, argv', [
    ('calculate_fid_stats', ['{tmp}/faces', '{tmp}/a_file/stats.pth', '--device', 'cpu']),
    ('make_demo_faces', ['--out', '{tmp}/a_file/faces', '--no-download', '--cache', '{tmp}/cache']),
    ('download_pretrained', ['--files', 'GFPGANv1.4.pth', '--dest', '{tmp}/a_file/weights', '--no_progress']),
])
def test_an_unwritable_output_is_found_first(name, argv, tmp_path, capsys):
    (tmp_path / 'faces').mkdir()
    (tmp_path / 'a_file').write_text('x')
    assert _code(name, [a.format(tmp=tmp_path) for a in argv]) == 2
    err = capsys.readouterr().err
    assert 'cannot write' in err and "is a file, not a folder" in err and 'Traceback' not in err
    assert not (tmp_path / 'cache').exists()
