"""Options: the official YAML loads; unknown keys, wrong types and missing files are one error naming the key and
the file; --force_yml, the launcher flags, num_gpu auto, debug mode and the experiment folders."""
import os
import re

import pytest
import torch
import yaml

from gfpgan.config import schema as schema_module
from gfpgan.config.cli import parse_args, parse_options
from gfpgan.config.loading import apply_overrides, read_yaml
from gfpgan.config.printing import dict2str
from gfpgan.config.schema import extend_schema
from gfpgan.config.spec import OptionsError, Value
from gfpgan.config.validation import load_options, validate_options
from gfpgan.run import latest_training_state, make_exp_dirs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFICIAL = os.path.join(ROOT, 'options', 'train_gfpgan_v1.yml')
PRETRAINED = 'experiments/pretrained_models'
# what options/train_gfpgan_v1.yml names, relative to the working directory
OFFICIAL_FILES = {
    'datasets.train.dataroot_gt': 'datasets/ffhq/ffhq_512/',
    'datasets.train.component_path': f'{PRETRAINED}/FFHQ_eye_mouth_landmarks_512.pth',
    'datasets.val.dataroot_lq': 'datasets/faces/validation/input/',
    'datasets.val.dataroot_gt': 'datasets/faces/validation/reference/',
    'network_g.decoder_load_path': f'{PRETRAINED}/StyleGAN2_512_Cmul1_FFHQ_B12G4_scratch_800k.pth',
    'path.pretrain_network_identity': f'{PRETRAINED}/arcface_resnet18.pth',
}


# found by the perceptual loss through resolve_weights' search folders, not named by an option
VGG19 = 'vgg19-dcbb9e9d.pth'


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """An empty working directory holding stubs of every file and folder the official options name (and of the
    VGG19 weights, whose catalogue digest the stub is exempted from)."""
    from gfpgan.utils.pretrained import PRETRAINED as CATALOGUE
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(CATALOGUE, VGG19, CATALOGUE[VGG19]._replace(sha256=None, size=None))
    for path in [*OFFICIAL_FILES.values(), f'{PRETRAINED}/{VGG19}']:
        if path.endswith('/'):
            os.makedirs(path)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, 'wb').close()
    return tmp_path


def official(**changes):
    """The official options as a dict, with dotted-key `changes` (None removes the key)."""
    opt = read_yaml(OFFICIAL)
    for key, value in changes.items():
        *parents, name = key.split('.')
        node = opt
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(name)
        else:
            node[name] = value
    return opt


def write(tmp_path, opt, name='opts.yml'):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(opt, sort_keys=False))
    return str(path)


def problems_of(*args, **kwargs):
    """The OptionsError listing several problems: a header line, then one indented line each."""
    with pytest.raises(OptionsError) as info:
        load_options(*args, **kwargs)
    lines = str(info.value).splitlines()
    assert len(lines) > 2 and lines[0].endswith('nothing was started:') and len(info.value.problems) == len(lines) - 1
    assert all(line.startswith('  - ') for line in lines[1:]), lines
    return info.value


def error_of(*args, **kwargs):
    with pytest.raises(OptionsError) as info:
        load_options(*args, **kwargs)
    message = str(info.value)
    assert '\n' not in message and message.endswith(('.', '?)')), message
    return message


def test_official_options_load(workdir):
    opt = load_options(OFFICIAL, root_path=str(workdir))
    assert opt['name'] == 'train_GFPGANv1_512' and opt['model_type'] == 'GFPGANModel'
    assert (opt['is_train'], opt['dist'], opt['rank'], opt['world_size']) == (True, False, 0, 1)
    assert opt['num_gpu'] == 4 and opt['manual_seed'] == 0 and opt['find_unused_parameters'] is True
    # !!float 5e3 read as the integer it means
    assert opt['val']['val_freq'] == 5000 and type(opt['val']['val_freq']) is int
    assert opt['logger']['save_checkpoint_freq'] == 5000 and opt['logger']['use_tb_logger'] is True
    assert opt['train']['optim_g'] == {'type': 'Adam', 'lr': 2e-3}
    assert opt['train']['perceptual_opt']['layer_weights']['conv5_4'] == 1
    assert list(opt['train'])[:3] == ['optim_g', 'optim_d', 'optim_component']  # file order kept
    assert opt['datasets']['train']['phase'] == 'train' and opt['datasets']['val']['phase'] == 'val'
    root = os.path.join(str(workdir), 'experiments', 'train_GFPGANv1_512')
    assert opt['path']['experiments_root'] == root and opt['path']['log'] == root
    assert opt['path']['models'] == os.path.join(root, 'models')
    assert opt['path']['training_states'] == os.path.join(root, 'training_states')
    assert opt['path']['visualization'] == os.path.join(root, 'visualization')
    assert opt['path']['tb_logger'] == os.path.join(str(workdir), 'tb_logger', 'train_GFPGANv1_512')
    assert opt['path']['resume_state'] is None and opt['opt_path'] == OFFICIAL and opt['force_yml'] == []
    assert not os.path.exists(root)  # loading creates nothing


