"""SingleImageDataset: the images of one folder or LMDB, for restoring or evaluating them."""
from gfpgan.config.spec import Component, FilePath
from gfpgan.registry import DATASET_REGISTRY

from .image_dataset import NORMALIZATION, ImageDataset, to_normalized_tensor
from .storage import ImageSource


@DATASET_REGISTRY.register()
class SingleImageDataset(ImageDataset):
    """Every image of ``dataroot_lq`` (folder or LMDB), in sorted order: ``{'lq': (3, H, W) tensor, normalised
    when mean / std are given, 'lq_path'}``; for restoring or evaluating a folder."""
    OPTION_SPEC = {
        'dataroot_lq': FilePath(many=True, required=True),
        'io_backend': Component(registry='io_backend'),  # disk when absent
        'mean': NORMALIZATION,
        'std': NORMALIZATION,
    }
    OPTIONS = frozenset(OPTION_SPEC)

    def __init__(self, opt):
        super().__init__(opt, skip_bad_files=False)
        self.source = ImageSource(opt['dataroot_lq'], opt.get('io_backend') or {'type': 'disk'}, option='dataroot_lq')
        self.mean, self.std = opt.get('mean'), opt.get('std')

    def __len__(self):
        return len(self.source.keys)

    def load(self, index):
        key = self.source.keys[index]
        return {'lq': to_normalized_tensor(self.source.read(key), self.mean, self.std), 'lq_path': key}
