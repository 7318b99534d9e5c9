"""GFPGANModel keeps the original's (gfpgan 1.3.8 / BasicSR 1.4.2) attribute and method names, and the training
step and validation go through them: a subclass that reads, replaces or overrides one of them changes training."""
import os

import pytest
import torch
from torch.nn import functional as F

from test_gfpgan_model import SIZE, batch, tiny_options

from gfpgan.models.gfpgan_model import COMPONENTS, GFPGANModel
from gfpgan.utils.checkpoint import load_checkpoint_file


def fast_options(tmp_path, **train_changes):
    """The reference configuration without the VGG and ArcFace losses (a step in about a second on a CPU)."""
    opt = tiny_options(tmp_path, **train_changes)
    opt['train'].pop('perceptual_opt')
    opt.pop('network_identity')
    return opt


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return GFPGANModel(fast_options(tmp_path))


class Recorder(torch.nn.Module):
    """Wraps a network and records the shapes of its inputs."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.shapes = []

    def forward(self, x, *args, **kwargs):
        self.shapes.append(tuple(x.shape))
        return self.net(x, *args, **kwargs)


def test_original_attribute_names(tmp_path):
    torch.manual_seed(0)
    model = GFPGANModel(tiny_options(tmp_path))
    for part in COMPONENTS:
        net, optimizer = getattr(model, f'net_d_{part}'), getattr(model, f'optimizer_d_{part}')
        assert model.net_d_components[part] is net and model.optimizer_components[part] is optimizer
        assert optimizer in model.optimizers
        assert {id(p) for p in optimizer.param_groups[0]['params']} == {id(p) for p in net.parameters()}
    for name in ('cri_pix', 'cri_perceptual', 'cri_l1', 'cri_gan', 'cri_component'):
        assert isinstance(getattr(model, name), torch.nn.Module), name
    assert model.net_identity is model.network_identity
    replacement = torch.nn.Identity()
    model.net_identity = replacement
    assert model.network_identity is replacement


def test_without_optional_losses_the_criteria_are_none(model):
    assert model.cri_pix is not None and model.cri_perceptual is None and not model.use_identity


def test_feed_data_sets_the_original_box_tensors(model):
    data = batch()
    model.feed_data(data)
    for part in COMPONENTS:
        boxes = getattr(model, f'loc_{part}s')
        assert torch.is_tensor(boxes) and boxes.shape == (2, 4) and torch.equal(boxes, data[f'loc_{part}'])


def test_replacing_a_component_discriminator_changes_training(model):
    recorder = Recorder(model.net_d_mouth)
    model.net_d_mouth = recorder
    assert model.net_d_components['mouth'] is recorder
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    # generator loss on the fake crops, style loss on the real ones, then the discriminator's fake and real crops,
    # each (2, 3, 15, 15) at 64
    assert recorder.shapes == [(2, 3, 15, 15)] * 4


def test_get_roi_regions_sets_the_original_crops(model):
    model.feed_data(batch())
    model.output = torch.zeros(2, 3, SIZE, SIZE)
    model.output[:, :, 20:40, 10:35] = 0.7
    model.loc_right_eyes = torch.tensor([[12., 22., 30., 36.]] * 2)
    model.get_roi_regions(eye_out_size=80, mouth_out_size=120)
    for part, size in (('left_eye', 10), ('right_eye', 10), ('mouth', 15)):
        assert getattr(model, f'{part}s').shape == getattr(model, f'{part}s_gt').shape == (2, 3, size, size)
    torch.testing.assert_close(model.right_eyes, torch.full((2, 3, 10, 10), 0.7))  # the region of the box
    model.get_roi_regions(eye_out_size=160, mouth_out_size=40)  # sizes at 512, scaled to out_size
    assert model.left_eyes_gt.shape[-1] == 20 and model.mouths.shape[-1] == 5


def test_overriding_get_roi_regions_changes_what_the_discriminators_see(tmp_path):

    class BigCrops(GFPGANModel):

        def get_roi_regions(self, eye_out_size=80, mouth_out_size=120):
            super().get_roi_regions(eye_out_size=2 * eye_out_size, mouth_out_size=mouth_out_size // 2)

    torch.manual_seed(0)
    model = BigCrops(fast_options(tmp_path))
    recorders = {part: Recorder(net) for part, net in model.net_d_components.items()}
    model.net_d_components = recorders
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    assert recorders['left_eye'].shapes == recorders['right_eye'].shapes == [(2, 3, 20, 20)] * 4
    assert recorders['mouth'].shapes == [(2, 3, 8, 8)] * 4
    assert model.left_eyes.shape == (2, 3, 20, 20)


def test_construct_img_pyramid_and_its_override(model, tmp_path):
    model.feed_data(batch())
    pyramid = model.construct_img_pyramid()
    assert [p.shape[-1] for p in pyramid] == [8, 16, 32, 64] and pyramid[-1] is model.gt
    torch.testing.assert_close(pyramid[-2], F.interpolate(model.gt, scale_factor=0.5, mode='bilinear'))

    class ZeroPyramid(GFPGANModel):

        def construct_img_pyramid(self):
            return [torch.zeros_like(p) for p in super().construct_img_pyramid()]

    logs = []
    for cls in (GFPGANModel, ZeroPyramid):
        torch.manual_seed(0)
        other = cls(fast_options(tmp_path))
        other.feed_data(batch())
        torch.manual_seed(1)
        other.optimize_parameters(current_iter=1)
        logs.append(other.get_current_log())
    assert logs[0]['l_p_8'] != logs[1]['l_p_8'] and logs[0]['l_g_pix'] == logs[1]['l_g_pix']


def test_gram_matrix_and_gray_resize_helpers(model):
    x = torch.rand(2, 4, 3, 5)
    f = x.reshape(2, 4, 15)
    torch.testing.assert_close(model._gram_mat(x), f @ f.transpose(1, 2) / 60)
    rgb = torch.rand(2, 3, 64, 64)
    gray = model.gray_resize_for_identity(rgb)
    assert gray.shape == (2, 1, 128, 128) and model.gray_resize_for_identity(rgb, size=32).shape == (2, 1, 32, 32)
    expected = 0.2989 * rgb[:, 0] + 0.5870 * rgb[:, 1] + 0.1140 * rgb[:, 2]
    torch.testing.assert_close(model.gray_resize_for_identity(rgb, size=64)[:, 0], expected)


def test_training_uses_the_overridable_helpers(tmp_path):
    calls = []

    class Counting(GFPGANModel):

        def _gram_mat(self, x):
            calls.append('gram')
            return super()._gram_mat(x)

        def gray_resize_for_identity(self, out, size=128):
            calls.append('gray')
            return super().gray_resize_for_identity(out, size)

    opt = tiny_options(tmp_path)
    opt['train'].pop('perceptual_opt')
    torch.manual_seed(0)
    model = Counting(opt)
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    assert calls.count('gram') == 12 and calls.count('gray') == 2  # 3 parts x 2 features x (fake, real)


def test_model_ema_with_a_decay(model):
    model.model_ema(0)
    g = dict(model.net_g.named_parameters())
    assert all(torch.equal(p, g[n]) for n, p in model.net_g_ema.named_parameters())
    with torch.no_grad():
        for p in model.net_g.parameters():
            p.add_(1)
    before = {n: p.clone() for n, p in model.net_g_ema.named_parameters()}
    model.model_ema(decay=0.25)
    for n, p in model.net_g_ema.named_parameters():
        torch.testing.assert_close(p, 0.25 * before[n] + 0.75 * g[n])


class Samples(torch.utils.data.Dataset):
    """Two validation pairs named face0.png, face1.png of the dataset 'pairs'."""
    opt = {'name': 'pairs'}

    def __init__(self, with_gt=True):
        data = batch()
        self.samples = [{'lq': data['lq'][i], 'lq_path': f'/x/face{i}.png'} for i in range(2)]
        if with_gt:
            for i, sample in enumerate(self.samples):
                sample['gt'] = data['gt'][i]

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        return self.samples[i]


def loader(with_gt=True):
    return torch.utils.data.DataLoader(Samples(with_gt), batch_size=1)


def test_validation_dispatches_to_the_overridable_methods(model):
    calls = []

    class Custom(GFPGANModel):

        def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
            calls.append(('nondist', current_iter, tb_logger, save_img))

        def dist_validation(self, dataloader, current_iter, tb_logger, save_img):
            calls.append(('dist', current_iter, tb_logger, save_img))

    custom = Custom(model.opt)
    custom.validation(loader(), 3, None, True)
    custom.opt = dict(custom.opt, dist=True)
    custom.validation(loader(), 4, 'tb', save_img=False)
    assert calls == [('nondist', 3, None, True), ('dist', 4, 'tb', False)]


def test_dist_validation_runs_nondist_validation_on_rank_0_only(model):
    calls = []
    model.nondist_validation = lambda *args: calls.append(args)
    model.dist_validation(loader(), 5, None, False)
    model.opt = dict(model.opt, rank=1)
    model.dist_validation(loader(), 6, None, False)
    assert [args[1] for args in calls] == [5]


def test_training_validation_saves_under_the_image_name_and_tracks_the_best(model, tmp_path):
    model.opt['val'] = {'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0}}}
    model.opt['path']['visualization'] = str(tmp_path / 'visualization')
    model.validation(loader(), 7, None, save_img=True)
    assert sorted(os.listdir(tmp_path / 'visualization')) == ['face0', 'face1']
    assert os.listdir(tmp_path / 'visualization' / 'face1') == ['face1_7.png']
    psnr = model.metric_results['psnr']
    assert 0 < psnr < 60
    assert model.best_metric_results == {'pairs': {'psnr': {'better': 'higher', 'val': psnr, 'iter': 7}}}
    with torch.no_grad():
        for p in model.net_g_ema.parameters():
            p.add_(torch.randn_like(p))
    model.validation(loader(), 8, None, save_img=False)
    assert model.metric_results['psnr'] != psnr and len(os.listdir(tmp_path / 'visualization')) == 2
    best = model.best_metric_results['pairs']['psnr']
    assert best['val'] == max(psnr, model.metric_results['psnr']) and best['iter'] == (
        7 if psnr >= model.metric_results['psnr'] else 8)


def test_test_time_validation_saves_under_the_dataset_with_the_suffix_or_name(tmp_path):
    opt = {k: v for k, v in fast_options(tmp_path).items() if k != 'train'}
    opt.update(is_train=False, name='my_run')
    opt['path']['visualization'] = str(tmp_path / 'visualization')
    opt['val'] = {'suffix': 'restored'}
    torch.manual_seed(0)
    model = GFPGANModel(opt)
    assert not hasattr(model, 'net_g_ema')
    model.validation(loader(with_gt=False), 1, None, save_img=True)
    assert sorted(os.listdir(tmp_path / 'visualization' / 'pairs')) == ['face0_restored.png', 'face1_restored.png']
    model.opt['val'] = {'suffix': None}
    model.validation(loader(with_gt=False), 1, None, save_img=True)
    assert sorted(os.listdir(tmp_path / 'visualization' / 'pairs')) == [
        'face0_my_run.png', 'face0_restored.png', 'face1_my_run.png', 'face1_restored.png'
    ]


def test_best_metric_bookkeeping(model):
    model.opt['val'] = {
        'metrics': {
            'psnr': {
                'type': 'calculate_psnr',
                'crop_border': 0
            },
            'niqe': {
                'type': 'calculate_niqe',
                'better': 'lower'
            }
        }
    }
    model._initialize_best_metric_results('a')
    assert model.best_metric_results['a'] == {
        'psnr': {'better': 'higher', 'val': float('-inf'), 'iter': -1},
        'niqe': {'better': 'lower', 'val': float('inf'), 'iter': -1}
    }
    for it, psnr, niqe in ((1, 20., 6.), (2, 19., 7.), (3, 21., 5.), (4, 21., 5.5)):
        model._update_best_metric_result('a', 'psnr', psnr, it)
        model._update_best_metric_result('a', 'niqe', niqe, it)
    assert model.best_metric_results['a']['psnr'] == {'better': 'higher', 'val': 21., 'iter': 4}  # ties: newest
    assert model.best_metric_results['a']['niqe'] == {'better': 'lower', 'val': 5., 'iter': 3}
    model.best_metric_results['a']['psnr']['val'] = 99.
    model._initialize_best_metric_results('a')  # kept once a dataset has a record
    model._initialize_best_metric_results('b')
    assert model.best_metric_results['a']['psnr']['val'] == 99. and model.best_metric_results['b']['psnr']['iter'] == -1


def test_save_and_current_state(model, tmp_path):
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    assert set(model.get_current_log()) >= {'l_g_pix', 'l_d', 'l_d_left_eye'}
    model.test()
    visuals = model.get_current_visuals()
    assert set(visuals) == {'lq', 'result', 'gt'} and visuals['result'].shape == (2, 3, SIZE, SIZE)
    model.training_state_extra = {'epoch_iter': 3}  # what train.py sets before calling save(epoch, current_iter)
    model.save(0, 2)
    assert sorted(os.listdir(tmp_path / 'models')) == [
        'net_d_2.pth', 'net_d_left_eye_2.pth', 'net_d_mouth_2.pth', 'net_d_right_eye_2.pth', 'net_g_2.pth'
    ]
    assert os.listdir(tmp_path / 'training_states') == ['2.state']
    state = load_checkpoint_file(tmp_path / 'training_states' / '2.state')
    assert state['epoch_iter'] == 3 and state['iter'] == 2