@pytest.mark.parametrize('key', sorted(OFFICIAL_FILES))
def test_a_missing_file_is_one_error_naming_key_and_file(workdir, key):
    path = OFFICIAL_FILES[key]
    os.rmdir(path) if path.endswith('/') else os.remove(path)
    message = error_of(OFFICIAL)
    assert f'`{key}`' in message and OFFICIAL in message, message
    if path.startswith(PRETRAINED):  # a release file: the command that fetches it
        name = os.path.basename(path)
        assert f'missing: {name}' in message and f'`python scripts/download_pretrained.py --files {name}`' in message
    else:
        assert f"names '{path.rstrip('/')}', which does not exist" in message


def test_a_missing_pretrained_file_found_elsewhere_is_used(workdir, monkeypatch):
    cache = workdir / 'cache'
    cache.mkdir()
    os.replace(OFFICIAL_FILES['path.pretrain_network_identity'], cache / 'arcface_resnet18.pth')
    monkeypatch.setattr('gfpgan.utils.weights.default_search_dirs', lambda: [PRETRAINED, str(cache)])
    opt = load_options(OFFICIAL)
    assert opt['path']['pretrain_network_identity'] == str(cache / 'arcface_resnet18.pth')


def test_every_missing_file_is_listed_at_once_with_one_download_command(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr('gfpgan.utils.weights.default_search_dirs', lambda: [str(tmp_path / 'none')])
    message = str(problems_of(OFFICIAL))
    lines = message.splitlines()
    assert lines[0] == f'4 problems in {OFFICIAL}; nothing was started:', message
    for key in ('datasets.train.dataroot_gt', 'datasets.val.dataroot_lq', 'datasets.val.dataroot_gt'):
        assert sum(f'`{key}`' in line for line in lines) == 1, message
    names = [os.path.basename(p) for p in OFFICIAL_FILES.values() if p.startswith(PRETRAINED)] + [VGG19]
    assert f"python scripts/download_pretrained.py --files {' '.join(sorted(names, key=message.index))}`" in message
    assert not os.listdir(tmp_path)  # nothing created


def test_component_path_is_checked_only_with_crop_components(workdir):
    os.remove(OFFICIAL_FILES['datasets.train.component_path'])
    opt = load_options(OFFICIAL, overrides=['datasets:train:crop_components=false'])
    assert opt['datasets']['train']['crop_components'] is False


def test_resuming_does_not_need_the_pretrained_files_it_replaces(workdir):
    state = workdir / '100.state'
    state.write_bytes(b'')
    opt = official(**{'path.pretrain_network_g': 'nowhere/net_g.pth'})
    assert '`path.pretrain_network_g`' in error_of(write(workdir, opt))
    opt['path']['resume_state'] = str(state)
    assert load_options(write(workdir, opt))['path']['pretrain_network_g'] == 'nowhere/net_g.pth'
    # network_identity is in ignore_resume_networks: it still loads from its pretrained file
    os.remove(OFFICIAL_FILES['path.pretrain_network_identity'])
    assert '`path.pretrain_network_identity`' in error_of(write(workdir, opt))
    open(OFFICIAL_FILES['path.pretrain_network_identity'], 'wb').close()
    opt['path']['resume_state'] = 'nowhere/1.state'
    assert '`path.resume_state`' in error_of(write(workdir, opt))


def test_paths_expand_the_home_folder(workdir, monkeypatch):
    monkeypatch.setenv('HOME', str(workdir))
    opt = load_options(write(workdir, official(**{'datasets.train.dataroot_gt': '~/datasets/ffhq/ffhq_512'})))
    assert opt['datasets']['train']['dataroot_gt'] == os.path.join(str(workdir), 'datasets/ffhq/ffhq_512')


@pytest.mark.parametrize('changes, key, words', [
    ({
        'train.optim_gg': {
            'type': 'Adam'
        }
    }, 'train.optim_gg', 'did you mean `train.optim_g`?'),
    ({
        'nmae': 'x'
    }, 'nmae', 'did you mean `name`?'),
    ({
        'path.pretrained_network_g': 'x.pth'
    }, 'path.pretrained_network_g', 'not a known option'),
    ({
        'logger.wandb.projekt': 'x'
    }, 'logger.wandb.projekt', 'did you mean `logger.wandb.project`?'),
    ({
        'datasets.valid': {
            'type': 'PairedImageDataset'
        }
    }, 'datasets.valid', 'not a known option'),
    ({
        'val.metrics.psnr.type': None
    }, 'val.metrics.psnr.type', 'must name the registered class'),
])
def test_unknown_keys_are_named(workdir, changes, key, words):
    path = write(workdir, official(**changes))
    message = error_of(path)
    assert message.startswith(f'Option `{key}` in {path} ') and words in message, message


def test_registered_types_and_their_keywords_are_checked_together(workdir):
    opt = official(**{'network_g.any_keyword': 1, 'train.pixel_opt.reductoin': 'mean', 'model_type': 'GFPGANModle'})
    opt['network_d_extra'] = {'type': 'StyleGAN2Discriminatr', 'out_size': 512}
    opt['train']['new_loss_opt'] = {'type': 'NewLoss'}
    opt['train']['optim_g']['type'] = 'Adamw'
    opt['train']['scheduler']['type'] = 'MultiStep'
    opt['datasets']['train']['io_backend']['type'] = 'lmbd'
    lines = str(problems_of(write(workdir, opt))).splitlines()[1:]
    expected = [
        ('model_type', "names 'GFPGANModle', which is not a registered model type (did you mean 'GFPGANModel'?)"),
        ('datasets.train.io_backend.type', "names 'lmbd', which is not a registered io backend type (did you mean "
         "'lmdb'?)"),
        ('network_g.any_keyword', 'is not an option of GFPGANv1; known: channel_multiplier'),
        ('train.optim_g.type', "names 'Adamw', which is not a registered optimizer type (did you mean"),
        ('train.scheduler.type', "(did you mean 'MultiStepLR'?)"),
        ('train.pixel_opt.reductoin', "is not an option of L1Loss (did you mean 'reduction'?)"),
        ('train.new_loss_opt.type', "names 'NewLoss', which is not a registered loss type"),
        ('network_d_extra.type', "(did you mean 'StyleGAN2Discriminator'?)"),
    ]
    assert len(lines) == len(expected), lines
    for (key, words), line in zip(expected, lines):
        assert f'`{key}`' in line and words in line, line


def test_a_network_that_cannot_be_built_is_found_before_any_folder(workdir):
    opt = official(**{'network_g.out_size': 60, 'network_d.out_size': 60})
    lines = str(problems_of(write(workdir, opt))).splitlines()
    assert any('`network_g`' in line and 'out_size must be a power of two between 8 and 1024, got 60' in line
               for line in lines), lines
    assert any('`network_d`' in line and 'StyleGAN2Discriminator' in line for line in lines), lines
    assert sorted(os.listdir(workdir)) == ['datasets', 'experiments', 'opts.yml']
    assert os.listdir(workdir / 'experiments') == ['pretrained_models']


def test_a_random_identity_network_must_be_asked_for(workdir):
    opt = official(**{'path.pretrain_network_identity': None})
    message = error_of(write(workdir, opt))
    assert '`path.pretrain_network_identity`' in message and 'random, frozen ArcFace' in message
    opt['path']['allow_random_network_identity'] = True
    assert load_options(write(workdir, opt))['path'].get('pretrain_network_identity') is None


def test_the_vgg_of_the_perceptual_loss_must_be_there_unless_random_is_asked_for(workdir):
    os.remove(f'{PRETRAINED}/{VGG19}')
    assert f'`python scripts/download_pretrained.py --files {VGG19}`' in error_of(OFFICIAL)
    assert load_options(OFFICIAL, overrides=['train:perceptual_opt:pretrained=false'])


@pytest.mark.parametrize('changes, key, words', [
    ({
        'train.optim_g.lr': '2e-3'
    }, 'train.optim_g.lr', "must be a number >= 0, got '2e-3' (YAML reads 2e-3 as a "
     'string: write it with a decimal point, e.g. 1.0e-3, or as !!float 2e-3)'),
    ({
        'train.total_iter': 'many'
    }, 'train.total_iter', "must be an integer >= 1, got 'many'"),
    ({
        'train.total_iter': 2.5
    }, 'train.total_iter', 'must be an integer >= 1, got 2.5'),
    ({
        'logger.print_freq': '100'
    }, 'logger.print_freq', '(remove the quotes)'),
    ({
        'logger.use_tb_logger': 'yes'
    }, 'logger.use_tb_logger', "must be true or false, got 'yes'"),
    ({
        'val.val_freq': 0
    }, 'val.val_freq', 'must be an integer >= 1, got 0'),
    ({
        'num_gpu': -1
    }, 'num_gpu', "must be an integer >= 0 or one of 'auto'"),
    ({
        'dist_params.backend': 'nccl2'
    }, 'dist_params.backend', "must be one of 'nccl', 'gloo'"),
    ({
        'train.optim_d.betas': [0.9]
    }, 'train.optim_d.betas', 'must be a list of 2 items'),
    ({
        'path.ignore_resume_networks': ['network_identity', 3]
    }, 'path.ignore_resume_networks[1]', 'a string'),
    ({
        'network_d.type': None
    }, 'network_d.type', 'must name the registered class of `network_d`, got None'),
    ({
        'network_d': 'StyleGAN2Discriminator'
    }, 'network_d', 'must be a mapping with a `type`'),
    ({
        'datasets.train.dataroot_gt': 5
    }, 'datasets.train.dataroot_gt', 'must be a path'),
    ({
        'train': 3
    }, 'train', 'must be a mapping of options, got 3'),
    ({
        'name': 'a/b'
    }, 'name', 'must be a folder name'),
    ({
        'logger.print_freq': None
    }, 'logger.print_freq', 'is required but missing'),
    ({
        'train.total_iter': None
    }, 'train.total_iter', 'is required but missing'),
    ({
        'model_type': None
    }, 'model_type', 'is required but missing'),
])
def test_wrong_types_are_one_error_naming_key_and_file(workdir, changes, key, words):
    path = write(workdir, official(**changes))
    message = error_of(path)
    assert message.startswith(f'Option `{key}` in {path} ') and words in message, message


def test_only_training_needs_the_training_sections(workdir):
    opt = official(train=None, logger=None)
    opt['datasets'] = {'test_1': opt['datasets']['val']}
    loaded = load_options(write(workdir, opt), is_train=False, root_path=str(workdir))
    assert loaded['path']['results_root'] == os.path.join(str(workdir), 'results', 'train_GFPGANv1_512')
    assert loaded['datasets']['test_1']['phase'] == 'test' and 'experiments_root' not in loaded['path']
    lines = str(problems_of(write(workdir, opt))).splitlines()[1:]
    assert ['`datasets.train`' in lines[0], '`train`' in lines[1], '`logger`' in lines[2]] == [True] * 3, lines


def test_bad_files_are_one_error(tmp_path):
    assert 'does not exist' in error_of(str(tmp_path / 'nothing.yml'))
    (tmp_path / 'bad.yml').write_text('name: x\ntrain:\n  total_iter: [1\n')
    assert re.search(r'bad\.yml is not valid YAML at line \d+, column \d+', error_of(str(tmp_path / 'bad.yml')))
    (tmp_path / 'twice.yml').write_text('name: x\ntrain:\n  total_iter: 1\n  ema_decay: 0.9\n  total_iter: 2\n')
    message = error_of(str(tmp_path / 'twice.yml'))
    assert "the key 'total_iter' is given twice (first on line 3)" in message and 'line 5' in message
    (tmp_path / 'list.yml').write_text('- a\n- b\n')
    assert 'must hold a mapping of options, got list' in error_of(str(tmp_path / 'list.yml'))


def test_force_yml_overrides(workdir):
    opt = load_options(
        OFFICIAL,
        overrides=[
            'train:ema_decay=0.999', 'train:optim_g:lr=1e-4', 'datasets:train:batch_size_per_gpu=2',
            'train:scheduler:milestones=[10, 20]', 'path:strict_load_g=false', 'val=~', 'network_d:narrow=0.5',
            'manual_seed=!!float 7', "datasets:train:name='2024'"
        ])
    assert opt['train']['ema_decay'] == 0.999 and opt['train']['optim_g']['lr'] == 1e-4
    assert opt['datasets']['train']['batch_size_per_gpu'] == 2 and opt['train']['scheduler']['milestones'] == [10, 20]
    assert opt['path']['strict_load_g'] is False and opt['val'] is None and opt['network_d']['narrow'] == 0.5
    assert opt['manual_seed'] == 7 and type(opt['manual_seed']) is int
    assert opt['datasets']['train']['name'] == '2024'  # quoted: stays a string
    assert opt['force_yml'][0] == 'train:ema_decay=0.999'


def test_force_yml_removes_a_dataset_set_to_null(workdir):
    opt = load_options(OFFICIAL, overrides=['datasets:val=~'])
    assert list(opt['datasets']) == ['train'] and opt['datasets']['train']['phase'] == 'train'


def test_force_yml_errors_say_where_the_value_came_from(workdir):
    message = error_of(OFFICIAL, overrides=['train:total_iter=abc'])
    assert message.startswith(f'Option `train.total_iter` (set by --force_yml) in {OFFICIAL} must be an integer')
    assert 'did you mean `train.ema_decay`' in error_of(OFFICIAL, overrides=['train:ema_decai=0.9'])
    with pytest.raises(OptionsError, match=r"entry 'train:ema_decay' must look like key:sub=value"):
        load_options(OFFICIAL, overrides=['train:ema_decay'])
    with pytest.raises(OptionsError, match=r'goes into option `name` of .*, which is not a section'):
        load_options(OFFICIAL, overrides=['name:sub=1'])
    assert apply_overrides({}, ['a:b:c=1']) == ['a.b.c']  # sections are created as needed


def test_num_gpu_auto_counts_the_visible_gpus(workdir):
    assert load_options(OFFICIAL, overrides=['num_gpu=auto'])['num_gpu'] == torch.cuda.device_count()
    assert load_options(write(workdir, official(num_gpu=None)))['num_gpu'] == torch.cuda.device_count()


def test_manual_seed_is_drawn_when_absent_and_recorded(workdir):
    opt = load_options(write(workdir, official(manual_seed=None)))
    assert isinstance(opt['manual_seed'], int) and 1 <= opt['manual_seed'] <= 10000


def test_debug_mode(workdir):
    opt = load_options(OFFICIAL, debug=True, root_path=str(workdir))
    assert opt['name'] == 'debug_train_GFPGANv1_512'
    assert opt['val']['val_freq'] == 8 and opt['logger']['print_freq'] == 1
    assert opt['logger']['save_checkpoint_freq'] == 8 and opt['logger']['use_tb_logger'] is False
    assert opt['path']['experiments_root'].endswith(os.path.join('experiments', 'debug_train_GFPGANv1_512'))
    # a name that already says debug is not prefixed twice, and means debug mode on its own
    again = load_options(write(workdir, official(name='debug_x')), debug=True)
    assert again['name'] == 'debug_x' and again['logger']['print_freq'] == 1
    assert load_options(OFFICIAL)['logger']['print_freq'] == 100


def test_parse_args_flags(monkeypatch):
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    args = parse_args(['-opt', 'x.yml'])
    assert (args.opt, args.launcher, args.auto_resume, args.debug, args.local_rank,
            args.force_yml) == ('x.yml', 'none', False, False, 0, None)
    assert parse_args(['-opt', 'x.yml', '--local-rank=3']).local_rank == 3
    assert parse_args(['-opt', 'x.yml', '--local_rank=2', '--launcher', 'pytorch']).local_rank == 2
    assert parse_args(['-opt', 'x.yml', '--local-rank', '1']).local_rank == 1
    monkeypatch.setenv('LOCAL_RANK', '5')
    assert parse_args(['-opt', 'x.yml']).local_rank == 5
    assert parse_args(['-opt', 'x.yml', '--local-rank=4']).local_rank == 4  # the flag wins
    args = parse_args(['-opt', 'x.yml', '--auto_resume', '--debug', '--force_yml', 'a:b=1', 'c=2'])
    assert args.auto_resume and args.debug and args.force_yml == ['a:b=1', 'c=2']
    with pytest.raises(SystemExit):
        parse_args(['-opt', 'x.yml', '--launcher', 'mpi'])
    with pytest.raises(SystemExit):
        parse_args([])


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit):
        parse_args(['--help'])
    text = capsys.readouterr().out
    for flag in ('-opt', '--launcher', '--auto_resume', '--debug', '--local_rank', '--local-rank', '--force_yml',
                 'torchrun', 'srun', 'train:ema_decay=0.999'):
        assert flag in text, flag


