"""The core works without the optional packages (lmdb, lpips, pytorch-fid, facexlib): a subprocess in which they
cannot be imported builds and trains GFPGANModel, builds the disk dataset and GFPGANer, and each feature that needs
one of them fails with one sentence naming the package and its pip command."""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from gfpgan.utils.optional import OPTIONAL_PACKAGES, MissingPackageError, import_optional

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Put in front of sys.meta_path: every import of these packages fails as if they were not installed.
BLOCKER = textwrap.dedent("""
    import sys

    class _NotInstalled:
        BLOCKED = ('lmdb', 'lpips', 'pytorch_fid', 'facexlib', 'filterpy')

        def find_spec(self, name, path=None, target=None):
            if name.split('.')[0] in self.BLOCKED:
                raise ModuleNotFoundError(f'No module named {name!r}', name=name)
            return None

    sys.meta_path.insert(0, _NotInstalled())
    for _name in [m for m in sys.modules if m.split('.')[0] in _NotInstalled.BLOCKED]:
        del sys.modules[_name]
""")

SCRIPT = textwrap.dedent("""
    import json, os, sys
    import cv2, numpy as np, torch, yaml
    tmp = sys.argv[1]
    report = {}

    import gfpgan, gfpgan.archs, gfpgan.losses, gfpgan.metrics, gfpgan.models, gfpgan.data  # noqa: E401
    from gfpgan import GFPGANer
    from gfpgan.data import build_dataset
    from gfpgan.data.components import save_component_boxes
    from gfpgan.models.gfpgan_model import GFPGANModel
    import gfpgan.data.lmdb_util, gfpgan.metrics.fid, gfpgan.metrics.lpips_metric  # noqa: E401
    import gfpgan.metrics.landmark_distance, gfpgan.restoration.face_helper  # noqa: E401

    # training from the tiny config, one step on random data
    with open(os.path.join(ROOT, 'options', 'train_gfpgan_tiny.yml')) as f:
        opt = yaml.safe_load(f)
    opt.update(is_train=True, num_gpu=0, dist=False, rank=0, world_size=1)
    opt['path'] = {'models': os.path.join(tmp, 'models'), 'training_states': os.path.join(tmp, 'states')}
    torch.manual_seed(0)
    model = GFPGANModel(opt)
    gt = torch.rand(2, 3, 64, 64) * 2 - 1
    box = torch.tensor([[20., 20., 30., 30.]] * 2)  # x1, y1, x2, y2
    model.feed_data({'lq': gt.flip(-1), 'gt': gt, 'loc_left_eye': box, 'loc_right_eye': box, 'loc_mouth': box})
    model.optimize_parameters(current_iter=1)
    report['losses_finite'] = all(np.isfinite(v) for v in model.get_current_log().values())

    # the disk dataset of the tiny config
    folder = os.path.join(tmp, 'faces')
    os.makedirs(folder)
    for i in range(2):
        cv2.imwrite(os.path.join(folder, f'{i:03d}.png'), np.full((64, 64, 3), 60 * i + 40, np.uint8))
    boxes = {'left_eye': [200., 240., 20.], 'right_eye': [310., 240., 20.], 'mouth': [256., 370., 40.]}
    save_component_boxes({f'{i:08d}': boxes for i in range(2)}, os.path.join(tmp, 'components.pth'))
    data_opt = dict(opt['datasets']['train'], dataroot_gt=folder, component_path=os.path.join(tmp, 'components.pth'))
    dataset = build_dataset(data_opt)
    report['sample_shape'] = list(dataset[0]['gt'].shape)

    # GFPGANer with a detector object and no parsing: no facexlib involved
    class NoFaces:
        def detect(self, img):
            return []
    net = gfpgan.archs.GFPGANv1Clean(out_size=64, num_style_feat=32, channel_multiplier=1, num_mlp=2, narrow=0.25)
    restorer = GFPGANer(net=net, upscale=1, face_size=64, use_parse=False, device='cpu', det_model=None,
                        detector=NoFaces())
    report['restored_shape'] = list(restorer.enhance(np.zeros((64, 64, 3), np.uint8), has_aligned=True)[1][0].shape)
    helper = restorer.face_helper  # the project's helper stands alone (facexlib's class would be its base)
    report['helper'] = [[base.__name__ for base in type(helper).__bases__],
                        isinstance(helper.face_det, torch.nn.Module), helper.face_det.to('cpu') is helper.face_det]

    # each feature that needs an optional package: one sentence
    weights = os.path.join(tmp, 'weights.pth')
    open(weights, 'wb').close()
    lmdb_folder = os.path.join(tmp, 'faces.lmdb')
    os.makedirs(lmdb_folder)
    open(os.path.join(lmdb_folder, 'data.mdb'), 'wb').close()
    with open(os.path.join(lmdb_folder, 'meta_info.txt'), 'w') as f:
        f.write('00000000.png (64,64,3) 1\\n')
    from gfpgan.data.storage import ImageSource
    features = {
        'lmdb dataset': lambda: ImageSource(lmdb_folder, {'type': 'lmdb'}).read('00000000'),
        'create_lmdb': lambda: gfpgan.data.lmdb_util.create_lmdb(folder, os.path.join(tmp, 'new.lmdb')),
        'lpips': lambda: gfpgan.metrics.lpips_metric.LPIPSMetric(device='cpu', pretrained=False),
        'fid': lambda: gfpgan.metrics.fid._fid_inception_v3(),
        'lmd': lambda: gfpgan.metrics.landmark_distance.FANLandmarkDetector(device='cpu', pretrained=False),
        'retinaface': lambda: gfpgan.restoration.face_helper.RetinaFaceDetector(weights=weights, device='cpu'),
        'parsenet': lambda: gfpgan.restoration.face_helper.ParseNetParser(weights=weights, device='cpu'),
    }
    report['errors'] = {}
    for name, build in features.items():
        try:
            build()
            report['errors'][name] = None
        except Exception as err:
            report['errors'][name] = [type(err).__name__, str(err)]
    report['imported'] = sorted(m for m in sys.modules if m.split('.')[0] in ('lmdb', 'lpips', 'pytorch_fid',
                                                                            'facexlib', 'filterpy'))
    print('REPORT ' + json.dumps(report))
""")


