"""Regenerate tests/data/niqe/basicsr_reference.json: what BasicSR 1.4.2 computes for NIQE, so that
tests/metrics/test_niqe.py can check gfpgan.metrics.niqe against it without BasicSR.

Run it in an environment where the official ``basicsr`` 1.4.2 imports (never the project's own), from the
repository root: ``MKL_CBWR=COMPATIBLE python tests/data/niqe/make_reference.py``. The script sets
MKL_CBWR=COMPATIBLE itself when unset: BasicSR's MATLAB-style resize runs through torch's ``mv`` (MKL), whose
float32 summation order depends on the CPU code path, and NIQE's table look-up of the AGGD shape turns
those last-bit differences into changes of up to ~6e-4 relative; the compatible path is reproducible.

Stored (images are rebuilt from the recipes below, with skimage's bundled images):
- ``imresize``: BasicSR's ``imresize`` of small seeded arrays (a few scales, with and without antialiasing).
- ``fit``: a pristine model fitted with BasicSR's own primitives (its MSCN, ``compute_feature``, ``imresize``)
  following the paper's selection of sharp blocks, summarised by its mean and covariance diagonal;
  the test fits with ``fit_niqe_params`` and compares.
- ``images``: for each evaluation image, BasicSR's ``niqe`` with the model fitted by this repository's
  ``fit_niqe_params`` (the same the test regenerates), the sums of its rounded Y image and the mean block
  features (36) it uses; and BasicSR's ``calculate_niqe`` with its published ``niqe_pris_params.npz``.
"""
import json
import os
import sys

import cv2
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, 'basicsr_reference.json')

# pristine-model images: textured skimage images (the evaluation images are not among them)
FIT_IMAGES = ('brick', 'grass', 'gravel', 'immunohistochemistry', 'coins')
FIT_THRESHOLD = 0.75
# evaluation images: name -> (skimage image, Gaussian blur sigma, noise sigma); noise from default_rng(0)
EVAL_IMAGES = {
    'astronaut': ('astronaut', 0, 0),
    'camera': ('camera', 0, 0),
    'coffee': ('coffee', 0, 0),
    'chelsea': ('chelsea', 0, 0),
    'astronaut_blur2': ('astronaut', 2, 0),
    'astronaut_noise20': ('astronaut', 0, 20),
}
# calculate_niqe arguments evaluated for each image
SETTINGS = ({
    'crop_border': 0,
    'convert_to': 'y'
}, {
    'crop_border': 4,
    'convert_to': 'y'
}, {
    'crop_border': 0,
    'convert_to': 'gray'
})
# imresize cases: (shape, seed, scale, antialiasing); input = default_rng(seed).random(shape) as float32
RESIZE_CASES = (((10, 8), 0, 0.5, True), ((9, 7), 1, 0.5, True), ((5, 4), 2, 2, True), ((11, 9), 3, 0.3, True),
                ((7, 6), 4, 0.75, False), ((4, 5, 3), 5, 1.5, True))


def skimage_bgr(name):
    """A bundled skimage image as uint8 BGR (H, W, 3), or (H, W) for gray ones."""
    import skimage.data
    img = getattr(skimage.data, name)()
    return cv2.cvtColor(img, cv2.COLOR_RGB2BGR) if img.ndim == 3 else img


def eval_image(name):
    """The evaluation image ``name`` of EVAL_IMAGES, uint8."""
    source, blur, noise = EVAL_IMAGES[name]
    img = skimage_bgr(source)
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    if noise:
        noisy = img + np.random.default_rng(0).normal(0, noise, img.shape)
        img = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
    return img


def resize_input(shape, seed):
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _float32_list(array):
    """Nested lists of the shortest decimals that read back to the same float32 values."""
    return np.vectorize(lambda v: float(str(np.float32(v))), otypes=[object])(array).tolist()


def _short(values, digits=10):
    """Values with ``digits`` significant digits: far finer than the tolerances, and a smaller file."""
    return [float(f'{v:.{digits}g}') for v in np.asarray(values, dtype=np.float64).ravel()]


def setting_key(setting):
    return f"{setting['convert_to']}_crop{setting['crop_border']}"


def _basicsr_prepare(img, crop_border, convert_to):
    """BasicSR calculate_niqe's preparation, by its own functions: rounded float32 (H, W)."""
    from basicsr.metrics.metric_util import reorder_image, to_y_channel
    img = reorder_image(img.astype(np.float32), input_order='HWC')
    if convert_to == 'y':
        img = to_y_channel(img)
    elif img.shape[2] == 3:
        img = cv2.cvtColor(img / 255., cv2.COLOR_BGR2GRAY) * 255.
    img = np.squeeze(img)
    if crop_border:
        img = img[crop_border:-crop_border, crop_border:-crop_border]
    return img.round()