def test_parse_options_single_process(workdir, monkeypatch):
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    opt, args = parse_options(['-opt', OFFICIAL, '--debug', '--force_yml', 'num_gpu=0'], root_path=str(workdir))
    assert args.debug and opt['name'].startswith('debug_') and opt['num_gpu'] == 0 and opt['dist'] is False


def test_parse_options_refuses_a_launched_process_without_launcher(workdir, monkeypatch):
    monkeypatch.setenv('WORLD_SIZE', '4')
    with pytest.raises(OptionsError, match='WORLD_SIZE=4.*--launcher pytorch'):
        parse_options(['-opt', OFFICIAL])


def test_experiment_folders_are_made_and_never_overwritten(workdir):
    opt = load_options(OFFICIAL, overrides=['train:ema_decay=0.5'], root_path=str(workdir))
    root, tb_dir = opt['path']['experiments_root'], opt['path']['tb_logger']
    made = make_exp_dirs(opt)
    for key in ('models', 'training_states', 'visualization', 'tb_logger'):
        assert os.path.isdir(opt['path'][key]), key
    copy = made['options_copy']
    assert copy == os.path.join(root, 'train_gfpgan_v1.yml') and made['archived'] == {}
    text = open(copy).read()
    header, _, body = text.partition('\n\n')
    assert '# --force_yml train:ema_decay=0.5' in header and OFFICIAL in header and '# CMD: ' in header
    assert body == open(OFFICIAL).read()  # the file as given, byte for byte
    marker = os.path.join(opt['path']['models'], 'net_g_1000.pth')
    open(marker, 'w').close()

    # the same name again, not resuming: the earlier run is archived, not touched
    again = make_exp_dirs(load_options(OFFICIAL, root_path=str(workdir)))
    archived = again['archived'][root]
    assert re.fullmatch(re.escape(root) + r'_archived_\d{8}_\d{6}(_\d+)?', archived)
    assert os.path.isfile(os.path.join(archived, 'models', 'net_g_1000.pth'))
    assert os.path.isfile(os.path.join(archived, 'train_gfpgan_v1.yml'))
    assert again['archived'][tb_dir].startswith(tb_dir + '_archived_')
    assert os.listdir(os.path.join(root, 'models')) == []
    # a third time within the same second gets its own archive name
    third = make_exp_dirs(load_options(OFFICIAL, root_path=str(workdir)))
    assert third['archived'][root] != archived and os.path.isdir(archived)


