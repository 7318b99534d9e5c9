"""The options schema: BasicSR's YAML options as GFPGAN uses them, composed from the specs that components declare
themselves (each dataset class's `option_spec()`, the data loader's `LOADER_OPTIONS`, the prefetcher's
`PREFETCH_OPTIONS`, the experiment folder's `RUN_PATH_OPTIONS`) and the sections of a run (path, train, val, logger,
dist_params).

`extend_schema` declares one more option at run time (a plug-in's, a test's).
"""
import copy

from gfpgan.data.image_dataset import PARSER_OPTIONS, checked_by_dataset
from gfpgan.data.loader import LOADER_OPTIONS
from gfpgan.data.prefetch import PREFETCH_OPTIONS
from gfpgan.models.precision import MIXED_PRECISION
from gfpgan.run import RUN_PATH_OPTIONS

from .spec import Component, FilePath, ListOf, OneOf, Section, TypeName, Value, check_or_record

__all__ = ['SCHEMA', 'extend_schema', 'dataset_spec']


def _int(minimum=None, **kwargs):
    return Value('int', minimum=minimum, **kwargs)


def _number(minimum=None, maximum=None, **kwargs):
    return Value('number', minimum=minimum, maximum=maximum, **kwargs)


def _loader_options(train_required):
    """The data loader's own declaration (`LOADER_OPTIONS`), its batch size required of a train dataset."""
    fields = dict(LOADER_OPTIONS)
    if train_required:
        fields['batch_size_per_gpu'] = copy.copy(fields['batch_size_per_gpu'])
        fields['batch_size_per_gpu'].required = 'train'
    return fields


class DatasetBlock(Component):
    """A `datasets.<phase>` block: the options of the data loader, the prefetcher and the parser (`fields`), and
    those its dataset class declares (`option_spec()`, looked up by `type`); any other key is an error. The
    dataset's value problems read as the dataset would raise them, naming the block and the file; the options it
    declares required are left to its constructor (a block may name them only where it is built). A registered
    class declaring nothing gets today's generic checks (`generic`: the paths it may name), its keys left to it."""

    def __init__(self, fields, generic, required=False):
        super().__init__(fields, required=required, registry='dataset')
        self.generic = dict(generic)

    def check_value(self, value, key, run, parent):
        dataset = run.registered_types('dataset').get(value.get('type')) if isinstance(value, dict) else None
        declared = getattr(dataset, 'option_spec', None)
        if declared is None:
            plain = Component({**self.fields, **self.generic}, registry=self.registry)
            return plain.check_value(value, key, run, parent)
        declared = declared()
        known = Section({'type': None, **self.fields, **declared})
        out = {}
        for name, item in value.items():
            spec = known.fields.get(name) if isinstance(name, str) else None
            sub = f'{key}.{name}'
            if name == 'type':
                out[name] = item
            elif spec is None:
                run.problems.add(str(known.unknown(sub, run, str(name))))
                out[name] = item
            elif name in declared and checked_by_dataset(spec):
                out[name], problem = dataset.option_problem(name, item)
                if problem is not None:
                    origin = f' (`{sub}` set by --force_yml)' if sub in run.overridden else ''
                    run.problems.add(f"Dataset `{key}` of {run.source}: {problem.rstrip('.')}{origin}.")
            else:
                out[name] = check_or_record(spec, item, sub, run, value)
        self.check_required(value, key, run)  # the dataset's own required options: its constructor, at build time
        return out


def dataset_spec(required=False):
    """A `datasets.<phase>` block (:class:`DatasetBlock`), the loader's batch size required of a train dataset."""
    return DatasetBlock(
        fields={
            **_loader_options(bool(required)),
            **PREFETCH_OPTIONS,
            **PARSER_OPTIONS,
        },
        generic={
            'dataroot_*': FilePath(many=True),
            'meta_info_file': FilePath(),
            'component_path': FilePath(when='crop_components'),
            'io_backend': Component(registry='io_backend'),
        },
        required=required)


_FOLDER_NAME = Value('str', pattern=(r'(?!\.\.?$)[^/\\]+', 'a folder name (no / or \\)'), required=True, nullable=False)
_OPTIMIZER = Component(
    {
        'lr': _number(0),
        'betas': ListOf(_number(0, 1), length=2),
        'weight_decay': _number(0),
    },
    registry='optimizer',
    positional=('params', ))