def _basicsr_block_features(img, window, block=96):
    """BasicSR niqe()'s per-block features (its loop, its compute_feature and imresize) and the mean local
    deviation of each full-resolution block (the sharpness of the paper's pristine-block selection)."""
    from scipy.ndimage import convolve
    from basicsr.metrics.niqe import compute_feature
    from basicsr.utils.matlab_functions import imresize
    num_h, num_w = img.shape[0] // block, img.shape[1] // block
    img = img[:num_h * block, :num_w * block]
    feats, sharpness = [], []
    for scale in (1, 2):
        mu = convolve(img, window, mode='nearest')
        sigma = np.sqrt(np.abs(convolve(np.square(img), window, mode='nearest') - np.square(mu)))
        mscn = (img - mu) / (sigma + 1)
        rows = []
        for iw in range(num_w):
            for ih in range(num_h):
                sl = (slice(ih * block // scale,
                            (ih + 1) * block // scale), slice(iw * block // scale, (iw + 1) * block // scale))
                rows.append(compute_feature(mscn[sl]))
                if scale == 1:
                    sharpness.append(float(np.mean(sigma[sl], dtype=np.float64)))
        feats.append(np.array(rows))
        if scale == 1:
            img = imresize(img / 255., scale=0.5, antialiasing=True) * 255.
    return np.concatenate(feats, axis=1), np.array(sharpness)


def main():
    os.environ.setdefault('MKL_CBWR', 'COMPATIBLE')
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
    import basicsr
    from basicsr.metrics.niqe import calculate_niqe as basicsr_calculate_niqe
    from basicsr.metrics.niqe import niqe as basicsr_niqe
    from basicsr.utils.matlab_functions import imresize as basicsr_imresize
    from gfpgan.metrics.niqe import fit_niqe_params, matlab_gaussian_window

    ref = {
        'generator': 'tests/data/niqe/make_reference.py',
        'basicsr_version': basicsr.__version__,
        'mkl_cbwr': os.environ['MKL_CBWR'],
        'fit_images': list(FIT_IMAGES),
        'fit_threshold': FIT_THRESHOLD,
        'eval_images': {
            k: list(v)
            for k, v in EVAL_IMAGES.items()
        },
    }

    ref['imresize'] = []
    for shape, seed, scale, antialiasing in RESIZE_CASES:
        out = basicsr_imresize(resize_input(shape, seed), scale, antialiasing=antialiasing)
        ref['imresize'].append({
            'shape': list(shape),
            'seed': seed,
            'scale': scale,
            'antialiasing': antialiasing,
            'output': _float32_list(out)
        })

    window = matlab_gaussian_window()
    selected = []
    for name in FIT_IMAGES:
        feats, sharp = _basicsr_block_features(_basicsr_prepare(skimage_bgr(name), 0, 'y'), window)
        selected.append(feats[sharp > FIT_THRESHOLD * sharp.max()])
    selected = np.concatenate(selected)
    selected = selected[~np.isnan(selected).any(axis=1)]
    ref['fit'] = {
        'num_blocks': len(selected),
        'mu': _short(selected.mean(axis=0)),
        'cov_diagonal': _short(np.diag(np.cov(selected, rowvar=False)))
    }

    params = fit_niqe_params([skimage_bgr(name) for name in FIT_IMAGES], sharpness_threshold=FIT_THRESHOLD)
    mu, cov = params['mu_pris_param'], params['cov_pris_param']
    official = os.path.join(os.path.dirname(basicsr.__file__), 'metrics', 'niqe_pris_params.npz')
    ref['images'] = {}
    for name in EVAL_IMAGES:
        img = eval_image(name)
        entry = {}
        for setting in SETTINGS:
            if img.ndim == 2 and setting['convert_to'] == 'gray':
                continue  # BasicSR's gray conversion needs three channels
            prepared = _basicsr_prepare(img, setting['crop_border'], setting['convert_to'])
            entry[setting_key(setting)] = {
                'niqe_fitted': basicsr_niqe(prepared, mu, cov, window),
                'niqe_official': basicsr_calculate_niqe(img, **setting) if os.path.isfile(official) else None
            }
            if setting['crop_border'] == 0 and setting['convert_to'] == 'y':
                feats, _ = _basicsr_block_features(prepared, window)
                entry['y_sum'] = float(prepared.astype(np.float64).sum())
                entry['y_sum_squares'] = float((prepared.astype(np.float64)**2).sum())
                entry['mean_features'] = _short(np.nanmean(feats, axis=0))
        ref['images'][name] = entry
        print(name, {k: v for k, v in entry.items() if isinstance(v, dict)})

    with open(OUTPUT, 'w') as f:  # one line per top-level entry: small, and diffs stay readable
        f.write('{\n' + ',\n'.join(f'{json.dumps(k)}: {json.dumps(v)}' for k, v in ref.items()) + '\n}\n')
    print('wrote', OUTPUT)


if __name__ == '__main__':
    main()
