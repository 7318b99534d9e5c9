"""Non-finite values in training, on a tiny GFPGANModel: a NaN gradient with a finite loss skips the step (counted by
cause, in the log and in the training state, kept by a resume), NaN weights are never saved (the last checkpoint stays
as it was), and the per-rank random states of a training state (old single-state files still read)."""
import copy
import math
import os

import pytest
import torch
import yaml

from gfpgan.models.base_model import (NonFiniteWeightsError, bare, check_resume_world_size, rank_rng_state, rng_state,
                                      set_rng_state)
from gfpgan.models.gfpgan_model import GFPGANModel, NonFiniteLossError
from gfpgan.config.spec import OptionsError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

with open(os.path.join(ROOT, 'options', 'train_gfpgan_tiny.yml')) as f:
    TINY = yaml.safe_load(f)


def tiny_options(tmp_path, **train_changes):
    """options/train_gfpgan_tiny.yml's networks and losses, narrower still, on the CPU, folders under tmp_path."""
    opt = {key: copy.deepcopy(TINY[key]) for key in TINY if key.startswith('network_') or key == 'train'}
    opt['network_g'].update(narrow=0.125, num_style_feat=32)
    opt['network_d']['narrow'] = 0.125
    opt['train'].update(train_changes)
    opt.update(is_train=True, num_gpu=0, dist=False, rank=0, world_size=1)
    opt['path'] = {'models': str(tmp_path / 'models'), 'training_states': str(tmp_path / 'training_states')}
    return opt


def batch(seed=0):
    """Two 64x64 (lq, gt) pairs in [-1, 1] with eye / mouth boxes."""
    generator = torch.Generator().manual_seed(seed)
    box = torch.tensor([[18., 22., 30., 34.], [16., 20., 28., 32.]])
    return {
        'lq': torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1,
        'gt': torch.rand(2, 3, 64, 64, generator=generator) * 2 - 1,
        'loc_left_eye': box,
        'loc_right_eye': box + torch.tensor([16., 0., 16., 0.]),
        'loc_mouth': torch.tensor([[22., 40., 42., 56.]] * 2)
    }


def snapshot(net):
    return {k: v.detach().clone() for k, v in bare(net).state_dict().items()}


def same(before, net):
    return all(torch.equal(before[k], v) for k, v in bare(net).state_dict().items())


def finite(net):
    return all(torch.isfinite(v).all() for v in bare(net).state_dict().values() if v.is_floating_point())


@pytest.fixture
def model(tmp_path):
    torch.manual_seed(0)
    return GFPGANModel(tiny_options(tmp_path))


def nan_gradient(model):
    """A hook giving net_g's first weight a NaN gradient (the loss stays finite)."""
    weight = next(bare(model.net_g).parameters())
    return weight.register_hook(lambda grad: torch.full_like(grad, math.nan))


def test_a_nan_gradient_with_a_finite_loss_skips_the_step(model):
    g, ema, d = snapshot(model.net_g), snapshot(model.net_g_ema), snapshot(model.net_d)
    handle = nan_gradient(model)
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    handle.remove()
    log = model.get_current_log()
    assert math.isfinite(log['l_g_pix']) and log['skipped_steps'] == 1
    assert model.skipped == ['g'] and dict(model.skip_causes) == {'g: gradient not finite': 1}
    assert same(g, model.net_g) and not same(d, model.net_d)  # only the generator's step was skipped
    assert finite(model.net_g) and finite(model.net_g_ema) and not same(ema, model.net_g_ema)  # EMA moved, finite
    assert all(not torch.isnan(s['exp_avg']).any() for s in model.optimizer_g.state.values())

    model.feed_data(batch(1))
    model.optimize_parameters(current_iter=2)
    assert not same(g, model.net_g) and finite(model.net_g) and model.nonfinite_streak == 0
    assert model.get_current_log()['skipped_steps'] == 1  # still in every log line
    assert model.skipped_steps_summary() == '1 iterations skipped an optimizer step (g: gradient not finite x 1).'


