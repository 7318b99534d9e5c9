"""FFHQDegradationDataset: clean aligned faces degraded on the fly into (lq, gt) training pairs for GFPGAN."""
import logging
import math

import cv2
import numpy as np
import torch
from torchvision.transforms import functional as TF

from gfpgan.config.spec import Component, FilePath, ListOf, PositiveInt, Probability, Range, Value
from gfpgan.registry import DATASET_REGISTRY
from gfpgan.utils.img_util import resize_square

from . import degradations as deg
from .components import COMPONENTS, component_locations, dataset_key, load_component_boxes
from .image_dataset import NORMALIZATION, ImageDataset, to_normalized_tensor
from .storage import ImageSource

logger = logging.getLogger('gfpgan')

# Values of options/train_gfpgan_v1.yml, used when a key is absent.
V1_DEFAULTS = dict(
    use_hflip=True,
    blur_kernel_size=41,
    kernel_list=['iso', 'aniso'],
    kernel_prob=[0.5, 0.5],
    blur_sigma=[0.1, 10],
    downsample_range=[0.8, 8],
    noise_range=[0, 20],
    jpeg_range=[60, 100],
    color_jitter_prob=None,
    color_jitter_shift=20,
    color_jitter_pt_prob=None,
    brightness=(0.5, 1.5),
    contrast=(0.5, 1.5),
    saturation=(0, 1.5),
    hue=(-0.1, 0.1),
    gray_prob=None,
    gt_gray=False,
    crop_components=False,
    component_path=None,
    eye_enlarge_ratio=1,
)


