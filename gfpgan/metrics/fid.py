"""Fréchet Inception Distance (FID) between image sets, as pytorch-fid computes it.

Features are the 2048-d pool3 activations of the TensorFlow-ported FID InceptionV3
(``pt_inception-2015-12-05-6726825d.pth``), assembled here from pytorch-fid's public blocks so that no
download happens behind the project's back: the weights come from ``resolve_weights`` (given path,
``experiments/pretrained_models/``, caches, then the release URL) and are loaded with
``torch.load(weights_only=True)``. Statistics files are the community ``{'mean', 'cov'}`` torch files
(BasicSR / GFPGAN's ``inception_FFHQ_512.pth``) and pytorch-fid's ``{'mu', 'sigma'}`` .npz.

FID is registered as the set-level metric ``fid`` (``FID``, ``per_image = False``): it is a property of a whole
set (a mean and a 2048 x 2048 covariance estimated from thousands of images), so it is no ``val.metrics`` entry;
evaluation calls it on folders (``FID.of_set``, ``calculate_fid_folder``, ``scripts/calculate_fid_stats.py``).
"""
import os
import warnings
import zipfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import linalg
from tqdm import tqdm

from gfpgan.utils.checkpoint import CheckpointError, atomic_save, load_checkpoint_file, load_network
from gfpgan.utils.fileio import atomic_write
from gfpgan.utils.img_util import read_image
from gfpgan.utils.optional import import_optional
from gfpgan.utils.weights import resolve_weights

from .base import Metric
from .metric_util import resolve_device

__all__ = [
    'FID_WEIGHTS_FILE', 'FIDInception', 'resolve_fid_weights', 'image_features', 'feature_statistics',
    'frechet_distance', 'folder_statistics', 'save_fid_statistics', 'load_fid_statistics', 'calculate_fid_folder',
    'required_weights', 'REQUIRED_PACKAGE', 'FID'
]

FID_WEIGHTS_FILE = 'pt_inception-2015-12-05-6726825d.pth'  # pytorch-fid's release (URL, SHA-256: the catalogue)
INPUT_SIZE = 299  # InceptionV3's input side; every image is resized to it bilinearly
FEATURE_DIMS = 2048


REQUIRED_PACKAGE = 'pytorch_fid'


def required_weights(weights=None):
    """(file name or path, what it is) of the pretrained file FIDInception(weights) loads."""
    return [(FID_WEIGHTS_FILE if weights is None else weights, 'the FID InceptionV3')]


def resolve_fid_weights(weights=None, progress=True):
    """Local path of the FID Inception weights: ``weights`` (a path or file name; None means the release file)
    resolved by ``resolve_weights``. Only the release file name is downloaded (and SHA-256 checked when found
    in a search folder); offline, WeightsNotFoundError says which file to put where."""
    return resolve_weights(FID_WEIGHTS_FILE if weights is None else weights, progress=progress)


def _fid_inception_v3():
    """torchvision's Inception3 patched into pytorch-fid's FID variant (1008 classes, no aux head, TF-style
    pooling in the mixed blocks), randomly initialised: the key layout of ``pt_inception-*.pth``."""
    import torchvision
    fid_inception = import_optional('pytorch_fid.inception', 'The FID metric')
    FIDInceptionA, FIDInceptionC = fid_inception.FIDInceptionA, fid_inception.FIDInceptionC
    FIDInceptionE_1, FIDInceptionE_2 = fid_inception.FIDInceptionE_1, fid_inception.FIDInceptionE_2

    inception = torchvision.models.inception_v3(weights=None, aux_logits=False, num_classes=1008, init_weights=False)
    inception.Mixed_5b = FIDInceptionA(192, pool_features=32)
    inception.Mixed_5c = FIDInceptionA(256, pool_features=64)
    inception.Mixed_5d = FIDInceptionA(288, pool_features=64)
    inception.Mixed_6b = FIDInceptionC(768, channels_7x7=128)
    inception.Mixed_6c = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6d = FIDInceptionC(768, channels_7x7=160)
    inception.Mixed_6e = FIDInceptionC(768, channels_7x7=192)
    inception.Mixed_7b = FIDInceptionE_1(1280)
    inception.Mixed_7c = FIDInceptionE_2(2048)
    return inception