def test_auto_resume_finds_the_newest_state_and_keeps_the_folder(workdir):
    opt = load_options(OFFICIAL, root_path=str(workdir))
    make_exp_dirs(opt)
    states = opt['path']['training_states']
    for name in ('900.state', '1000.state', 'notes.txt'):
        open(os.path.join(states, name), 'w').close()
    assert latest_training_state(states) == os.path.join(states, '1000.state')
    assert latest_training_state(str(workdir / 'none')) is None

    resumed = load_options(OFFICIAL, root_path=str(workdir), auto_resume=True)
    assert resumed['auto_resume'] is True and resumed['path']['resume_state'] == os.path.join(states, '1000.state')
    made = make_exp_dirs(resumed)
    assert made['archived'] == {} and os.path.isfile(os.path.join(states, '900.state'))
    assert made['options_copy'] != os.path.join(opt['path']['experiments_root'], 'train_gfpgan_v1.yml')
    assert os.path.isfile(os.path.join(opt['path']['experiments_root'], 'train_gfpgan_v1.yml'))


def test_make_exp_dirs_runs_on_rank_0_only(workdir, monkeypatch):
    opt = load_options(OFFICIAL, root_path=str(workdir))
    monkeypatch.setattr('gfpgan.utils.dist.get_dist_info', lambda: (1, 2))
    assert make_exp_dirs(opt) is None and not os.path.exists(opt['path']['experiments_root'])


