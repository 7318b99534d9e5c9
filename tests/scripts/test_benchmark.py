"""scripts/benchmark.py prints its table and writes JSON."""
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_benchmark_writes_table_and_json(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run([
        sys.executable,
        os.path.join(ROOT, 'scripts', 'benchmark.py'), '--suite', 'network', '--device', 'cpu', '--runs', '1',
        '--warmup', '0', '--output',
        str(out)
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '| device | dtype | batch |' in proc.stdout and '| cpu | float32 | 1 |' in proc.stdout
    report = json.loads(out.read_text())
    assert report['network']['config']['out_size'] == 512 and report['network']['config']['channel_multiplier'] == 2
    (row, ) = report['network']['results']
    assert row['device'] == 'cpu' and row['batch'] == 1 and row['per_face_s'] > 0
    assert report['machine']['torch_threads'] >= 1 and 'data' not in report


def test_data_benchmark_times_the_v1_dataset(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run([
        sys.executable,
        os.path.join(ROOT, 'scripts', 'benchmark.py'), '--suite', 'data', '--data-samples', '4', '--data-workers', '1',
        '--output',
        str(out)
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert '| DataLoader workers | samples | median (ms/sample) |' in proc.stdout
    report = json.loads(out.read_text())
    one_thread, workers = report['data']['results']
    assert one_thread['workers'] == 0 and one_thread['samples'] == 4 and one_thread['median_ms'] > 0
    assert workers['workers'] == 1 and workers['samples_per_s'] > 0
    assert 'network' not in report


def test_restore_benchmark_times_the_restorer_and_whole_photos(tmp_path):
    out = tmp_path / 'bench.json'
    proc = subprocess.run([
        sys.executable,
        os.path.join(ROOT, 'scripts', 'benchmark.py'), '--suite', 'restore', '--device', 'cpu', '--runs', '1',
        '--warmup', '0', '--restore-batch-sizes', '2', '--restore-photos', '2', '--restore-bg', 'none', '--output',
        str(out)
    ],
                          capture_output=True,
                          text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert '| device | dtype | batch | faces/s |' in proc.stdout and '| s/photo |' in proc.stdout
    report = json.loads(out.read_text())['restore']
    (faces, ) = report['restorer']
    (photos, ) = report['end_to_end']
    assert faces['batch'] == 2 and faces['faces_per_s'] > 0
    assert photos['photos'] == 2 and photos['background'] == 'none' and photos['s_per_photo'] > 0


# ------------------------------------------------------------------------------------------------ device suite
def run_device_suite(tmp_path, *extra):
    out, md = tmp_path / 'bench.json', tmp_path / 'bench.md'
    proc = subprocess.run([
        sys.executable,
        os.path.join(ROOT, 'scripts', 'benchmark.py'), '--suite', 'device', '--device', 'cpu', '--quick', '--threads',
        '1', '--output',
        str(out), '--markdown',
        str(md), *extra
    ],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout, json.loads(out.read_text()), md.read_text()


def test_quick_device_suite_runs_every_section_and_writes_json_and_markdown(tmp_path):
    stdout, report, markdown = run_device_suite(tmp_path)
    result = report['device']
    assert report['machine']['torch_threads'] == 1 and result['complete'] is True
    assert result['config']['mode'] == 'quick' and result['config']['device'] == 'cpu'

    restorer = {(r['dtype'], r['batch'], r['compile'], r['channels_last']): r for r in result['restorer']}
    for key in [('float32', 1, False, False), ('float32', 2, False, False), ('bfloat16', 1, False, False),
                ('bfloat16', 2, False, False), ('float16', 2, False, False), ('bfloat16', 2, False, True),
                ('bfloat16', 2, True, False)]:
        assert restorer[key]['status'] == 'ok', restorer[key]
        assert restorer[key]['faces_per_s'] > 0 and restorer[key]['first_call_s'] > 0
    assert restorer[('bfloat16', 2, True, False)]['compile_backend'] == 'eager'
    # quality against float32 at the same batch: bf16 is close, channels-last and dynamo change nothing much
    quality = {(q['dtype'], q['compile'], q['channels_last']): q for q in result['quality'] if q['batch'] == 2}
    assert 30 < quality[('bfloat16', False, False)]['psnr_vs_float32_db'] < 100
    assert quality[('float16', False, False)]['psnr_vs_float32_db'] > 30
    assert quality[('bfloat16', True, False)]['psnr_vs_float32_db'] > 30

    train = {(r['precision'], r['batch_kind']): r for r in result['train']}
    for precision in ('fp32', 'bf16'):
        base, largest = train[(precision, 'base')], train[(precision, 'max')]
        assert base['status'] == 'ok' and base['batch'] == 2 and base['samples_per_s'] > 0
        assert base['r1_every'] == 16 and base['plain_step_s'] > 0 and base['r1_step_s'] > 0
        assert base['step_s'] == (15 * base['plain_step_s'] + base['r1_step_s']) / 16
        assert base['options']['mixed_precision'] == {'fp32': 'none', 'bf16': 'bf16'}[precision]
        assert largest['status'] == 'ok' and largest['batch'] == 4 and largest['search'][-1]['fits']
    assert train[('bf16+compile', 'base')]['status'].startswith('skipped: --quick')
    # the same weights, batch and seed: bf16's first-step losses are close to fp32's
    fp32, bf16 = result['first_step_losses']['fp32'], result['first_step_losses']['bf16']
    assert fp32.keys() == bf16.keys() and 'l_g_pix' in fp32 and 'l_d' in fp32
    assert abs(bf16['l_g_pix'] - fp32['l_g_pix']) < 0.05 * fp32['l_g_pix']

    (data, ) = result['data']
    assert data['status'] == 'ok' and data['workers'] == 1 and data['samples_per_s_per_worker'] > 0
    (photos, ) = result['end_to_end']
    assert photos['status'].startswith('skipped: ')

    targets = {t['target']: t for t in result['targets']}
    assert len(targets) == 5 and all(t['status'] in ('pass', 'fail', 'n/a') for t in targets.values())
    assert targets['torch.compile training step']['status'] == 'n/a'
    assert targets['restorer bf16 quality']['status'] == 'pass'
    assert targets['bf16 training step']['value'] > 0 and targets['data loader keeps up']['value'] > 0

    # the tables, the targets last, printed and in the Markdown file
    for text in (stdout, markdown):
        for title in ('### Restorer', '### Restorer quality', '### Training step', '### First-step losses',
                      '### Data loader', '### End to end', '### Targets'):
            assert title in text
        assert text.rindex('### Targets') > text.rindex('### End to end')
    assert markdown.rstrip().splitlines()[-1].startswith('| data loader keeps up |')
    assert '| target | requirement | measured | status | note |' in markdown


def test_time_budget_skips_cases_and_still_writes_the_report(tmp_path):
    stdout, report, markdown = run_device_suite(tmp_path, '--time-budget', '0')
    result = report['device']
    rows = [r for section in ('restorer', 'train', 'data', 'end_to_end') for r in result[section]]
    assert len(rows) > 10 and result['complete'] is True
    for row in rows:
        assert row['status'] in ('skipped: time budget', ) or row['status'].startswith('skipped: --quick'), row
    assert result['cases']['skipped'] == len(rows)
    assert all(t['status'] == 'n/a' for t in result['targets'])
    assert 'skipped: time budget' in markdown and '### Targets' in markdown


def test_time_budget_fits_cases_by_their_longest_measured_time():
    from gfpgan.utils.benchmark import TimeBudget
    now = [100.0]
    budget = TimeBudget(10, clock=lambda: now[0])
    assert budget.allows('train', 9) and not budget.allows('train', 11)
    now[0] += 4
    assert budget.remaining() == 6 and budget.allows('train', 5)
    budget.record('train', 7)
    budget.record('train', 3)
    assert budget.estimate('train', 1) == 7 and not budget.allows('train', 1)
    assert TimeBudget(None).allows('anything', 1e9)


def device_rows(bf16_speed=60.0, bf16_memory=9000, compile_speed=75.0, restorer_bf16=130.0, psnr=45.0, loader=200.0):
    restorer = [
        {'dtype': 'float32', 'batch': 1, 'compile': False, 'channels_last': False, 'faces_per_s': 30.0,
         'status': 'ok'},
        {'dtype': 'float32', 'batch': 32, 'compile': False, 'channels_last': False, 'faces_per_s': 50.0,
         'status': 'ok'},
        {'dtype': 'bfloat16', 'batch': 32, 'compile': False, 'channels_last': False, 'faces_per_s': restorer_bf16,
         'psnr_vs_float32_db': psnr, 'max_abs_diff_vs_float32': 0.01, 'status': 'ok'},
        {'dtype': 'bfloat16', 'batch': 32, 'compile': True, 'channels_last': False, 'faces_per_s': 999.0,
         'psnr_vs_float32_db': 10.0, 'status': 'ok'},
    ]
    train = [
        {'precision': 'fp32', 'batch': 3, 'samples_per_s': 30.0, 'peak_memory_mib': 10000, 'status': 'ok'},
        {'precision': 'fp32', 'batch': 24, 'samples_per_s': 40.0, 'peak_memory_mib': 90000, 'status': 'ok'},
        {'precision': 'bf16', 'batch': 3, 'samples_per_s': bf16_speed, 'peak_memory_mib': bf16_memory,
         'unsupported_options': [], 'status': 'ok'},
        {'precision': 'bf16+compile', 'batch': 3, 'samples_per_s': compile_speed, 'peak_memory_mib': 8000,
         'unsupported_options': [], 'status': 'ok'},
    ]
    data = [{'workers': 8, 'samples_per_s': loader, 'status': 'ok'},
            {'workers': 16, 'samples_per_s': 10 * loader, 'status': 'ok'}]
    return restorer, train, data


def test_targets_pass_on_good_numbers():
    from gfpgan.utils.benchmark import evaluate_targets
    restorer, train, data = device_rows()
    targets = evaluate_targets(restorer, train, data, restorer_batch=32)
    assert [t['status'] for t in targets] == ['pass'] * 5, targets
    values = [t['value'] for t in targets]
    assert values[0] == 2.0 and values[1] == 1.25 and abs(values[2] - 130 / 30) < 1e-12 and values[3] == 45.0
    assert values[4] == 200 / 75  # the 16-worker row is beyond the 8 allowed; the fastest bf16 row is compiled
    assert '2.00x at batch 3' in targets[0]['measured'] and 'peak 9000 vs 10000 MiB' in targets[0]['measured']


def test_targets_fail_on_bad_numbers_and_say_by_how_much():
    from gfpgan.utils.benchmark import evaluate_targets
    restorer, train, data = device_rows(bf16_speed=50.0, compile_speed=55.0, restorer_bf16=100.0, psnr=35.0,
                                        loader=50.0)
    assert [t['status'] for t in evaluate_targets(restorer, train, data, restorer_batch=32)] == ['fail'] * 5
    loader = evaluate_targets(restorer, train, data)[4]
    assert loader['value'] == 50 / 55 and 'the loader is 9% short (5.0 samples/s)' == loader['note']
    # fast enough but more memory than fp32: fails, and says how much more
    restorer, train, data = device_rows(bf16_memory=12000)
    speed = evaluate_targets(restorer, train, data)[0]
    assert speed['status'] == 'fail' and speed['note'] == 'bf16 needs 2000 MiB more than fp32'


def test_targets_are_not_applicable_without_their_rows_or_support():
    from gfpgan.utils.benchmark import evaluate_targets
    restorer, train, data = device_rows()
    train[2]['unsupported_options'] = ['mixed_precision']
    train[3]['status'] = 'skipped: time budget'
    restorer[2]['status'] = 'error: RuntimeError: boom'
    targets = evaluate_targets(restorer, train, [])
    assert [t['status'] for t in targets] == ['n/a'] * 5
    assert 'mixed_precision is not supported' in targets[0]['note']
    assert targets[1]['note'] == 'training rows: skipped: time budget'
    assert targets[2]['note'] == 'restorer rows: error: RuntimeError: boom'
    assert targets[4]['note'] == 'no data loader row measured'
    assert [t['status'] for t in evaluate_targets()] == ['n/a'] * 5


def test_psnr_and_strict_json_helpers():
    import math

    import torch

    from gfpgan.utils.benchmark import json_safe, psnr_db
    a = torch.zeros(1, 3, 4, 4)
    assert psnr_db(a, a) == (math.inf, 0.0)
    value, diff = psnr_db(a + 0.2, a)  # 0.1 apart in [0, 1]: 20 dB
    assert abs(value - 20) < 1e-4 and abs(diff - 0.1) < 1e-6
    assert math.isnan(psnr_db(a / 0, a)[0])
    assert json_safe({'a': [math.inf, (1.0, math.nan)], 'b': 2}) == {'a': [None, [1.0, None]], 'b': 2}


def test_train_set_options_are_checked_against_the_schema():
    from gfpgan.benchmark import cli as bench
    assert bench.schema_knows('train.net_d_reg_every') and bench.schema_knows('train.mixed_precision')
    assert bench.schema_knows('train.pixel_opt')  # a glob key ('*_opt')
    assert not bench.schema_knows('train.no_such_option') and not bench.schema_knows('nosection.x')
    with pytest.raises(SystemExit):
        bench.main(['--suite', 'device', '--device', 'cpu', '--quick', '--train-set', 'mixed_precison=bf16'])


def test_end_to_end_names_the_missing_package(monkeypatch):
    import importlib.util

    from gfpgan.benchmark.device_config import end_to_end_unavailable
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: None if name == 'facexlib' else real(name, *a))
    assert end_to_end_unavailable().startswith('facexlib not installed')
    monkeypatch.setattr(importlib.util, 'find_spec', real)
    assert end_to_end_unavailable() is None


class FakeTrainingModel:
    """Stands in for GFPGANModel in the step-timing and batch-search tests: records iterations, and runs out of
    (pretend) GPU memory from batch ``oom_from`` on."""

    def __init__(self, oom_from=None, reg_every=4):
        import torch
        self.opt = {'network_g': {'out_size': 64}, 'train': {'net_d_reg_every': reg_every}}
        self.optimizers = [torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])]
        self.oom_from, self.iterations, self.log_dict, self.batch = oom_from, [], {}, None

    def feed_data(self, data):
        self.batch = data['lq'].shape[0]

    def optimize_parameters(self, current_iter):
        import torch
        if self.oom_from is not None and self.batch >= self.oom_from:
            raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')
        self.iterations.append(current_iter)
        self.log_dict = {'l_g_pix': torch.tensor(0.5), 'l_d': 1.25}


def device_suite(bench, budget=None, **sizes):
    import types

    from gfpgan.utils.benchmark import TimeBudget, machine_info
    args = types.SimpleNamespace(device='cpu', quick=True, model_path=None, train_set={}, output=None, markdown=None,
                                 machine=machine_info(), tables=[], time_budget=budget)
    suite = bench.DeviceSuite(args, TimeBudget(budget))
    suite.sizes = dict(suite.sizes, **sizes)
    return suite


def test_training_step_time_mixes_plain_and_lazy_r1_iterations():
    from gfpgan.benchmark import cli as bench
    suite = device_suite(bench, train_warmup=1, r1_warmup=1, r1_runs=2)
    model = FakeTrainingModel(reg_every=4)
    row = suite.time_steps(model, 3, runs=3)
    # first step, one warm-up, three timed plain steps (never a multiple of 4); then R1 warm-up and two timed R1
    assert model.iterations == [1, 2, 3, 5, 6, 4, 8, 12]
    assert row['batch'] == 3 and row['r1_every'] == 4 and row['plain_runs'] == 3 and row['r1_runs'] == 2
    assert row['step_s'] == (3 * row['plain_step_s'] + row['r1_step_s']) / 4
    assert row['samples_per_s'] == 3 / row['step_s'] and row['first_step_losses'] == {'l_g_pix': 0.5, 'l_d': 1.25}


def test_largest_batch_search_stops_at_out_of_memory_or_a_predicted_overflow(monkeypatch):
    import types

    import torch

    from gfpgan.benchmark import cli as bench
    mib, resident = 2**20, 1000
    state = {'model': None}

    def peak(*args):  # a batch costs 100 MiB on top of the resident weights and optimizer states
        return (resident + 100 * (state['model'].batch or 0)) * mib

    total = {'mib': 10**6}
    monkeypatch.setattr(torch.cuda, 'memory_allocated', lambda *a: resident * mib)
    monkeypatch.setattr(torch.cuda, 'max_memory_allocated', peak)
    monkeypatch.setattr(torch.cuda, 'get_device_properties', lambda *a: types.SimpleNamespace(total_memory=total['mib']
                                                                                              * mib))
    for name in ('reset_peak_memory_stats', 'synchronize', 'empty_cache'):
        monkeypatch.setattr(torch.cuda, name, lambda *a: None)
    suite = device_suite(bench, train_search=(3, 6, 12, 24, 48))
    suite.cuda = True

    state['model'] = model = FakeTrainingModel(oom_from=24)
    batch, tried = suite.search_batch(model, 3)
    assert batch == 12 and [t['batch'] for t in tried] == [3, 6, 12, 24]
    assert tried[-1] == {'batch': 24, 'fits': False, 'reason': 'CUDA out of memory'}
    assert tried[0]['fits'] and tried[0]['peak_memory_mib'] == 1300 and set(model.iterations) == {4}  # R1 steps

    total['mib'] = 3000  # batch 12 would need 1000 + 2 * 600 = 2200 MiB: fits; 24 would need 3400 > 95% of 3000
    state['model'] = model = FakeTrainingModel()
    batch, tried = suite.search_batch(model, 6)
    assert batch == 12 and tried[-1] == {'batch': 24, 'fits': False, 'reason': 'predicted peak over 95% of the memory'}

    total['mib'] = 10**6
    suite.budget = bench.TimeBudget(0)  # no time for the next batch and its row
    state['model'] = model = FakeTrainingModel()
    batch, tried = suite.search_batch(model, 3)
    assert batch == 3 and tried[-1] == {'batch': 6, 'fits': False, 'reason': 'time budget'}


def test_an_unwritable_output_is_found_before_benchmarking(tmp_path, capsys, monkeypatch):

    from gfpgan.errors import run_cli
    from gfpgan.benchmark import cli as bench

    def never(args):
        raise AssertionError('nothing may be timed when the results cannot be written')

    monkeypatch.setattr(bench, 'run_device_benchmark', never)
    (tmp_path / 'a_file').write_text('x')
    argv = ['--suite', 'device', '--device', 'cpu', '--quick', '--output', str(tmp_path / 'a_file' / 'b.json')]
    assert run_cli(bench.main, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output: cannot write to '") and 'Traceback' not in err