def _resize_to_input(x):
    """(B, 3, H, W) -> (B, 3, 299, 299), bilinear without antialiasing, as pytorch-fid (identity at 299)."""
    return F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode='bilinear', align_corners=False)


class FIDInception(nn.Module):
    """pytorch-fid's InceptionV3 for FID: (B, 3, H, W) RGB in [0, 1] -> (B, 2048) pool3 features.

    Args:
        weights: path or file name of ``pt_inception-2015-12-05-6726825d.pth``; None resolves the release
            file (``experiments/pretrained_models/``, caches, then its URL).
        pretrained: False builds the same network with random weights (He-initialised convolutions, from
            torch's global RNG) for tests and smoke runs, and reads no file.

    The submodules are laid out as pytorch-fid's ``InceptionV3(output_blocks=[3])`` (``blocks.0`` ...
    ``blocks.3``), so the two state_dicts are interchangeable. Parameters are frozen; the module is in eval mode.
    """

    def __init__(self, weights=None, pretrained=True):
        super().__init__()
        self.weights_path = None
        if pretrained:
            self.weights_path = resolve_fid_weights(weights)  # before building: offline fails at once
        elif weights is not None:
            raise ValueError('FIDInception got weights together with pretrained=False; pass one or the other.')
        inception = _fid_inception_v3()
        if self.weights_path is not None:
            load_network(inception, self.weights_path)
        else:
            for module in inception.modules():  # He init: features of a real network's scale (~0.1 to 1), not ~1e-8
                if isinstance(module, nn.Conv2d):
                    nn.init.kaiming_normal_(module.weight, nonlinearity='relu')
        self.blocks = nn.ModuleList([
            nn.Sequential(inception.Conv2d_1a_3x3, inception.Conv2d_2a_3x3, inception.Conv2d_2b_3x3,
                          nn.MaxPool2d(kernel_size=3, stride=2)),
            nn.Sequential(inception.Conv2d_3b_1x1, inception.Conv2d_4a_3x3, nn.MaxPool2d(kernel_size=3, stride=2)),
            nn.Sequential(inception.Mixed_5b, inception.Mixed_5c, inception.Mixed_5d, inception.Mixed_6a,
                          inception.Mixed_6b, inception.Mixed_6c, inception.Mixed_6d, inception.Mixed_6e),
            nn.Sequential(inception.Mixed_7a, inception.Mixed_7b, inception.Mixed_7c,
                          nn.AdaptiveAvgPool2d(output_size=(1, 1))),
        ])
        self.requires_grad_(False)
        self.eval()

    def forward(self, x):
        """(B, 3, H, W) float RGB in [0, 1] (any size) -> (B, 2048) features; resized to 299 x 299 and mapped
        to [-1, 1] as pytorch-fid does with resize_input and normalize_input."""
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f'FIDInception expects (B, 3, H, W) RGB images, got shape {tuple(x.shape)}.')
        if not x.is_floating_point():
            raise ValueError(f'FIDInception expects float images in [0, 1], got {x.dtype}.')
        x = _resize_to_input(x.to(self.blocks[0][0].conv.weight.dtype))
        x = 2 * x - 1
        for block in self.blocks:
            x = block(x)
        return x.flatten(1)


def _image_tensor(item):
    """A file path (any format read_image decodes) or a (H, W, 3) BGR uint8 array -> (3, H, W) float32 RGB
    in [0, 1]."""
    if isinstance(item, (str, os.PathLike)):
        img = read_image(item)
    elif isinstance(item, np.ndarray):
        if item.ndim != 3 or item.shape[2] != 3 or item.dtype != np.uint8:
            raise ValueError(f'Images given as arrays must be (H, W, 3) BGR uint8, got {item.shape} {item.dtype}.')
        img = np.divide(item[:, :, ::-1], np.float32(255), dtype=np.float32)
    else:
        raise TypeError(f'Expected image file paths or (H, W, 3) BGR uint8 arrays, got {type(item).__name__}.')
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