def test_dict2str_indents_sections(workdir):
    text = dict2str(load_options(OFFICIAL))
    assert text.startswith('\n  name: train_GFPGANv1_512\n')
    assert '\n  train:\n    optim_g:\n      type: Adam\n      lr: 0.002\n' in text
    assert '\n    total_iter: 800000\n' in text


def test_schema_can_be_extended(workdir):
    path = write(workdir, official(**{'train.use_amp': True}))
    assert '`train.use_amp`' in error_of(path)
    extend_schema('train.use_amp', Value('bool'))
    try:
        assert load_options(path)['train']['use_amp'] is True
        assert '`train.use_amp`' in error_of(write(workdir, official(**{'train.use_amp': 'on'})))
    finally:
        del schema_module.SCHEMA.fields['train'].fields['use_amp']
    with pytest.raises(KeyError):
        extend_schema('nosuchsection.key', Value('bool'))


def test_validate_options_checks_a_dict(workdir):
    opt = official(**{'logger.print_freq': 1e2})
    checked = validate_options(opt, source='my options')
    assert checked['logger']['print_freq'] == 100 and opt['logger']['print_freq'] == 1e2  # a checked copy
    with pytest.raises(OptionsError, match=r'^Option `train.bogus` in my options is not a known option'):
        validate_options(official(**{'train.bogus': 1}), source='my options')


