"""The experiment folder of a run, BasicSR's layout, known here only: where things go, what checkpoints are called,
which training state is the newest and what resuming changes.

Layout (under the root path, the working directory by default)::

    experiments/<name>/                 the options file copy and the logs
        models/net_g_<iter>.pth         networks: net_<label>_<iter>.pth, net_<label>_latest.pth at the end
        training_states/<iter>.state    optimizers, schedulers, random states
        visualization/                  validation images
    tb_logger/<name>/                   TensorBoard
    results/<name>/visualization/       a test run's outputs
"""
import os
import re
import shlex
import sys
import time

from gfpgan.config.spec import FilePath, ListOf, Value
from gfpgan.utils.dist import master_only
from gfpgan.utils.fileio import atomic_write

__all__ = [
    'RUN_PATH_OPTIONS', 'experiment_paths', 'output_folders', 'checkpoint_folders', 'network_label',
    'network_file_name', 'network_file_path', 'training_state_path', 'latest_training_state',
    'resume_from_newest_state', 'replaced_on_resume', 'use_resumed_networks', 'make_exp_dirs', 'log_file_path'
]

_STATE_NAME = re.compile(r'\d+\.state')
_LAYOUT_KEYS = ('experiments_root', 'results_root', 'models', 'training_states', 'log', 'visualization', 'tb_logger')

#: The `path` options of resuming and of the experiment folders (filled by `experiment_paths`), declared here and
#: composed into the options schema.
RUN_PATH_OPTIONS = {
    'resume_state': FilePath(),
    'ignore_resume_networks': ListOf(Value('str')),
    **{key: Value('str') for key in _LAYOUT_KEYS},
}


# ---------------------------------------------------------------------------------------------- layout
def experiment_paths(opt, root_path):
    """Fill ``opt['path']`` with the run's folders: experiments/<name>/{models,training_states,visualization} and
    tb_logger/<name> when training, results/<name>/visualization when testing; logs go to the run's folder."""
    if opt.get('path') is None:
        opt['path'] = {}
    path_opt, name = opt['path'], opt['name']
    if opt['is_train']:
        root = os.path.join(root_path, 'experiments', name)
        path_opt.update(
            experiments_root=root,
            models=os.path.join(root, 'models'),
            training_states=os.path.join(root, 'training_states'),
            log=root,
            visualization=os.path.join(root, 'visualization'),
            tb_logger=os.path.join(root_path, 'tb_logger', name))
    else:
        root = os.path.join(root_path, 'results', name)
        path_opt.update(results_root=root, log=root, visualization=os.path.join(root, 'visualization'))


def output_folders(opt):
    """The folders a training creates at the top (experiments/<name>, tb_logger/<name>), those the options name."""
    path_opt = opt.get('path') if isinstance(opt.get('path'), dict) else {}
    return [path_opt[key] for key in ('experiments_root', 'tb_logger') if path_opt.get(key)]


def checkpoint_folders(opt):
    """The folders a training writes checkpoints into (models/, training_states/), those the options name."""
    return [opt['path'][key] for key in ('models', 'training_states') if opt['path'].get(key)]


# ---------------------------------------------------------------------------------------------- checkpoint names
def network_label(key):
    """The checkpoint file prefix of an options section: network_g -> net_g, network_d_mouth -> net_d_mouth."""
    return 'net_' + key[len('network_'):]


def network_file_name(label, current_iter):
    """``<label>_<iter>.pth``, ``<label>_latest.pth`` for iter -1 (the end of training)."""
    return f"{label}_{'latest' if current_iter == -1 else current_iter}.pth"


def network_file_path(opt, label, current_iter):
    """Where network `label` of iteration `current_iter` is saved: models/<label>_<iter>.pth."""
    return os.path.join(opt['path']['models'], network_file_name(label, current_iter))


def training_state_path(opt, current_iter):
    """Where the training state of iteration `current_iter` is saved: training_states/<iter>.state."""
    return os.path.join(opt['path']['training_states'], f'{current_iter}.state')


def latest_training_state(folder):
    """Path of the newest ``<iter>.state`` in `folder` (by iteration), or None."""
    if not os.path.isdir(folder):
        return None
    states = [(int(name[:-6]), name) for name in os.listdir(folder) if _STATE_NAME.fullmatch(name)]
    return os.path.join(folder, max(states)[1]) if states else None