def _batch(tensors):
    """(3, H, W) tensors -> one (B, 3, H', W') batch; images of different sizes are resized to 299 one by one
    first, which gives the same result as resizing inside the network."""
    if all(t.shape == tensors[0].shape for t in tensors):
        return torch.stack(tensors)
    return torch.cat([_resize_to_input(t[None]) for t in tensors])


def _loaded_batches(items, batch_size, num_workers):
    """Yield lists of (3, H, W) tensors, ``batch_size`` at a time, decoding the next batch in threads while the
    caller runs the network on the current one (at most two batches in memory)."""
    chunks = [items[i:i + batch_size] for i in range(0, len(items), batch_size)]
    pool = ThreadPoolExecutor(max_workers=num_workers)
    try:
        queued = [pool.submit(_image_tensor, item) for item in chunks[0]]
        for k in range(len(chunks)):
            current = queued
            if k + 1 < len(chunks):
                queued = [pool.submit(_image_tensor, item) for item in chunks[k + 1]]
            yield [future.result() for future in current]
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def image_features(paths_or_images, model, batch_size=32, device=None, progress=True, num_workers=None):
    """(N, D) float32 features (D = 2048 for FIDInception) of N images, in order.

    Args:
        paths_or_images: image file paths, or (H, W, 3) BGR uint8 arrays (cv2's layout); sizes may differ.
        model: a network mapping (B, 3, H, W) RGB in [0, 1] to (B, D), e.g. FIDInception; it is moved to
            ``device`` and put in eval mode.
        device: None picks CUDA when available, else the CPU.
        num_workers: threads decoding images ahead of the network (default: min(4, CPU count)).
    """
    items = list(paths_or_images)
    if not items:
        raise ValueError('image_features got no images.')
    if int(batch_size) < 1:
        raise ValueError(f'batch_size must be a positive integer, got {batch_size}.')
    batch_size = int(batch_size)
    device = resolve_device(device)
    num_workers = num_workers or min(4, os.cpu_count() or 1)
    model = model.to(device).eval()
    features = None
    with tqdm(total=len(items), unit='img', desc='FID features', disable=not progress) as bar, torch.no_grad():
        start = 0
        for tensors in _loaded_batches(items, batch_size, num_workers):
            out = model(_batch(tensors).to(device))
            if out.ndim != 2 or out.shape[0] != len(tensors):
                raise ValueError(f'The feature network must return (B, D) features, got shape {tuple(out.shape)}.')
            if features is None:
                features = np.empty((len(items), out.shape[1]), dtype=np.float32)
            features[start:start + len(tensors)] = out.float().cpu().numpy()
            start += len(tensors)
            bar.update(len(tensors))
    return features


