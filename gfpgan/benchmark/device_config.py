"""The device suite's sizes, time estimates, training precisions and small helpers (which option keys the
schema knows, out-of-memory errors, why end to end cannot run)."""
import importlib.util

import torch

from .suites import V14_CONFIG


QUICK_RESTORER = dict(V14_CONFIG, out_size=32, num_style_feat=32, num_mlp=2, channel_multiplier=1, narrow=0.25)

#: Sizes of the device suite: 'full' is the measurement (CUDA), 'quick' the same code path in seconds on a CPU.
DEVICE_SIZES = {
    'full':
    dict(
        restorer=V14_CONFIG,
        restorer_batches=(1, 8, 32),
        restorer_runs=5,
        restorer_warmup=2,
        restorer_compile_all=True,  # compile rows for every dtype and batch (the largest batch first)
        train_options='train_gfpgan_v1.yml',
        train_batch=3,
        train_search=(3, 6, 12, 24, 48, 96, 192, 384),
        train_runs=5,
        train_warmup=1,
        r1_runs=2,
        r1_warmup=1,
        max_runs=3,
        data_options='train_gfpgan_v1.yml',
        data_size=512,
        data_faces=16,
        data_workers=(1, 2, 4, 8, 16),
        data_batch=8,
        data_rounds=4,
        data_min_samples=64,
        photos=4,
        photo_batch=8,
        background='realesrgan'),
    'quick':
    dict(
        restorer=QUICK_RESTORER,
        restorer_batches=(1, 2),
        restorer_runs=1,
        restorer_warmup=1,
        restorer_compile_all=False,
        train_options='train_gfpgan_tiny.yml',
        train_batch=2,
        train_search=(4, ),
        train_runs=1,
        train_warmup=0,
        r1_runs=1,
        r1_warmup=0,
        max_runs=1,
        data_options='train_gfpgan_tiny.yml',
        data_size=64,
        data_faces=4,
        data_workers=(1, ),
        data_batch=2,
        data_rounds=2,
        data_min_samples=4,
        photos=1,
        photo_batch=1,
        background='none'),
}

#: Seconds a case of each kind is expected to take before one was measured (then: the longest measured).
DEVICE_ESTIMATES = {
    'full':
    dict(
        restorer=8,
        restorer_compile=90,
        train=30,
        train_compile=150,
        train_max=60,
        data=10,
        end_to_end=60),
    'quick':
    dict(restorer=0.5, restorer_compile=3, train=2, train_compile=60, train_max=3, data=2, end_to_end=30),
}

#: Training options of the three precisions (``train`` section), on top of TRAIN_COMMON and ``--train-set``.
TRAIN_PRECISIONS = {
    'fp32': {
        'mixed_precision': 'none',
        'compile': False
    },
    'bf16': {
        'mixed_precision': 'bf16',
        'compile': False
    },
    'bf16+compile': {
        'mixed_precision': 'bf16',
        'compile': True
    },
}
TRAIN_COMMON = {'fused_optimizer': True}
DTYPES = {'float32': torch.float32, 'bfloat16': torch.bfloat16, 'float16': torch.float16}
DTYPE_ORDER = list(DTYPES)
PRECISION_ORDER = list(TRAIN_PRECISIONS)


def first_line(err, limit=300):
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:limit] if text else ''}"


def schema_knows(dotted_key):
    """Whether ``gfpgan.options.SCHEMA`` declares option ``dotted_key`` (e.g. 'train.mixed_precision')."""
    import fnmatch

    from gfpgan.options import SCHEMA
    spec = SCHEMA
    for part in dotted_key.split('.'):
        fields = getattr(spec, 'fields', None) or {}
        spec = fields.get(part) or next((v for k, v in fields.items() if fnmatch.fnmatchcase(part, k)), None)
        if spec is None:
            return False
    return True


def is_out_of_memory(err):
    """Whether ``err`` says the GPU ran out of memory (the caching allocator's error, or a library's allocation)."""
    text = str(err)
    return isinstance(err, torch.cuda.OutOfMemoryError) or 'out of memory' in text or 'ALLOC_FAILED' in text


def end_to_end_unavailable():
    """Why photos cannot be restored end to end here (a missing package), or None."""
    missing = [name for name in ('facexlib', 'skimage') if importlib.util.find_spec(name) is None]
    if missing:
        return f"{' and '.join(missing)} not installed (RetinaFace / ParseNet come from facexlib, the photo from " \
            'scikit-image)'
    return None
