"""The experiment folder (gfpgan.run): checkpoint names, the resume rules, and where the configuration ends and the
training entry point begins (parsing options joins no process group; the loader's options are declared once)."""
import os

import pytest

from gfpgan import run
from gfpgan.config import cli
from gfpgan.config.schema import SCHEMA
from gfpgan.data.image_dataset import LOADER_KEYS
from gfpgan.data.loader import LOADER_OPTIONS

from test_options import OFFICIAL, error_of, official, workdir, write  # noqa: F401 (workdir: a fixture)


def test_checkpoint_names():
    opt = {'path': {'models': 'm', 'training_states': 's'}}
    assert run.network_label('network_d_left_eye') == 'net_d_left_eye'
    assert run.network_file_name('net_g', 5000) == 'net_g_5000.pth'
    assert run.network_file_name('net_d', -1) == 'net_d_latest.pth'
    assert run.network_file_path(opt, 'net_g', 8) == os.path.join('m', 'net_g_8.pth')
    assert run.training_state_path(opt, 8) == os.path.join('s', '8.state')


def test_resume_rules():
    opt = {
        'network_g': {},
        'network_d': {},
        'network_identity': {},
        'path': {
            'models': 'm',
            'resume_state': 's/8.state',
            'ignore_resume_networks': ['network_identity'],
            'pretrain_network_identity': 'arcface.pth'
        }
    }
    assert run.replaced_on_resume('path.pretrain_network_g', opt)
    assert not run.replaced_on_resume('path.pretrain_network_identity', opt)
    assert not run.replaced_on_resume('network_g.decoder_load_path', opt)
    run.use_resumed_networks(opt, 8)
    path_opt = opt['path']
    assert path_opt['pretrain_network_g'] == os.path.join('m', 'net_g_8.pth') and path_opt['param_key_g'] == 'params'
    assert path_opt['pretrain_network_d'] == os.path.join('m', 'net_d_8.pth')
    assert path_opt['pretrain_network_identity'] == 'arcface.pth'
    assert not run.replaced_on_resume('path.pretrain_network_g', {'path': {}})


def test_parsing_options_joins_no_process_group(workdir, monkeypatch):  # noqa: F811
    monkeypatch.delenv('WORLD_SIZE', raising=False)

    def refuse(*args, **kwargs):
        raise AssertionError('init_dist called by option parsing')

    monkeypatch.setattr('gfpgan.utils.dist.init_dist', refuse)
    opt, args = cli.parse_options(['-opt', OFFICIAL, '--launcher', 'pytorch'], root_path=str(workdir))
    assert args.launcher == 'pytorch' and opt['rank'] == 0 and opt['world_size'] == 1


def test_loader_options_are_declared_once(workdir):  # noqa: F811
    train_fields = SCHEMA.fields['datasets'].fields['train'].fields
    assert set(LOADER_OPTIONS) <= set(train_fields) and set(LOADER_OPTIONS) <= LOADER_KEYS
    assert train_fields['batch_size_per_gpu'].required == 'train' and not LOADER_OPTIONS['batch_size_per_gpu'].required
    assert not SCHEMA.fields['datasets'].fields['val'].fields['batch_size_per_gpu'].required
    message = error_of(write(workdir, official(**{'datasets.train.pin_memory': 'yes'})))
    assert '`datasets.train.pin_memory`' in message and 'true or false' in message


@pytest.mark.parametrize('name', ['load_options', 'SCHEMA', 'parse_options', 'make_exp_dirs', 'registered_types'])
def test_the_former_options_module_keeps_its_names(name):
    import gfpgan.options
    assert getattr(gfpgan.options, name) is not None


def test_gfpgan_train_reads_the_command_line(tmp_path, monkeypatch, capsys):
    from gfpgan.train import main
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr('sys.argv', ['gfpgan-train', '-opt', 'missing.yml'])
    assert main() == 2
    assert "Options file 'missing.yml' does not exist." in capsys.readouterr().err
    pyproject = open(os.path.join(os.path.dirname(OFFICIAL), '..', 'pyproject.toml')).read()
    assert 'gfpgan-train = "gfpgan.train:main"' in pyproject