def test_nan_gradients_in_a_row_stop_the_run(tmp_path):
    torch.manual_seed(0)
    model = GFPGANModel(tiny_options(tmp_path, max_nonfinite_steps=1))
    nan_gradient(model)
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    with pytest.raises(NonFiniteLossError, match=r'2 training iterations in a row .*g: gradient not finite'):
        model.optimize_parameters(current_iter=2)


def test_skip_counts_are_in_the_training_state_and_survive_a_resume(model, tmp_path):
    handle = nan_gradient(model)
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    handle.remove()
    model.save(0, 1)
    state = torch.load(tmp_path / 'training_states' / '1.state', weights_only=True)
    assert state['nonfinite_steps'] == {
        'skipped': 1,
        'overflowed': 0,
        'streak': 1,
        'causes': {
            'g: gradient not finite': 1
        }
    }
    torch.manual_seed(1)
    other = GFPGANModel(tiny_options(tmp_path))
    other.resume_training(state)
    assert (other.nonfinite_total, other.nonfinite_streak, dict(other.skip_causes)) == (1, 1, {
        'g: gradient not finite': 1
    })
    other.feed_data(batch(1))
    other.optimize_parameters(current_iter=2)
    assert other.get_current_log()['skipped_steps'] == 1 and other.nonfinite_streak == 0

    old = {k: v for k, v in state.items() if k not in ('nonfinite_steps', 'rng_ranks')}  # saved before these
    fresh = GFPGANModel(tiny_options(tmp_path))
    fresh.resume_training(old)
    assert fresh.nonfinite_total == 0 and rank_rng_state(old, 1) is old['rng']


def test_nan_weights_are_never_saved_and_the_last_checkpoint_stays(model, tmp_path):
    model.feed_data(batch())
    model.optimize_parameters(current_iter=1)
    model.save(0, 1)
    files = [tmp_path / 'models' / 'net_g_1.pth', tmp_path / 'training_states' / '1.state']
    before = [path.read_bytes() for path in files]
    with torch.no_grad():
        next(model.net_g_ema.parameters())[0] = math.nan
    for current_iter in (2, -1):
        with pytest.raises(NonFiniteWeightsError, match=r'NaN or infinite weights .*net_g_ema\..*not saving them'):
            model.save(0, current_iter)
    assert sorted(os.listdir(tmp_path / 'models')) == ['net_d_1.pth', 'net_d_left_eye_1.pth', 'net_d_mouth_1.pth',
                                                       'net_d_right_eye_1.pth', 'net_g_1.pth']
    assert os.listdir(tmp_path / 'training_states') == ['1.state']
    assert [path.read_bytes() for path in files] == before  # the last good checkpoint, byte for byte
    with pytest.raises(NonFiniteWeightsError):  # save_network itself refuses too (for models that skip the check)
        model.save_network([model.net_g, model.net_g_ema], 'net_g', 3, param_key=['params', 'params_ema'])
    assert not (tmp_path / 'models' / 'net_g_3.pth').exists()


def test_each_rank_restores_its_own_random_state():
    torch.manual_seed(1)
    first = rng_state()
    torch.manual_seed(2)
    second = rng_state()
    state = {'rng': first, 'rng_ranks': [first, second], 'iter': 4}
    set_rng_state(rank_rng_state(state, 1))
    assert torch.equal(torch.get_rng_state(), second['torch'])
    check_resume_world_size(state, 'training_states/4.state', 2)
    check_resume_world_size({'rng': first}, 'old.state', 8)  # an old state: any number of processes, as before
    with pytest.raises(OptionsError, match=r"'training_states/4.state' was saved by a run of 2 processes and this run "
                       r'has 1: resume with 2'):
        check_resume_world_size(state, 'training_states/4.state', 1)