_DATASETS = Section(
    required=True,
    fields={
        'train': dataset_spec(required='train'),
        'val': dataset_spec(),
        'val_*': dataset_spec(),
        'test': dataset_spec(),
        'test_*': dataset_spec(),
    })
_PATH = Section({
    'pretrain_network_*': FilePath(),
    'allow_random_network_*': Value('bool'),  # a frozen network (identity) may be untrained: tests only
    'param_key_*': Value('str'),
    'strict_load_*': Value('bool'),
    **RUN_PATH_OPTIONS,  # resuming, and the experiment folders (filled by the parser)
})
_TRAIN = Section(
    required='train',
    fields={
        'optim_g': _OPTIMIZER,
        'optim_d': _OPTIMIZER,
        'optim_component': _OPTIMIZER,
        'scheduler': Component(registry='scheduler', positional=('optimizer', )),
        'total_iter': _int(1, required='train'),
        'warmup_iter': _int(),
        'ema_decay': _number(0, 1),
        '*_opt': Component(registry='loss'),  # pixel_opt, L1_opt, perceptual_opt, gan_opt, gan_component_opt, ...
        'pyramid_loss_weight': _number(0),
        'remove_pyramid_loss': _number(),
        'comp_style_weight': _number(0),
        'comp_d_fake_loss': Value('str', choices=('gan', 'component')),
        'identity_weight': _number(0),
        'r1_reg_weight': _number(0),
        'net_d_iters': _int(1),
        'net_d_init_iters': _int(0),
        'net_d_reg_every': _int(1),
        'max_nonfinite_steps': _int(0),
        # speed (gfpgan/models/gfpgan_model.py): all off by default, the original's float32 arithmetic
        'mixed_precision': Value('str', choices=tuple(MIXED_PRECISION)),
        'compile': Value('bool'),
        'channels_last': Value('bool'),
        'fused_optimizer': Value('bool'),
        'tf32': Value('bool'),
    })
_VAL = Section(
    nullable=True,
    fields={
        'val_freq': _int(1, required='train'),
        'save_img': Value('bool'),
        'suffix': Value('str'),
        'pbar': Value('bool'),
        'metrics': Section(nullable=True, fields={'*': Component(registry='metric', positional=('img', 'img2'))
                                                  }),
    })
_LOGGER = Section(
    required='train',
    fields={
        'print_freq': _int(1, required='train'),
        'save_checkpoint_freq': _int(1, required='train'),
        'use_tb_logger': Value('bool'),
        'wandb': Section(nullable=True, fields={
            'project': Value('str'),
            'resume_id': Value('str'),
        }),
    })
_DIST_PARAMS = Section({
    'backend': Value('str', choices=('nccl', 'gloo', 'mpi', 'ucc')),
    'port': _int(1, maximum=65535),
})

#: BasicSR's option schema as GFPGAN uses it. Keys may be glob patterns; `Component` sections belong to a
#: registered class and are checked here for their `type` (and the paths they name) only.
SCHEMA = Section({
    'name': _FOLDER_NAME,
    'model_type': TypeName('model', required=True, nullable=False),
    'scale': _int(1),
    'num_gpu': OneOf(_int(0), Value('str', choices=('auto', ))),
    'manual_seed': _int(),
    'find_unused_parameters': Value('bool'),
    'deterministic': Value('bool'),
    # filled by the parser (a value in the file is overwritten)
    'is_train': Value('bool'),
    'dist': Value('bool'),
    'rank': _int(0),
    'world_size': _int(1),
    'auto_resume': Value('bool'),
    'root_path': Value('str'),
    'opt_path': Value('str'),
    'force_yml': ListOf(Value('str')),
    # sections
    'datasets': _DATASETS,
    'network_g': Component({'decoder_load_path': FilePath()}, required=True, nullable=False, registry='arch'),
    'network_*': Component({'decoder_load_path': FilePath()}, registry='arch'),
    'path': _PATH,
    'train': _TRAIN,
    'val': _VAL,
    'logger': _LOGGER,
    'dist_params': _DIST_PARAMS,
})


def extend_schema(dotted_key, spec):
    """Declare an option, e.g. ``extend_schema('train.use_amp', Value('bool'))``; its sections must exist."""
    *parents, name = dotted_key.split('.')
    section = SCHEMA
    for i, part in enumerate(parents):
        section = section.fields.get(part)
        if not isinstance(section, Section):
            raise KeyError(f"'{'.'.join(parents[:i + 1])}' is not a section of the options schema.")
    section.fields[name] = spec
    return spec