def test_dataset_options_are_checked_with_every_other_problem(workdir):
    opt = official(**{'datasets.train.blur_sigma': [10, 0.1], 'datasets.train.gray_prob': 2,
                      'datasets.train.blur_sigm': [0.1, 10], 'datasets.val.use_flip': True,
                      'datasets.train.num_prefetch_queue': 0, 'logger.print_freq': 'often'})
    path = write(workdir, opt)
    lines = str(problems_of(path)).splitlines()[1:]
    expected = [
        f"Dataset `datasets.train` of {path}: FFHQDegradationDataset option 'blur_sigma' must be [low, high] with "
        '1e-06 <= low <= high <= inf, got [10, 0.1].',
        f"Dataset `datasets.train` of {path}: FFHQDegradationDataset option 'gray_prob' must be a probability in "
        '[0, 1] or ~, got 2.',
        f'Option `datasets.train.blur_sigm` in {path} is not a known option (did you mean '
        '`datasets.train.blur_sigma`?).',
        f'Option `datasets.train.num_prefetch_queue` in {path} must be an integer >= 1, got 0.',
        f'Option `datasets.val.use_flip` in {path} is not a known option (did you mean `datasets.val.use_hflip`?).',
        f"Option `logger.print_freq` in {path} must be an integer >= 1, got 'often'.",
    ]
    assert sorted(line[4:] for line in lines) == sorted(expected), lines