def test_core_works_without_the_optional_packages(tmp_path):
    code = BLOCKER + f'ROOT = {ROOT!r}\nsys.path.insert(0, ROOT)\n' + SCRIPT
    proc = subprocess.run([sys.executable, '-c', code, str(tmp_path)],
                          capture_output=True,
                          text=True,
                          timeout=300,
                          cwd=str(tmp_path),
                          env=dict(os.environ, OMP_NUM_THREADS='2'))
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.split('REPORT ', 1)[1])
    assert report['losses_finite']
    assert report['sample_shape'] == [3, 64, 64]
    assert report['restored_shape'] == [64, 64, 3]
    assert report['helper'] == [['object'], True, True]
    assert report['imported'] == []
    packages = {
        'lmdb dataset': 'lmdb',
        'create_lmdb': 'lmdb',
        'lpips': 'lpips',
        'fid': 'pytorch-fid',
        'lmd': 'facexlib',
        'retinaface': 'facexlib',
        'parsenet': 'facexlib'
    }
    for feature, package in packages.items():
        kind, message = report['errors'][feature]
        assert kind == 'MissingPackageError', (feature, message)
        assert f"needs the '{package}' package, which is not installed: pip install {package}" in message, message
        assert message.count('. ') == 0 and '\n' not in message  # one sentence


def test_import_optional_names_the_package_and_the_pip_command():
    assert import_optional('json', 'Reading JSON') is json
    with pytest.raises(MissingPackageError) as info:
        import_optional('gfpgan_no_such_package.sub', 'Doing X', package='no-such-package')
    assert str(info.value) == ("Doing X needs the 'no-such-package' package, which is not installed: "
                               'pip install no-such-package')
    assert isinstance(info.value, ImportError)
    assert OPTIONAL_PACKAGES['pytorch_fid'] == 'pytorch-fid'


def test_a_package_that_fails_inside_is_not_called_missing(tmp_path, monkeypatch):
    (tmp_path / 'gfpgan_broken_pkg').mkdir()
    (tmp_path / 'gfpgan_broken_pkg' / '__init__.py').write_text('import gfpgan_its_missing_dependency\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(MissingPackageError, match=r"installed but does not import \(ModuleNotFoundError: No module "
                       r"named 'gfpgan_its_missing_dependency'\); reinstall it with pip install gfpgan-broken"):
        import_optional('gfpgan_broken_pkg', 'Y', package='gfpgan-broken')
