"""Validation of the options: `validate_options` checks a mapping against the schema and the files it names;
`load_options` reads, overrides, validates and fills a file's options for a run (paths, seed, GPUs, debug mode),
the training preflight included, so that every problem is reported at start-up, together."""
import os
import random

import torch

from gfpgan.run import experiment_paths, replaced_on_resume, resume_from_newest_state
from gfpgan.utils.dist import broadcast_object, get_dist_info

from .loading import apply_overrides, read_yaml
from .registered import registered_types
from .schema import SCHEMA
from .spec import CheckRun, check_spec
from .training_checks import check_training

__all__ = ['validate_options', 'load_options', 'record_dist_state', 'DEBUG_SETTINGS']

DEBUG_SETTINGS = {'val_freq': 8, 'print_freq': 1, 'save_checkpoint_freq': 8}


def _new_run(source, is_train, overridden=()):
    return CheckRun(source, is_train, overridden, registered_types=registered_types)


def validate_options(opt, source='<options>', is_train=True, overridden=()):
    """`opt` checked against SCHEMA (types normalised, e.g. ``5e3`` -> 5000) and the files it names checked to
    exist; returns the checked copy. Problems are one OptionsError naming each key and `source`."""
    run = _new_run(source, is_train, overridden)
    checked = check_spec(SCHEMA, opt, '', run, None)
    _check_paths(checked, run)
    run.raise_if_any()
    return checked


def _set_option(opt, dotted_key, value):
    *parents, name = dotted_key.split('.')
    for part in parents:
        opt = opt[part]
    opt[name] = value


def _check_paths(opt, run):
    """Every file an option names must exist. A missing pretrained file of the catalogue is looked for where
    ``resolve_weights`` looks (the option then names the copy found) or listed for the download command."""
    from gfpgan.utils.pretrained import PRETRAINED
    for key, given, path in run.paths:
        if os.path.exists(path) or replaced_on_resume(key, opt):
            continue
        if os.path.basename(path) in PRETRAINED and '[' not in key:
            found = run.problems.weights(path, f'option `{key}` in {run.source}')
            if found is not None:
                _set_option(opt, key, found)
            continue
        where = '' if os.path.isabs(path) else f' (relative to {os.getcwd()})'
        run.record(key, f"names '{given}', which does not exist{where}")


def _apply_debug(opt):
    """BasicSR's debug mode (a name starting with 'debug'): validate and save every 8 iterations, log every one,
    no TensorBoard or wandb."""
    if opt.get('val') is not None:
        opt['val']['val_freq'] = DEBUG_SETTINGS['val_freq']
    if opt.get('logger') is None:
        opt['logger'] = {}
    logger_opt = opt['logger']
    logger_opt['print_freq'] = DEBUG_SETTINGS['print_freq']
    logger_opt['save_checkpoint_freq'] = DEBUG_SETTINGS['save_checkpoint_freq']
    logger_opt['use_tb_logger'] = False
    if logger_opt.get('wandb') is not None:
        logger_opt['wandb']['project'] = None


def record_dist_state(opt):
    """Record the distributed state of the current process group (rank, world_size, dist); rank 0's manual_seed
    becomes everyone's (a drawn seed differs per rank)."""
    opt['rank'], opt['world_size'] = get_dist_info()
    opt['dist'] = opt['world_size'] > 1
    opt['manual_seed'] = broadcast_object(opt['manual_seed'])


def load_options(path, overrides=(), is_train=True, debug=False, root_path=None, auto_resume=False):
    """Read, override (--force_yml entries) and validate the options file `path`, then fill what the run needs.

    Filled: is_train, dist / rank / world_size (current process group), num_gpu ('auto' or absent -> visible CUDA
    devices), manual_seed (drawn when absent), datasets.*.phase (and scale), the experiment paths, with
    `auto_resume` path.resume_state (newest training state), and with `debug` BasicSR's debug mode.
    `root_path` (default: the working directory) holds experiments/, results/ and tb_logger/.
    """
    path = os.fspath(path)
    opt = read_yaml(path)
    overridden = apply_overrides(opt, overrides, path)
    if isinstance(opt.get('datasets'), dict):  # `--force_yml datasets:val=~` (or `val: ~` in the file) removes it
        opt['datasets'] = {phase: block for phase, block in opt['datasets'].items() if block is not None}
    run = _new_run(path, is_train, overridden)
    opt = check_spec(SCHEMA, opt, '', run, None)
    if not isinstance(opt.get('name'), str) or not isinstance(opt.get('datasets'), dict):
        run.raise_if_any()  # the rest needs these two

    opt['is_train'] = is_train
    opt['auto_resume'] = bool(auto_resume)
    opt['root_path'] = os.path.abspath(root_path or os.getcwd())
    opt['opt_path'] = path
    opt['force_yml'] = list(overrides or ())
    if opt.get('num_gpu') in (None, 'auto'):
        opt['num_gpu'] = torch.cuda.device_count()
    if opt.get('manual_seed') is None:
        opt['manual_seed'] = random.randint(1, 10000)
    record_dist_state(opt)
    if debug and not opt['name'].startswith('debug'):
        opt['name'] = f"debug_{opt['name']}"
    for phase, dataset in opt['datasets'].items():
        if not isinstance(dataset, dict):
            continue
        dataset['phase'] = phase.split('_')[0]
        if 'scale' in opt:
            dataset['scale'] = opt['scale']
    experiment_paths(opt, opt['root_path'])
    if is_train:
        if auto_resume:
            resume_from_newest_state(opt)
        if opt['name'].startswith('debug'):
            _apply_debug(opt)
    _check_paths(opt, run)
    if is_train:
        check_training(opt, run)
    run.raise_if_any()
    return opt