# ---------------------------------------------------------------------------------------------- resuming
def resume_from_newest_state(opt):
    """``--auto_resume``: set path.resume_state to the run's newest training state, when there is one."""
    state = latest_training_state(opt['path']['training_states'])
    if state is not None:
        opt['path']['resume_state'] = state


def _resumed(network_key, opt):
    """Whether network `network_key` (network_g, ...) loads from the run's own checkpoints when resuming."""
    return network_key not in (opt['path'].get('ignore_resume_networks') or [])


def replaced_on_resume(key, opt):
    """Whether the file of option `key` is not used because training resumes (BasicSR's check_resume: a
    resumed network loads from experiments/<name>/models/, unless listed in path.ignore_resume_networks)."""
    path_opt = opt.get('path') or {}
    if not key.startswith('path.pretrain_network') or not path_opt.get('resume_state'):
        return False
    return _resumed(key.split('.', 1)[1][len('pretrain_'):], opt)


def use_resumed_networks(opt, resume_iter):
    """Point path.pretrain_network_* at the checkpoints of ``resume_iter`` (BasicSR's check_resume), except the
    networks listed in path.ignore_resume_networks (the frozen identity network by default)."""
    for key in opt:
        if key.startswith('network_') and _resumed(key, opt):
            opt['path'][f'pretrain_{key}'] = network_file_path(opt, network_label(key), resume_iter)
            if key == 'network_g':
                opt['path']['param_key_g'] = 'params'
                opt['path']['strict_load_g'] = True


# ---------------------------------------------------------------------------------------------- folders and files
def _time_str():
    return time.strftime('%Y%m%d_%H%M%S', time.localtime())


def _archive(path):
    """Rename an existing `path` to ``<path>_archived_<time>`` (never deleting anything); returns the new name."""
    new = f'{path}_archived_{_time_str()}'
    count = 1
    while os.path.exists(new):
        new = f'{path}_archived_{_time_str()}_{count}'
        count += 1
    os.rename(path, new)
    return new


def _copy_options_file(opt, folder):
    """Copy the options file as given into `folder`, its top noting when, the command and the overrides."""
    source = opt['opt_path']
    stem, ext = os.path.splitext(os.path.basename(source))
    target = os.path.join(folder, stem + ext)
    count = 0
    while os.path.exists(target):  # a resumed run keeps the earlier copies
        count += 1
        target = os.path.join(folder, f'{stem}_{_time_str()}{"_" + str(count) if count > 1 else ""}{ext}')
    header = [f'# Copied at {time.asctime()} from {os.path.abspath(source)}', f'# CMD: {shlex.join(sys.argv)}']
    header += [f'# --force_yml {entry}' for entry in opt.get('force_yml') or ()]
    with open(source, 'rb') as f:
        content = f.read()
    with atomic_write(target) as f:
        f.write(('\n'.join(header) + '\n\n').encode('utf-8') + content)
    return target


@master_only
def make_exp_dirs(opt):
    """Create the run's folders (rank 0 only) and copy the options file into it; returns
    {'options_copy': path, 'archived': {old: new}}.

    Not resuming, an existing experiments/<name> (results/<name>, tb_logger/<name>) is renamed to
    ``<name>_archived_<time>`` first; nothing is overwritten or deleted.
    """
    path_opt = opt['path']
    root = path_opt['experiments_root'] if opt['is_train'] else path_opt['results_root']
    folders = [root] + [path_opt[k] for k in ('models', 'training_states', 'visualization') if path_opt.get(k)]
    archived = {}
    resuming = bool(path_opt.get('resume_state'))
    tb_dir = path_opt.get('tb_logger') if (opt.get('logger') or {}).get('use_tb_logger') else None
    if not resuming:
        for folder in (root, tb_dir):
            if folder and os.path.exists(folder):
                archived[folder] = _archive(folder)
                print(f'{folder} already exists: renamed it to {archived[folder]}', flush=True)
    for folder in folders + ([tb_dir] if tb_dir else []):
        os.makedirs(folder, exist_ok=True)
    return {'options_copy': _copy_options_file(opt, root), 'archived': archived}


def log_file_path(opt):
    """``<path.log>/<train|test>_<name>_<time>.log``, BasicSR's log file name."""
    phase = 'train' if opt['is_train'] else 'test'
    return os.path.join(opt['path']['log'], f"{phase}_{opt['name']}_{_time_str()}.log")