def test_a_dataset_option_set_by_force_yml_says_so(workdir):
    message = error_of(OFFICIAL, overrides=['datasets:train:jpeg_range=[60, 120]'])
    assert message == (f"Dataset `datasets.train` of {OFFICIAL}: FFHQDegradationDataset option 'jpeg_range' must be "
                       '[low, high] with 0 <= low <= high <= 100, got [60, 120] (`datasets.train.jpeg_range` set by '
                       '--force_yml).')


def test_dataset_blocks_compose_the_declared_specs():
    from gfpgan.data import FFHQDegradationDataset, PairedImageDataset, SingleImageDataset
    from gfpgan.data.image_dataset import BAD_FILE_OPTIONS, PARSER_OPTIONS
    from gfpgan.data.loader import LOADER_OPTIONS
    from gfpgan.data.prefetch import PREFETCH_OPTIONS
    for phase in ('train', 'val', 'test_1'):
        block = schema_module.SCHEMA.fields['datasets'].fields[phase if phase != 'test_1' else 'test_*']
        assert {**LOADER_OPTIONS, **PREFETCH_OPTIONS, **PARSER_OPTIONS}.keys() == block.fields.keys()
    for dataset in (FFHQDegradationDataset, PairedImageDataset, SingleImageDataset):
        assert dataset.OPTIONS == frozenset(dataset.OPTION_SPEC)
        assert dataset.option_spec() == {**BAD_FILE_OPTIONS, **dataset.OPTION_SPEC}
