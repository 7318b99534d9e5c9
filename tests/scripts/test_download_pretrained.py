"""scripts/download_pretrained.py (gfpgan.utils.pretrained_cli) against a stand-in catalogue served from file://
URLs (no network): the files of a use are fetched and verified, present ones kept, a wrong one refused without
--force, failures summarised."""
import hashlib

import pytest

from gfpgan.utils import pretrained, pretrained_cli


@pytest.fixture
def catalogue(isolated_weights, monkeypatch):
    """Three small 'release files' on a local 'server'; downloads allowed for file:// only in this test."""
    monkeypatch.delenv('GFPGAN_NO_DOWNLOAD')
    server = isolated_weights / 'server'
    server.mkdir()
    entries = {}
    for name, uses, optional in (('GFPGANv1.4.pth', ('inference', 'finetune'),
                                  False), ('GFPGANv1.3.pth', ('inference', ),
                                           False), ('detection_mobilenet0.25_Final.pth', ('inference', ), True),
                                 ('arcface_resnet18.pth', ('training', 'evaluation'), False)):
        data = name.encode() * 100
        (server / name).write_bytes(data)
        digest = None if name.startswith('arcface') else hashlib.sha256(data).hexdigest()
        entries[name] = pretrained.PretrainedFile((server / name).as_uri(), digest, len(data), uses, optional, name)
    monkeypatch.setattr(pretrained, 'PRETRAINED', entries)
    return isolated_weights


def test_fetches_the_files_of_a_use_and_verifies_them(catalogue, capsys):
    dest = catalogue / 'models'
    assert pretrained_cli.main(['inference', '--dest', str(dest), '--no_progress']) == 0
    assert sorted(p.name for p in dest.iterdir()) == ['GFPGANv1.4.pth']  # v1.4 only, optional files left out
    assert (dest / 'GFPGANv1.4.pth').read_bytes() == b'GFPGANv1.4.pth' * 100
    assert pretrained_cli.main(['--version', 'all', '--optional', '--dest', str(dest), '--no_progress']) == 0
    assert 'already there (SHA-256 verified)' in capsys.readouterr().out
    assert {p.name for p in dest.iterdir()} == {'GFPGANv1.4.pth', 'GFPGANv1.3.pth', 'detection_mobilenet0.25_Final.pth'}
    assert pretrained_cli.main(['training', '--dest', str(dest), '--no_progress']) == 0
    out = capsys.readouterr().out
    assert 'no published SHA-256 (this file has ' + hashlib.sha256(b'arcface_resnet18.pth' * 100).hexdigest() in out


def test_a_wrong_file_is_kept_without_force_and_failures_are_summarised(catalogue, capsys):
    dest = catalogue / 'models'
    dest.mkdir()
    (dest / 'GFPGANv1.4.pth').write_bytes(b'my own weights')
    assert pretrained_cli.main(['finetune', '--dest', str(dest), '--no_progress']) == 1
    out = capsys.readouterr().out
    assert 'is not the release file' in out and '--force' in out and 'failed: GFPGANv1.4.pth' in out
    assert (dest / 'GFPGANv1.4.pth').read_bytes() == b'my own weights'
    assert pretrained_cli.main(['finetune', '--dest', str(dest), '--force', '--no_progress']) == 0
    assert (dest / 'GFPGANv1.4.pth').read_bytes() == b'GFPGANv1.4.pth' * 100
    # a release file that changed on the server is refused and nothing partial is left
    (catalogue / 'server' / 'GFPGANv1.3.pth').write_bytes(b'tampered' * 175)
    assert pretrained_cli.main(['--files', 'GFPGANv1.3.pth', '--dest', str(dest), '--no_progress']) == 1
    out = capsys.readouterr().out
    assert 'download from' in out and '0 of 1 file(s)' in out  # --files alone: only that file, not the inference set
    assert sorted(p.name for p in dest.iterdir()) == ['GFPGANv1.4.pth']


def test_list_and_bad_options(catalogue, capsys):
    assert pretrained_cli.main(['--list', '--dest', str(catalogue / 'none')]) == 0
    out = capsys.readouterr().out
    assert '| GFPGANv1.4.pth | inference, finetune |' in out and 'not published' in out and 'missing' in out
    for argv, message in ((['painting'], "Unknown use 'painting'"), (['--files', 'x.pth'], 'not in the pretrained')):
        with pytest.raises(SystemExit) as info:
            pretrained_cli.main(argv)
        assert info.value.code == 2 and message in capsys.readouterr().err