@DATASET_REGISTRY.register()
class FFHQDegradationDataset(ImageDataset):
    """Aligned face images (``dataroot_gt``, disk folder or LMDB) degraded as in GFPGAN's training.

    lq = blur (random iso / aniso Gaussian) -> bilinear downsample by ``downsample_range`` -> Gaussian noise
    (``noise_range``, 0-255 units) -> JPEG (``jpeg_range``) -> bilinear upsample back, then optional colour
    jitter (RGB shift), grayscale (optionally of gt too) and brightness / contrast / saturation / hue jitter,
    rounded to 8 bits. Returns ``{'lq', 'gt': (3, out_size, out_size) float32 tensors normalised by mean / std,
    'gt_path', 'num_skipped'}`` (unreadable files passed over for this sample, see ImageDataset) plus
    ``loc_left_eye``, ``loc_right_eye``, ``loc_mouth`` ((4,) [x1, y1, x2, y2] in pixels) when ``crop_components``.
    Images not of ``out_size`` are resized to it. Options absent from ``opt`` take the values of
    options/train_gfpgan_v1.yml (:data:`V1_DEFAULTS`).

    ``degrade(img, rng)`` is ``apply_degradation(img, sample_degradation(rng))``: the drawn parameters can be
    recorded and re-applied exactly (scripts/make_test_set.py does so for test sets).
    """
    OPTION_SPEC = {
        'dataroot_gt': FilePath(many=True, required=True),
        'io_backend': Component(registry='io_backend', required=True),
        'out_size': PositiveInt(required=True),
        'mean': NORMALIZATION,
        'std': NORMALIZATION,
        'use_hflip': Value('bool'),
        'blur_kernel_size': Value('int'),
        'kernel_list': ListOf(Value('str')),
        'kernel_prob': ListOf(Value('number')),
        'blur_sigma': Range(1e-6),
        'downsample_range': Range(1e-6),
        'noise_range': Range(0),
        'jpeg_range': Range(0, 100),
        'color_jitter_prob': Probability(),
        'color_jitter_shift': Value('number'),
        'color_jitter_pt_prob': Probability(),
        'brightness': Range(0),
        'contrast': Range(0),
        'saturation': Range(0),
        'hue': Range(-0.5, 0.5),
        'gray_prob': Probability(),
        'gt_gray': Value('bool'),
        'crop_components': Value('bool'),
        'component_path': FilePath(when='crop_components'),
        'eye_enlarge_ratio': Value('number'),
    }
    OPTIONS = frozenset(OPTION_SPEC)

    def __init__(self, opt):
        super().__init__(opt, skip_bad_files=True)
        o = {**V1_DEFAULTS, **opt}
        self.out_size = self.option_value('out_size', o['out_size'])
        self.mean, self.std = o.get('mean'), o.get('std')
        self.gt_folder = o['dataroot_gt']
        self.source = ImageSource(o['dataroot_gt'], o['io_backend'], option='dataroot_gt')
        # the original's names: its io_backend options (with db_paths for LMDB) and the client reading the images
        self.io_backend_opt = dict(o['io_backend'])
        if self.source.type == 'lmdb':
            self.io_backend_opt['db_paths'] = self.gt_folder
        self.file_client = self.source
        self.paths = self.source.keys
        self.use_hflip = bool(o['use_hflip'])

        self.blur_kernel_size = int(o['blur_kernel_size'])
        self.kernel_list, self.kernel_prob = list(o['kernel_list']), list(o['kernel_prob'])
        self.blur_sigma = self.option_value('blur_sigma', o['blur_sigma'])
        self.downsample_range = self.option_value('downsample_range', o['downsample_range'])
        self.noise_range = self.option_value('noise_range', o['noise_range'])
        self.jpeg_range = self.option_value('jpeg_range', o['jpeg_range'])
        self.color_jitter_prob = self.option_value('color_jitter_prob', o['color_jitter_prob'])
        self.color_jitter_shift = float(o['color_jitter_shift']) / 255.
        self.color_jitter_pt_prob = self.option_value('color_jitter_pt_prob', o['color_jitter_pt_prob'])
        self.jitter_ranges = tuple(
            self.option_value(key, o[key]) for key in ('brightness', 'contrast', 'saturation', 'hue'))
        self.gray_prob = self.option_value('gray_prob', o['gray_prob'])
        self.gt_gray = bool(o['gt_gray'])
        # Make one kernel now: a bad kernel option fails here, not in a worker hours later.
        deg.mixed_kernel(**self.sample_kernel(np.random.default_rng(0)))

        self.crop_components = bool(o['crop_components'])
        self.eye_enlarge_ratio = float(o['eye_enlarge_ratio'])
        self.components_list = None  # {'00000000': {part: (x, y, half_len)}} (the original's name)
        if self.crop_components:
            self.require(opt, 'component_path', owner='FFHQDegradationDataset with crop_components')
            self.components_list = load_component_boxes(o['component_path'])
            self.component_keys = self._component_keys(o['component_path'])
            missing = [i for i, key in enumerate(self.component_keys) if key not in self.components_list]
            if missing:
                raise ValueError(f"The component boxes file '{o['component_path']}' has no entry "
                                 f"'{self.component_keys[missing[0]]}' for image {self.paths[missing[0]]} "
                                 f'({len(missing)} of {len(self)} images lack boxes); make boxes for this dataset with '
                                 'scripts/extract_components.py.')
        logger.info(
            'FFHQDegradationDataset: %d images in %s; blur %s sigma %s, downsample %s, noise %s, jpeg %s, '
            'colour jitter %s / %s, gray %s', len(self), o['dataroot_gt'], self.kernel_list, self.blur_sigma,
            self.downsample_range, self.noise_range, self.jpeg_range, self.color_jitter_prob, self.color_jitter_pt_prob,
            self.gray_prob)

    def __len__(self):
        return len(self.paths)

    @property
    def components(self):
        """The loaded eye / mouth boxes (``components_list``), None without ``crop_components``."""
        return self.components_list

    @staticmethod
    def color_jitter(img, shift):
        """The original's RGB jitter: (H, W, 3) float32 in [0, 1] plus one offset per channel drawn uniformly from
        [-shift, shift] with numpy's global generator, clipped to [0, 1] (training draws from the dataset's own
        generator instead, :meth:`sample_degradation`)."""
        return deg.rgb_shift(img, np.random.uniform(-shift, shift, 3).astype(np.float32))

    @staticmethod
    def color_jitter_pt(img, brightness, contrast, saturation, hue):
        """The original's colour jitter on a (..., 3, H, W) RGB tensor in [0, 1]: brightness, contrast, saturation
        and hue adjustments (torchvision's) in a random order, factors uniform in the given (low, high) ranges, drawn
        from torch's global generator; a None range skips its adjustment."""
        adjust = (TF.adjust_brightness, TF.adjust_contrast, TF.adjust_saturation, TF.adjust_hue)
        ranges = (brightness, contrast, saturation, hue)
        for i in torch.randperm(4).tolist():
            if ranges[i] is not None:
                factor = torch.tensor(1.0).uniform_(ranges[i][0], ranges[i][1]).item()
                img = adjust[i](img, factor)
        return img

    def _component_keys(self, component_path):
        """The box-file key of each image: its file name without extension when the file has an entry for every
        image's name (a file made by prepare_dataset.py: some images may then be removed from the folder), else its
        index as 8 digits, the original's rule (the release file for FFHQ, whose images are named 00000.png ...).
        A file that names some images but would give them another image's boxes by position is refused."""
        stems = [self.source.stem(path) for path in self.paths]
        if all(stem in self.components_list for stem in stems):
            return stems
        by_position = [dataset_key(i) for i in range(len(self))]
        clash = next((i for i, stem in enumerate(stems) if stem in self.components_list and stem != by_position[i]),
                     None)
        if clash is not None:
            unnamed = next(self.paths[i] for i, stem in enumerate(stems) if stem not in self.components_list)
            raise ValueError(f"The component boxes file '{component_path}' names images by file name, "
                             f"but has no entry for {unnamed}, and by position image {self.paths[clash]} would get "
                             f"the boxes of '{by_position[clash]}'; make boxes for the images added to this folder "
                             '(scripts/extract_components.py) or remove them.')
        return by_position

    def get_component_coordinates(self, index, status):
        """[loc_left_eye, loc_right_eye, loc_mouth], each a (4,) float32 tensor [x1, y1, x2, y2] in out_size
        pixels, for image ``index``; ``status`` is the augmentation status [hflip, ...] (a flip swaps the eyes and
        mirrors x), eyes enlarged by ``eye_enlarge_ratio``. The loaded boxes are never modified."""
        return list(
            component_locations(
                self.components_list[self.component_keys[index]],
                self.out_size,
                hflip=bool(status[0]),
                eye_enlarge_ratio=self.eye_enlarge_ratio))

    def sample_kernel(self, rng):
        """Parameters of one blur kernel (:func:`~gfpgan.data.degradations.sample_mixed_kernel`) and its size."""
        params = deg.sample_mixed_kernel(
            self.kernel_list, self.kernel_prob, self.blur_sigma, self.blur_sigma, [-math.pi, math.pi], rng=rng)
        return {'kernel_size': self.blur_kernel_size, **params}

    def read_gt(self, index):
        """(out_size, out_size, 3) float32 RGB in [0, 1]."""
        return resize_square(self.source.read(self.paths[index]), self.out_size)

    def sample_degradation(self, rng, shape=None):
        """Draw the parameters of one degradation of an image of ``shape`` (H, W, C) (default (out_size, out_size,
        3)): a dict of plain values (storable as JSON) for :meth:`apply_degradation`.

        ``{'shape', 'kernel': {kernel_size, kernel_type, sigma_x, sigma_y, rotation[, beta]}, 'downsample_scale',
        'noise': {sigma, gray_noise, rng_state} or None, 'jpeg_quality' or None, 'rgb_shift': [3 offsets in 0-1
        units] or None, 'gray', 'color_jitter': [[name, factor], ...] in applied order or None}``.
        """
        shape = [int(v) for v in (shape if shape is not None else (self.out_size, self.out_size, 3))]
        params = {'shape': shape, 'kernel': self.sample_kernel(rng)}
        params['downsample_scale'] = scale = rng.uniform(*self.downsample_range)
        params['noise'] = params['jpeg_quality'] = params['rgb_shift'] = params['color_jitter'] = None
        if self.noise_range is not None:
            small = deg.downsampled_size(shape[0], shape[1], scale) + tuple(shape[2:])
            params['noise'] = deg.sample_gaussian_noise(small, self.noise_range, rng=rng)
        if self.jpeg_range is not None:
            params['jpeg_quality'] = deg.random_jpeg_quality(self.jpeg_range, rng=rng)
        if self.color_jitter_prob is not None and rng.uniform() < self.color_jitter_prob:
            params['rgb_shift'] = deg.sample_rgb_shift(self.color_jitter_shift, rng=rng).tolist()
        params['gray'] = bool(self.gray_prob and rng.uniform() < self.gray_prob)
        if self.color_jitter_pt_prob is not None and rng.uniform() < self.color_jitter_pt_prob:
            params['color_jitter'] = deg.sample_color_jitter(*self.jitter_ranges, rng=rng)
        return params

    @staticmethod
    def apply_degradation(img, params):
        """The GFPGAN v1 degradation of parameters ``params`` (from :meth:`sample_degradation`) applied to a
        (H, W, 3) RGB float32 image in [0, 1]: returns (lq, gray_applied), lq of the same shape, 8-bit levels.

        lq = blur -> bilinear downsample -> Gaussian noise -> JPEG -> bilinear upsample back -> RGB shift ->
        grayscale -> brightness / contrast / saturation / hue jitter; absent steps (None) are skipped.
        """
        if list(img.shape) != list(params['shape']):
            raise ValueError(f"Degradation parameters drawn for an image of shape {tuple(params['shape'])} cannot be "
                             f'applied to one of shape {img.shape}.')
        h, w = img.shape[:2]
        lq = deg.filter2d(img, deg.mixed_kernel(**params['kernel']))
        lq = deg.resize_bilinear(lq, deg.downsampled_size(h, w, params['downsample_scale']))
        if params['noise'] is not None:
            lq = deg.apply_gaussian_noise(lq, params['noise'])
        if params['jpeg_quality'] is not None:
            lq = deg.jpeg_compress(lq, params['jpeg_quality'])
        lq = deg.resize_bilinear(lq, (h, w))
        if params['rgb_shift'] is not None:
            lq = deg.rgb_shift(lq, params['rgb_shift'])
        if params['gray']:
            lq = deg.rgb_to_grayscale(lq)
        if params['color_jitter'] is not None:
            lq = deg.color_jitter(lq, params['color_jitter'])
        return deg.quantize(lq), params['gray']

    def degrade(self, img, rng):
        """The GFPGAN v1 degradation of a (H, W, 3) RGB float32 image, parameters drawn from ``rng``: returns
        (lq, gray_applied). Equal to ``apply_degradation(img, sample_degradation(rng, img.shape))``."""
        return self.apply_degradation(img, self.sample_degradation(rng, img.shape))

    def load(self, index):
        rng = self.rng
        gt = self.read_gt(index)
        hflip = self.use_hflip and rng.uniform() < 0.5
        if hflip:
            gt = cv2.flip(gt, 1)
        lq, gray = self.degrade(gt, rng)
        if gray and self.gt_gray:
            gt = deg.rgb_to_grayscale(gt)
        out = {
            'lq': to_normalized_tensor(lq, self.mean, self.std),
            'gt': to_normalized_tensor(gt, self.mean, self.std),
            'gt_path': self.paths[index]
        }
        if self.crop_components:
            locations = self.get_component_coordinates(index, [hflip, False, False])
            out.update({f'loc_{part}': loc for part, loc in zip(COMPONENTS, locations)})
        return out
