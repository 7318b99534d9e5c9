"""GFPGANModel: one full training step at a small size (all discriminators, identity, perceptual + style),
checkpoints in the official layout, resuming, the non-finite-loss guard and the documented options."""
import copy
import json
import os

import pytest
import torch

from refdata import TRAIN_STEP_REFERENCE, train_step_batch

from gfpgan.models.base_model import set_rng_state
from gfpgan.models.gfpgan_model import GFPGANModel, NonFiniteLossError, image_pyramid
from gfpgan.utils.checkpoint import load_checkpoint_file

SIZE = 64

with open(TRAIN_STEP_REFERENCE) as f:
    REFERENCE = json.load(f)


def tiny_options(tmp_path, **train_changes):
    """The 64x64 configuration of the training-step reference (the structure of options/train_gfpgan_v1.yml with
    narrow networks), a random-weight VGG and checkpoint folders under ``tmp_path``."""
    opt = copy.deepcopy(REFERENCE['options'])
    opt['train']['perceptual_opt']['pretrained'] = False
    opt['path'] = {'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'training_states')}
    opt['train'].update(train_changes)
    return opt


def batch(seed=0):
    """Two 64x64 (lq, gt) pairs with eye / mouth boxes, as the reference makes them."""
    return train_step_batch(seed, SIZE, REFERENCE['boxes_512'])


def snapshot(net):
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


def changed(before, net):
    return any(not torch.equal(before[k], v) for k, v in net.state_dict().items() if v.dtype.is_floating_point)


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return GFPGANModel(tiny_options(tmp_path))


def test_one_training_step_updates_every_trained_network(model):
    nets = {'g': model.net_g, 'd': model.net_d, 'ema': model.net_g_ema, 'identity': model.network_identity}
    nets.update({part: net for part, net in model.net_d_components.items()})
    before = {name: snapshot(net) for name, net in nets.items()}
    model.feed_data(batch())
    model.optimize_parameters(current_iter=16)  # a lazy-R1 iteration
    log = model.get_current_log()
    expected = {
        'l_g_pix', 'l_p_8', 'l_p_16', 'l_p_32', 'l_p_64', 'l_g_percep', 'l_g_style', 'l_g_gan', 'l_g_gan_left_eye',
        'l_g_gan_right_eye', 'l_g_gan_mouth', 'l_g_comp_style_loss', 'l_identity', 'l_d', 'real_score', 'fake_score',
        'l_d_r1', 'l_d_left_eye', 'l_d_right_eye', 'l_d_mouth'
    }
    assert set(log) == expected
    assert all(isinstance(v, float) and v == v for v in log.values())
    for name in ('g', 'd', 'ema', 'left_eye', 'right_eye', 'mouth'):
        assert changed(before[name], nets[name]), name
    assert not changed(before['identity'], model.network_identity)  # frozen
    model.feed_data(batch(1))
    model.optimize_parameters(current_iter=17)
    assert 'l_d_r1' not in model.get_current_log()


def test_ema_follows_the_generator_with_the_original_decay(model):
    assert model.ema_decay == pytest.approx(0.5**(32 / 10000))
    ema_before = snapshot(model.net_g_ema)
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    g = dict(model.net_g.named_parameters())
    for name, p in model.net_g_ema.named_parameters():
        expected = ema_before[name] * model.ema_decay + g[name].detach() * (1 - model.ema_decay)
        torch.testing.assert_close(p, expected)


def test_optimizers_use_the_original_betas_and_lazy_regularisation_scaling(model):
    ratio = 16 / 17
    assert model.optimizer_g.param_groups[0]['betas'] == (0, 0.99)
    # the original passes lr * ratio as Adam's default but also sets the group's own lr, which wins: the
    # discriminator trains at the unscaled rate; only its betas are scaled
    assert model.optimizer_d.param_groups[0]['lr'] == 2e-3
    assert model.optimizer_d.param_groups[0]['betas'] == pytest.approx((0, 0.99**ratio))
    assert model.optimizer_components['mouth'].param_groups[0]['betas'] == (0.9, 0.99)
    assert len(model.optimizers) == len(model.schedulers) == 5


def test_explicit_betas_replace_the_original_ones(tmp_path):
    opt = tiny_options(tmp_path)
    opt['train']['optim_g']['betas'] = [0.9, 0.99]
    opt['train']['optim_component']['betas'] = [0.5, 0.9]
    model = GFPGANModel(opt)
    assert model.optimizer_g.param_groups[0]['betas'] == (0.9, 0.99)
    assert model.optimizer_d.param_groups[0]['betas'] == pytest.approx((0, 0.99**(16 / 17)))  # not given: original
    assert all(o.param_groups[0]['betas'] == (0.5, 0.9) for o in model.optimizer_components.values())


def test_component_crops_scale_with_out_size(model):
    model.feed_data(batch())
    crops = model.component_crops(model.gt)
    assert crops['left_eye'].shape == (2, 3, 10, 10) and crops['mouth'].shape == (2, 3, 15, 15)
    # the crop is the image region of the box: a box over a constant patch gives that constant
    img = torch.zeros(2, 3, SIZE, SIZE)
    img[:, :, 20:40, 10:35] = 0.7
    model.locations = {part: torch.tensor([[12., 22., 30., 36.]] * 2) for part in ('left_eye', 'right_eye', 'mouth')}
    torch.testing.assert_close(model.component_crops(img)['right_eye'], torch.full((2, 3, 10, 10), 0.7))


def test_image_pyramid_halves_down_to_8():
    img = torch.rand(1, 3, 64, 64)
    sizes = [p.shape[-1] for p in image_pyramid(img, 4)]
    assert sizes == [8, 16, 32, 64]


def test_save_writes_the_official_layout_and_resume_restores_state(model, tmp_path):
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    model.save(epoch=0, current_iter=1)
    files = sorted(os.listdir(tmp_path / 'models'))
    assert files == ['net_d_1.pth', 'net_d_left_eye_1.pth', 'net_d_mouth_1.pth', 'net_d_right_eye_1.pth', 'net_g_1.pth']
    g = load_checkpoint_file(tmp_path / 'models' / 'net_g_1.pth')
    assert set(g) == {'params', 'params_ema', 'network_options'} and set(load_checkpoint_file(
        tmp_path / 'models' / 'net_d_1.pth')) == {'params'}
    assert g['network_options'] == model.opt['network_g']  # inference rebuilds the network from the file alone
    torch.testing.assert_close(g['params_ema'], model.net_g_ema.state_dict())
    state = load_checkpoint_file(tmp_path / 'training_states' / '1.state')  # weights_only: no pickled objects
    assert state['iter'] == 1 and state['epoch'] == 0 and len(state['optimizers']) == 5

    torch.manual_seed(1)
    other = GFPGANModel(tiny_options(tmp_path))
    other.resume_training(str(tmp_path / 'training_states' / '1.state'))
    for a, b in zip(model.optimizers, other.optimizers):
        sa, sb = a.state_dict()['state'], b.state_dict()['state']
        assert sa.keys() == sb.keys()
        torch.testing.assert_close(sa[0]['exp_avg'], sb[0]['exp_avg'])
    torch.manual_seed(5)
    set_rng_state(state['rng'])
    assert torch.equal(torch.get_rng_state(), state['rng']['torch'])


def test_non_finite_losses_skip_steps_and_stop_after_too_many(tmp_path):
    torch.manual_seed(0)
    model = GFPGANModel(tiny_options(tmp_path, max_nonfinite_steps=2))
    data = batch()
    data['lq'][0, 0, 0, 0] = float('nan')
    g_before, d_before = snapshot(model.net_g), snapshot(model.net_d)
    model.feed_data(data)
    model.optimize_parameters(current_iter=1)
    assert not changed(g_before, model.net_g) and not changed(d_before, model.net_d)
    assert model.get_current_log()['skipped_steps'] == 1 and model.skipped == ['g', 'd', 'component']
    model.feed_data(data)
    with pytest.raises(NonFiniteLossError, match='3 training iterations in a row had a NaN or infinite loss'):
        for it in range(2, 6):
            model.optimize_parameters(current_iter=it)


def test_component_fake_loss_option(tmp_path):
    torch.manual_seed(0)
    official = GFPGANModel(tiny_options(tmp_path))
    assert official.comp_d_fake_loss == 'gan'
    torch.manual_seed(0)
    consistent = GFPGANModel(tiny_options(tmp_path, comp_d_fake_loss='component'))
    for m in (official, consistent):
        m.feed_data(batch())
        m.optimize_parameters(current_iter=1)
    assert official.get_current_log()['l_d_mouth'] != consistent.get_current_log()['l_d_mouth']
    with pytest.raises(ValueError, match='comp_d_fake_loss'):
        GFPGANModel(tiny_options(tmp_path, comp_d_fake_loss='bce'))


def test_pyramid_loss_is_removed_after_remove_pyramid_loss(model):
    model.opt = copy.deepcopy(model.opt)
    model.opt['train']['remove_pyramid_loss'] = 5
    model.feed_data(batch())
    model.optimize_parameters(current_iter=6)
    assert model.get_current_log()['l_p_64'] < 1e-9


def test_test_restores_with_the_ema_generator(model):
    model.feed_data(batch())
    model.test()
    visuals = model.get_current_visuals()
    assert visuals['result'].shape == (2, 3, SIZE, SIZE) and set(visuals) == {'lq', 'result', 'gt'}
    expected, _ = model.net_g_ema(model.lq)
    torch.testing.assert_close(visuals['result'], expected.detach())


def test_validation_saves_images_and_averages_metrics(model, tmp_path):
    model.opt['val'] = {'metrics': {'psnr': {'type': 'calculate_psnr', 'crop_border': 0}}}
    model.opt['path']['visualization'] = str(tmp_path / 'visualization')
    data = batch()
    samples = [{'lq': data['lq'][i], 'gt': data['gt'][i], 'lq_path': f'face{i}.png'} for i in range(2)]

    class Samples(torch.utils.data.Dataset):
        opt = {'name': 'pairs'}

        def __len__(self):
            return len(samples)

        def __getitem__(self, i):
            return samples[i]

    model.validation(torch.utils.data.DataLoader(Samples(), batch_size=1), 7, save_img=True)
    assert sorted(os.listdir(tmp_path / 'visualization')) == ['face0', 'face1']
    assert os.listdir(tmp_path / 'visualization' / 'face0') == ['face0_7.png']
    assert 0 < model.metric_results['psnr'] < 60


class RecordingOptions(dict):
    """Options that remember which top-level sections were read."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


def test_the_model_reads_only_the_option_sections_it_uses(tmp_path):
    """The model takes the original's whole options dict (drop-in) but reads only its sections: the networks,
    train, path and val, and the process fields; never datasets, logger or dist_params."""
    opt = RecordingOptions(tiny_options(tmp_path), datasets={}, logger={}, dist_params={})
    model = GFPGANModel(opt)
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    model.save(0, 1)
    process = {'num_gpu', 'is_train', 'dist', 'rank', 'world_size', 'name'}
    sections = {key for key in opt.read if not key.startswith('network_')} - process
    assert sections <= {'train', 'path', 'val'} and 'train' in sections, opt.read
