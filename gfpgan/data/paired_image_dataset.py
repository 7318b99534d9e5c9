"""PairedImageDataset: (lq, gt) image pairs from two folders or two LMDBs, for validation (and paired training)."""
import cv2
import numpy as np

from gfpgan.config.spec import Component, FilePath, PositiveInt, Value
from gfpgan.registry import DATASET_REGISTRY

from .image_dataset import NORMALIZATION, ImageDataset, to_normalized_tensor
from .storage import ImageSource


@DATASET_REGISTRY.register()
class PairedImageDataset(ImageDataset):
    """Pairs ``dataroot_lq`` / ``dataroot_gt`` images by name: the lq of gt ``NAME.ext`` is
    ``filename_tmpl.format(NAME)`` with any image extension (LMDB: the key ``filename_tmpl.format(key)``).

    Returns ``{'lq', 'gt': (3, H, W) float32 tensors (normalised when mean / std are given), 'lq_path',
    'gt_path'}``. In the 'train' phase, random ``gt_size`` crops (lq at 1 / ``scale``) with ``use_hflip`` /
    ``use_rot`` augmentation; otherwise gt is cut to ``scale`` times the lq size, as in BasicSR.
    """
    OPTION_SPEC = {
        'dataroot_lq': FilePath(many=True, required=True),
        'dataroot_gt': FilePath(many=True, required=True),
        'io_backend': Component(registry='io_backend', required=True),
        'filename_tmpl': Value('str'),
        'mean': NORMALIZATION,
        'std': NORMALIZATION,
        'gt_size': PositiveInt(),  # needed in the 'train' phase only, which the constructor checks
        'use_hflip': Value('bool'),
        'use_rot': Value('bool'),
    }
    OPTIONS = frozenset(OPTION_SPEC)

    def __init__(self, opt):
        super().__init__(opt, skip_bad_files=opt.get('phase') == 'train')
        self.train = opt.get('phase') == 'train'
        if self.train:
            self.require(opt, 'gt_size', owner="PairedImageDataset in the 'train' phase")
        self.scale = int(opt.get('scale') or 1)
        self.mean, self.std = opt.get('mean'), opt.get('std')
        self.lq_source = ImageSource(opt['dataroot_lq'], opt['io_backend'], option='dataroot_lq')
        self.gt_source = ImageSource(opt['dataroot_gt'], opt['io_backend'], option='dataroot_gt')
        self.pairs = self._pair(opt.get('filename_tmpl', '{}'))

    def _pair(self, tmpl):
        lq_by_stem = {self.lq_source.stem(key): key for key in self.lq_source.keys}
        pairs, missing = [], []
        for gt_key in self.gt_source.keys:
            lq_key = lq_by_stem.get(tmpl.format(self.gt_source.stem(gt_key)))
            if lq_key is None:
                missing.append(gt_key)
            else:
                pairs.append((lq_key, gt_key))
        if missing:
            raise ValueError(
                f"{len(missing)} of {len(self.gt_source.keys)} images in dataroot_gt "
                f"'{self.opt['dataroot_gt']}' have no input named '{tmpl.format(self.gt_source.stem(missing[0]))}' "
                f"(filename_tmpl '{tmpl}') in dataroot_lq '{self.opt['dataroot_lq']}', first: {missing[0]}.")
        return pairs

    def __len__(self):
        return len(self.pairs)

    def _crop_and_flip(self, lq, gt, rng, lq_key):
        lq_size = int(self.opt['gt_size']) // self.scale
        h, w = lq.shape[:2]
        if h < lq_size or w < lq_size:
            raise ValueError(f'The input {lq_key} ({h}x{w}) is smaller than gt_size / scale = {lq_size}.')
        top, left = int(rng.integers(h - lq_size + 1)), int(rng.integers(w - lq_size + 1))
        lq = lq[top:top + lq_size, left:left + lq_size]
        gt = gt[top * self.scale:(top + lq_size) * self.scale, left * self.scale:(left + lq_size) * self.scale]
        if self.opt.get('use_hflip', True) and rng.uniform() < 0.5:
            lq, gt = cv2.flip(lq, 1), cv2.flip(gt, 1)
        if self.opt.get('use_rot', False):
            k = int(rng.integers(4))
            lq, gt = np.rot90(lq, k), np.rot90(gt, k)
        return lq, gt

    def load(self, index):
        lq_key, gt_key = self.pairs[index]
        lq, gt = self.lq_source.read(lq_key), self.gt_source.read(gt_key)
        h, w = lq.shape[:2]
        if self.train:
            if gt.shape[0] < h * self.scale or gt.shape[1] < w * self.scale:
                raise ValueError(f'The reference {gt_key} ({gt.shape[0]}x{gt.shape[1]}) is smaller than {self.scale} '
                                 f'times its input {lq_key} ({h}x{w}); check the pairs or the scale option.')
            lq, gt = self._crop_and_flip(lq, gt[:h * self.scale, :w * self.scale], self.rng, lq_key)
        else:
            gt = gt[:h * self.scale, :w * self.scale]  # as BasicSR: cut to lq * scale (a smaller gt stays as it is)
        return {
            'lq': to_normalized_tensor(lq, self.mean, self.std),
            'gt': to_normalized_tensor(gt, self.mean, self.std),
            'lq_path': lq_key,
            'gt_path': gt_key
        }