def feature_statistics(features):
    """(N, D) features -> (mu (D,), sigma (D, D)) in float64: the mean and the unbiased covariance
    (``np.cov(rowvar=False)``), pytorch-fid's statistics."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f'Features must be an (N, D) array, got shape {features.shape}.')
    if features.shape[0] < 2:
        raise ValueError(f'FID statistics need at least 2 images (feature rows) for a covariance, '
                         f'got {features.shape[0]}.')
    return features.mean(axis=0), np.cov(features, rowvar=False)


def _statistics_arrays(mu, sigma, what):
    """``mu`` as (D,) and ``sigma`` as (D, D) float64 arrays (numpy or torch input), or a ValueError naming
    ``what`` they are."""
    if isinstance(mu, torch.Tensor):
        mu = mu.detach().cpu().numpy()
    if isinstance(sigma, torch.Tensor):
        sigma = sigma.detach().cpu().numpy()
    mu = np.asarray(mu, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if mu.ndim != 1:
        raise ValueError(f'The mean of {what} must be a (D,) vector, got shape {mu.shape}.')
    if sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(f'The covariance of {what} must be ({mu.shape[0]}, {mu.shape[0]}) to match its mean, '
                         f'got shape {sigma.shape}.')
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        raise ValueError(f'The statistics of {what} contain NaN or infinite values.')
    return mu, sigma


def _sqrtm(matrix):
    """scipy's principal matrix square root, with its singular-matrix warnings silenced (the caller checks
    the result)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return linalg.sqrtm(matrix)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Fréchet distance between the Gaussians N(mu1, sigma1) and N(mu2, sigma2) (the FID when these are
    Inception feature statistics): ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 sqrt(sigma1 sigma2)).

    ``mu`` are (D,) and ``sigma`` (D, D), numpy arrays or tensors, computed in float64. As pytorch-fid and
    BasicSR do, the root comes from ``scipy.linalg.sqrtm``; when it is not finite (a singular product) it is
    taken again of (sigma1 + eps I)(sigma2 + eps I); a negligible imaginary part (rounding) is dropped and a
    significant one (|imag| > 1e-3 on the diagonal) raises ValueError. Identical covariances skip the root:
    sqrt(sigma sigma) = sigma for a covariance, so the trace term is exactly 0.
    """
    mu1, sigma1 = _statistics_arrays(mu1, sigma1, 'the first set')
    mu2, sigma2 = _statistics_arrays(mu2, sigma2, 'the second set')
    if mu1.shape != mu2.shape:
        raise ValueError(f'The two sets have features of different sizes ({mu1.shape[0]} and {mu2.shape[0]}); '
                         'compute both with the same network.')
    diff = mu1 - mu2
    if np.array_equal(sigma1, sigma2):
        return float(diff.dot(diff))
    covmean = _sqrtm(sigma1.dot(sigma2))
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset))
        if not np.isfinite(covmean).all():
            raise ValueError(f'The square root of the covariance product is not finite even with an offset of '
                             f'{eps} on the diagonal; the statistics are degenerate.')
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f'The square root of the covariance product has a significant imaginary part '
                             f'(up to {np.max(np.abs(covmean.imag)):.3g}); the covariances are not valid.')
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def _folder_images(folder, recursive=False):
    """Sorted image paths of ``folder``; FileNotFoundError naming the folder when it is missing or holds none."""
    from gfpgan.data.storage import scan_images  # the data package is heavy; only folder functions need it
    return scan_images(folder, recursive=recursive)


def folder_statistics(folder, model=None, batch_size=32, device=None, progress=True, recursive=False, num_workers=None):
    """(mu (2048,), sigma (2048, 2048)) float64 of the images in ``folder`` (sorted; subfolders with
    ``recursive``). ``model`` defaults to FIDInception() with the release weights."""
    paths = _folder_images(folder, recursive)
    model = model if model is not None else FIDInception()
    return feature_statistics(image_features(paths, model, batch_size, device, progress, num_workers))


def save_fid_statistics(path, mu, sigma, num_images=None):
    """Write FID statistics atomically: ``.npz`` as pytorch-fid's ``{'mu', 'sigma'}``, anything else as the
    community torch file ``{'mean', 'cov'}`` (float64 tensors, loadable with ``torch.load(weights_only=True)``;
    ``num_images`` is stored too when given)."""
    path = os.fspath(path)
    mu, sigma = _statistics_arrays(mu, sigma, f"'{path}'")
    if path.lower().endswith('.npz'):
        with atomic_write(path) as f:
            np.savez_compressed(f, mu=mu, sigma=sigma)
        return
    stats = {'mean': torch.from_numpy(mu), 'cov': torch.from_numpy(sigma)}
    if num_images is not None:
        stats['num_images'] = int(num_images)
    atomic_save(stats, path)


def _numpy_safe_globals():
    """What ``torch.load(weights_only=True)`` must allow to rebuild plain float numpy arrays (files such as
    BasicSR's inception_FFHQ_512.pth store np.mean / np.cov results), under numpy 1.x and 2.x names. Nothing
    here calls arbitrary code: array contents are raw bytes, and object arrays would still need their element
    types allowlisted."""
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    float_dtypes = [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64)]  # their pickled state
    return [(_reconstruct, 'numpy.core.multiarray._reconstruct'),
            (_reconstruct, 'numpy._core.multiarray._reconstruct'), np.ndarray, np.dtype] + float_dtypes


def _is_npz(path):
    """Whether ``path`` is a numpy .npz archive (a zip of .npy files; torch files are zips of data.pkl)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return bool(names) and all(name.endswith('.npy') for name in names)


_FORMATS = "a torch file with {'mean', 'cov'} (e.g. inception_FFHQ_512.pth) or a pytorch-fid .npz with {'mu', 'sigma'}"


def load_fid_statistics(path):
    """(mu (D,), sigma (D, D)) float64 from a statistics file: a torch file ``{'mean', 'cov'}`` of tensors or
    numpy arrays (read with ``weights_only=True``: nothing in it can run code) or a pytorch-fid ``.npz``
    ``{'mu', 'sigma'}``. Anything else is a ValueError naming the file and the expected formats."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"The FID statistics file '{path}' does not exist.")
    if _is_npz(path):
        with np.load(path, allow_pickle=False) as data:
            if not {'mu', 'sigma'} <= set(data.files):
                raise ValueError(f"'{path}' holds {sorted(data.files)}, not FID statistics: expected {_FORMATS}.")
            mu, sigma = data['mu'], data['sigma']
    else:
        try:
            if hasattr(torch.serialization, 'safe_globals'):
                with torch.serialization.safe_globals(_numpy_safe_globals()):
                    stats = load_checkpoint_file(path)
            else:  # torch < 2.5: tensors only
                stats = load_checkpoint_file(path)
        except CheckpointError as err:
            raise ValueError(f"Cannot read FID statistics from '{path}', which should be {_FORMATS}: {err}") from err
        if isinstance(stats, dict) and {'mean', 'cov'} <= set(stats):
            mu, sigma = stats['mean'], stats['cov']
        elif isinstance(stats, dict) and {'mu', 'sigma'} <= set(stats):
            mu, sigma = stats['mu'], stats['sigma']
        else:
            held = f'keys {sorted(map(str, stats))}' if isinstance(stats, dict) else f'a {type(stats).__name__}'
            raise ValueError(f"'{path}' holds {held}, not FID statistics: expected {_FORMATS}.")
    return _statistics_arrays(mu, sigma, f"'{path}'")


def calculate_fid_folder(folder,
                         reference,
                         model=None,
                         batch_size=32,
                         device=None,
                         progress=True,
                         recursive=False,
                         num_workers=None):
    """FID of the images in ``folder`` against ``reference``: another folder of images or a statistics file
    (see ``load_fid_statistics``). Inputs are checked before any network runs; ``model`` defaults to
    FIDInception() with the release weights and is shared by both folders."""
    paths = _folder_images(folder, recursive)
    if os.path.isdir(reference):
        ref_paths, ref_stats = _folder_images(reference, recursive), None
    else:
        ref_paths, ref_stats = None, load_fid_statistics(reference)
    model = model if model is not None else FIDInception()
    stats = feature_statistics(image_features(paths, model, batch_size, device, progress, num_workers))
    if ref_stats is None:
        same = [os.path.realpath(p) for p in ref_paths] == [os.path.realpath(p) for p in paths]
        ref_stats = stats if same else feature_statistics(
            image_features(ref_paths, model, batch_size, device, progress, num_workers))
    return frechet_distance(*stats, *ref_stats)


class FID(Metric):
    """``fid``: the FID of a set of images against ``reference``, a statistics file ({'mean', 'cov'} torch file or
    pytorch-fid .npz) or a folder of reference images."""
    name, label, higher_is_better, needs_reference, per_image = 'fid', 'FID', False, False, False
    required_package = (REQUIRED_PACKAGE, 'The FID metric')

    @classmethod
    def required_weights(cls, weights=None, **options):
        return required_weights(weights)

    def __init__(self, reference, weights=None, device=None):
        self.reference, self.weights, self.device = reference, weights, device

    def of_set(self, paths, progress=True):
        """FID of the images ``paths`` (the Inception network is built here, when the set is ready)."""
        model = FIDInception(weights=self.weights)
        if os.path.isdir(self.reference):
            mu_ref, sigma_ref = folder_statistics(self.reference, model, device=self.device, progress=progress)
        else:
            mu_ref, sigma_ref = load_fid_statistics(self.reference)
        mu, sigma = feature_statistics(image_features(list(paths), model, device=self.device, progress=progress))
        return frechet_distance(mu, sigma, mu_ref, sigma_ref)
