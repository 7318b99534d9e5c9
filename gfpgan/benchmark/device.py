"""The device suite of scripts/benchmark.py (issue 12): restorer forward, training step, data loader and end to end
on one device within a time budget, and the targets computed from them.

Long because: ``DeviceSuite`` is one class whose cases share the budget, the device state and the report that is
rewritten after every case; split across modules its stages would pass all of that around."""
import gc
import os
import shutil
import statistics
import tempfile
import time

import numpy as np
import torch

from gfpgan.archs.gfpganv1_clean_arch import GFPGANv1Clean
from gfpgan.data import build_dataset
from gfpgan.utils.benchmark import TARGETS, evaluate_targets, psnr_db
from gfpgan.utils.device import backend_flags, to_memory_format

from .device_config import (DEVICE_ESTIMATES, DEVICE_SIZES, DTYPE_ORDER, PRECISION_ORDER, QUICK_RESTORER, TRAIN_COMMON,
                            TRAIN_PRECISIONS, end_to_end_unavailable, first_line, is_out_of_memory)
from .device_report import device_markdown, write_json, write_text
from .suites import (bench_data_workers, bench_gfpgan, build_photo_restorer, build_restorer, face_batch, make_faces,
                     random_weight_files, v1_model_options, v1_train_options)


class DeviceSuite:
    """The device benchmark (issue 12): restorer forward, training step, data loader and end to end on one device,
    each case within the time budget, and the targets computed from them. Rows: dicts with a ``status``: 'ok',
    'skipped: <why>' or 'error: <exception>'."""

    def __init__(self, args, budget):
        self.args = args
        self.device = args.device if args.device != 'auto' else ('cuda' if torch.cuda.is_available() else 'cpu')
        self.cuda = self.device == 'cuda'
        self.mode = 'quick' if args.quick else 'full'
        self.sizes = DEVICE_SIZES[self.mode]
        self.estimates = DEVICE_ESTIMATES[self.mode]
        self.budget = budget
        self.compile_backend = 'inductor' if self.cuda or not args.quick else 'eager'
        self.rows = {'restorer': [], 'train': [], 'data': [], 'end_to_end': []}
        self.restorer = None
        self.references = {}  # batch -> float32 eager restorer output
        self.max_batch = {}  # training precision -> largest batch that fits
        self.tmp = None  # a scratch folder (generated faces, weight files), made when first needed
        self.dataset = self.weights = None
        self.train_set = dict(args.train_set or {})

    # -------------------------------------------------------------------------------------------- running cases
    def scratch(self):
        if self.tmp is None:
            self.tmp = tempfile.mkdtemp(prefix='gfpgan_bench_')
        return self.tmp

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize()

    def peak_mib(self):
        return torch.cuda.max_memory_allocated() / 2**20 if self.cuda else None

    def free(self):
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()

    def run_case(self, section, kind, row, measure, skip=None):
        """Run ``measure()`` (returns the row's figures) unless ``skip`` (a reason) or the budget says no; errors are
        recorded in the row, never raised. The report files are rewritten after every case."""
        row = dict(row, device=self.device)
        estimate = self.budget.estimate(kind, self.estimates[kind])
        if skip:
            row['status'] = f'skipped: {skip}'
        elif not self.budget.allows(kind, self.estimates[kind]):
            row.update(status='skipped: time budget', estimate_s=estimate)
        else:
            self.free()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            try:
                row.update(measure())
                row.setdefault('status', 'ok')
            except Exception as err:  # noqa: BLE001 - one failed case must not lose the others
                row['status'] = f'error: {first_line(err)}'
                import traceback
                traceback.print_exc()
            row['case_s'] = time.perf_counter() - start
            self.budget.record(kind, row['case_s'])
            self.free()
        self.rows[section].append(row)
        label = ', '.join(f'{k} {row[k]}' for k in ('precision', 'dtype', 'batch', 'workers') if k in row)
        flags = ''.join(f' +{k}' for k in ('compile', 'channels_last') if row.get(k) is True)
        print(f"[{self.budget.elapsed():6.1f} s] {section} {label}{flags}: {row['status']}"
              + (f" ({row['case_s']:.1f} s)" if 'case_s' in row else ''), flush=True)
        self.save(complete=False)

    # -------------------------------------------------------------------------------------------- restorer
    def restorer_net(self):
        if self.restorer is None:
            torch.manual_seed(0)
            if self.mode == 'full':
                self.restorer = build_restorer(self.args.model_path, self.device)
            else:
                self.restorer = GFPGANv1Clean(**QUICK_RESTORER).eval().to(self.device)
        return self.restorer

    def restorer_case(self, dtype, batch, compile=False, channels_last=False):
        name = str(dtype).replace('torch.', '')
        row = {'dtype': name, 'batch': batch, 'compile': compile, 'channels_last': channels_last}
        if compile:
            row['compile_backend'] = self.compile_backend

        def measure():
            net = self.restorer_net()
            size = self.sizes['restorer']['out_size']
            memory_format = torch.channels_last if channels_last else None
            if channels_last:
                to_memory_format(net, torch.channels_last)
            try:
                model = net
                if compile:
                    torch._dynamo.reset()  # a fresh compile per case: first_call_s is the whole compile time
                    model = torch.compile(net, backend=self.compile_backend, dynamic=False)
                with backend_flags(tf32=False):  # float32 is true float32 (PyTorch leaves cuDNN on TF32)
                    stats, forward = bench_gfpgan(model, self.device, batch, dtype, self.sizes['restorer_runs'],
                                                  self.sizes['restorer_warmup'], size=size,
                                                  memory_format=memory_format)
                    with torch.no_grad():
                        out = forward().float()
            finally:
                if channels_last:
                    to_memory_format(net, torch.contiguous_format)
            stats.pop('times_s', None)
            stats.update(faces_per_s=batch / stats['median_s'], ms_per_face=stats['median_s'] / batch * 1e3,
                         size=size)
            if dtype == torch.float32 and not compile and not channels_last:
                self.references[batch] = out
            elif batch in self.references:
                value, diff = psnr_db(out, self.references[batch])
                stats.update(psnr_vs_float32_db=value, max_abs_diff_vs_float32=diff)
            stats['output_finite'] = bool(torch.isfinite(out).all())
            return stats

        self.run_case('restorer', 'restorer_compile' if compile else 'restorer', row, measure)

    # -------------------------------------------------------------------------------------------- training
    def build_train_model(self, settings):
        """GFPGANModel of the suite's options file with ``settings`` in its ``train`` options."""
        from gfpgan.models import build_model
        opt = v1_model_options(name=self.sizes['train_options'], device=self.device)
        opt['train'].update(settings)
        torch.manual_seed(0)
        return build_model(opt)

    def step(self, model, data, iteration):
        model.feed_data(data)
        model.optimize_parameters(iteration)

    def time_steps(self, model, batch, runs):
        """Training steps at ``batch``: the first (compile included), plain ones (no R1) and lazy-R1 ones (every
        net_d_reg_every iterations); the step time is their mix over net_d_reg_every iterations."""
        size = model.opt['network_g']['out_size']
        reg_every = int(model.opt['train']['net_d_reg_every'])
        data = face_batch(batch, size, self.device)
        plain_iters = (i for i in range(1, 10**9) if i % reg_every)
        r1_iters = (reg_every * j for j in range(1, 10**9))

        def timed(iteration):
            self.sync()
            start = time.perf_counter()
            self.step(model, data, iteration)
            self.sync()
            return time.perf_counter() - start

        if self.cuda:
            torch.cuda.reset_peak_memory_stats()
        torch.manual_seed(0)
        first_step = timed(next(plain_iters) if reg_every > 1 else next(r1_iters))
        losses = {k: float(v) for k, v in model.log_dict.items()}
        for _ in range(self.sizes['train_warmup']):
            timed(next(plain_iters))
        plain = [timed(next(plain_iters)) for _ in range(runs)] if reg_every > 1 else []
        first_r1 = None
        for _ in range(self.sizes['r1_warmup']):
            first_r1 = timed(next(r1_iters))
        r1 = [timed(next(r1_iters)) for _ in range(self.sizes['r1_runs'])]
        plain_s = statistics.median(plain) if plain else None
        r1_s = statistics.median(r1)
        step_s = ((reg_every - 1) * plain_s + r1_s) / reg_every if plain else r1_s
        return {
            'batch': batch,
            'step_s': step_s,
            'it_per_s': 1 / step_s,
            'samples_per_s': batch / step_s,
            'plain_step_s': plain_s,
            'r1_step_s': r1_s,
            'r1_every': reg_every,
            'plain_runs': len(plain),
            'r1_runs': len(r1),
            'first_step_s': first_step,
            'first_r1_step_s': first_r1,
            'peak_memory_mib': self.peak_mib(),
            'first_step_losses': losses,
        }

    def search_batch(self, model, start_batch):
        """The largest batch of the search list (from ``start_batch``) whose lazy-R1 step (the most memory) fits:
        one step each until CUDA runs out of memory, the peak of the last one predicts more than 95% of the memory
        for the next, or the time budget could not also time a row at the next. Returns (batch, [{batch, fits,
        peak_memory_mib, step_s | reason}])."""
        size = model.opt['network_g']['out_size']
        reg_every = int(model.opt['train']['net_d_reg_every'])
        total = torch.cuda.get_device_properties(0).total_memory / 2**20 if self.cuda else None
        steps_per_row = (1 + self.sizes['train_warmup'] + self.sizes['max_runs'] + self.sizes['r1_warmup'] +
                         self.sizes['r1_runs'])
        best, tried, last = None, [], None
        for batch in [b for b in self.sizes['train_search'] if b >= start_batch]:
            self.free()
            resident = torch.cuda.memory_allocated() / 2**20 if self.cuda else None  # weights, optimizer states
            if last is not None:
                growth = batch / last['batch']
                if total is not None and resident + (last['peak_memory_mib'] - resident) * growth > 0.95 * total:
                    tried.append({'batch': batch, 'fits': False, 'reason': 'predicted peak over 95% of the memory'})
                    break
                if self.budget.remaining() < last['step_s'] * growth * (1 + steps_per_row):
                    tried.append({'batch': batch, 'fits': False, 'reason': 'time budget'})
                    break
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            out_of_memory = False
            start = time.perf_counter()
            try:
                self.step(model, face_batch(batch, size, self.device), reg_every)
                self.sync()
            except RuntimeError as err:  # torch.cuda.OutOfMemoryError, or a cuDNN / cuBLAS allocation failure
                if not is_out_of_memory(err):
                    raise
                out_of_memory = True
            seconds = time.perf_counter() - start
            if out_of_memory:
                for optimizer in model.optimizers:
                    optimizer.zero_grad(set_to_none=True)
                self.free()
                tried.append({'batch': batch, 'fits': False, 'reason': 'CUDA out of memory'})
                break
            last = {'batch': batch, 'fits': True, 'peak_memory_mib': self.peak_mib(), 'step_s': seconds}
            tried.append(last)
            best = batch
        self.free()
        return best, tried

    def train_case(self, precision, kind):
        """One training row: ``kind`` 'base' (the suite's batch) or 'max' (the largest batch that fits)."""
        settings = {**TRAIN_COMMON, **TRAIN_PRECISIONS[precision], **self.train_set}
        compile = bool(settings.get('compile'))
        row = {'precision': precision, 'batch_kind': kind, 'options': settings}
        if kind == 'base':
            row['batch'] = self.sizes['train_batch']
        skip = None
        if compile and not self.cuda and self.mode == 'quick':
            skip = '--quick on the CPU (torch.compile of a training step takes minutes there)'
        elif kind == 'max' and not self.cuda and self.mode == 'full':
            skip = 'no memory limit to search on the CPU'
        elif kind == 'max' and compile and self.max_batch.get('bf16') is None:
            skip = 'needs the largest bf16 batch (not measured)'

        def measure():
            if compile:
                torch._dynamo.reset()  # compile afresh: first_step_s is the whole compile time
            with backend_flags(cudnn_benchmark=True):  # as train.py runs (unless the options ask for determinism)
                model = self.build_train_model(settings)
                try:
                    figures = {}
                    if kind == 'max' and compile:
                        batch = self.max_batch['bf16']
                    elif kind == 'max':
                        batch, figures['search'] = self.search_batch(model, self.sizes['train_batch'])
                        if batch is None:
                            return dict(figures, status='error: not even the first batch of the search fits')
                        self.max_batch[precision] = batch
                    else:
                        batch = self.sizes['train_batch']
                    runs = self.sizes['train_runs'] if kind == 'base' else self.sizes['max_runs']
                    notes = []
                    try:
                        figures.update(self.time_steps(model, batch, runs))
                    except RuntimeError as err:
                        fitting = [t['batch'] for t in figures.get('search', []) if t['fits'] and t['batch'] < batch]
                        if not (is_out_of_memory(err) and fitting):
                            raise
                        fallback = fitting[-1]  # fragmentation after the search: time the next smaller batch
                    else:
                        fallback = None
                    if fallback is not None:
                        for optimizer in model.optimizers:
                            optimizer.zero_grad(set_to_none=True)
                        self.free()
                        notes.append(f'out of memory while timing batch {batch}: timed batch {fallback}')
                        self.max_batch[precision] = fallback
                        figures.update(self.time_steps(model, fallback, runs))
                    figures['unsupported_options'] = []
                    if compile and not model.net_g_forward.active:
                        figures['unsupported_options'].append('compile')
                        notes.append('torch.compile fell back to eager')
                    figures['note'] = '; '.join(notes)
                    return figures
                finally:
                    del model

        case_kind = 'train_compile' if compile else ('train_max' if kind == 'max' else 'train')
        self.run_case('train', case_kind, row, measure, skip)

    # -------------------------------------------------------------------------------------------- data, photos
    def data_case(self, workers):
        row = {'workers': workers, 'batch': self.sizes['data_batch']}

        def measure():
            if self.dataset is None:
                folder = os.path.join(self.scratch(), 'faces')
                os.makedirs(folder, exist_ok=True)
                make_faces(folder, count=self.sizes['data_faces'], size=self.sizes['data_size'])
                opt = v1_train_options(folder, name=self.sizes['data_options'])
                self.dataset = (build_dataset(opt), opt)
            dataset, opt = self.dataset
            batch = self.sizes['data_batch']
            samples = max(self.sizes['data_min_samples'], self.sizes['data_rounds'] * workers * batch)
            stats = bench_data_workers(dataset, opt, workers, samples, batch=batch)
            stats.update(samples_per_s_per_worker=stats['samples_per_s'] / workers, size=self.sizes['data_size'])
            return stats

        self.run_case('data', 'data', row, measure)

    def end_to_end_case(self, dtype):
        name = str(dtype).replace('torch.', '')
        background = self.sizes['background']
        row = {'dtype': name, 'background': background, 'batch': self.sizes['photo_batch']}
        row['photos'] = self.sizes['photos']
        skip = end_to_end_unavailable()
        if skip is None and self.mode == 'quick':
            skip = '--quick (the end-to-end networks run at 512x512: tens of seconds on a CPU)'

        def measure():
            from skimage import data as skdata
            photo = np.ascontiguousarray(skdata.astronaut()[:, :, ::-1])
            photos = [(f'photo{i}', photo) for i in range(self.sizes['photos'])]
            if self.weights is None:
                self.weights = random_weight_files(self.scratch())
            restorer, upsampler = build_photo_restorer(self.weights, self.device, dtype, background == 'realesrgan')
            restorer.batch_size = self.sizes['photo_batch']
            restorer.bg_upsampler = upsampler
            list(restorer.enhance_iter(photos[:1]))  # warm-up
            self.sync()
            if self.cuda:
                torch.cuda.reset_peak_memory_stats()
            start = time.perf_counter()
            list(restorer.enhance_iter(photos))
            self.sync()
            elapsed = time.perf_counter() - start
            return {'s_per_photo': elapsed / len(photos), 'total_s': elapsed, 'peak_memory_mib': self.peak_mib()}

        self.run_case('end_to_end', 'end_to_end', row, measure, skip)

    # -------------------------------------------------------------------------------------------- schedule
    def schedule(self):
        """The cases, most important first: what the targets need, then the rest of the grid, then the expensive
        (compile, largest batch) and the optional ones."""
        f32, bf16, f16 = torch.float32, torch.bfloat16, torch.float16
        batches = self.sizes['restorer_batches']
        small, big = batches[0], batches[-1]
        first = [(f32, small), (f32, big), (bf16, big), (f16, big)]
        cases = [lambda d=d, b=b: self.restorer_case(d, b) for d, b in first]
        cases += [lambda p=p: self.train_case(p, 'base') for p in ('fp32', 'bf16')]
        workers = self.sizes['data_workers']
        limit = TARGETS['loader_max_workers']
        order = sorted((w for w in workers if w <= limit), reverse=True) + sorted(w for w in workers if w > limit)
        cases += [lambda w=w: self.data_case(w) for w in order]
        cases.append(lambda: self.restorer_case(bf16, big, channels_last=True))
        rest = [(d, b) for d in (f32, bf16, f16) for b in batches if (d, b) not in first]
        if self.mode == 'quick':
            rest = [(d, b) for d, b in rest if d != f16]  # float16 is slow on a CPU: the largest batch only
        cases += [lambda d=d, b=b: self.restorer_case(d, b) for d, b in rest]
        cases.append(lambda: self.train_case('bf16+compile', 'base'))
        cases += [lambda p=p: self.train_case(p, 'max') for p in ('bf16', 'fp32')]
        compiled = [(bf16, big), (f16, big), (f32, big)] if self.sizes['restorer_compile_all'] else [(bf16, big)]
        cases += [lambda d=d, b=b: self.restorer_case(d, b, compile=True) for d, b in compiled]
        cases.append(lambda: self.train_case('bf16+compile', 'max'))
        cases += [lambda d=d: self.end_to_end_case(d) for d in ((bf16, f32) if self.cuda else (f32, ))]
        if self.sizes['restorer_compile_all']:
            cases += [
                lambda d=d, b=b: self.restorer_case(d, b, compile=True)
                for d in (bf16, f16, f32) for b in batches[:-1]
            ]
        return cases

    def run(self):
        self.started = time.time()
        try:
            for case in self.schedule():
                case()
        finally:
            if self.tmp:
                shutil.rmtree(self.tmp, ignore_errors=True)
        return self.save(complete=True)

    # -------------------------------------------------------------------------------------------- report
    def result(self, complete):
        rows = {
            'restorer':
            sorted(self.rows['restorer'],
                   key=lambda r: (r['compile'], r['channels_last'], DTYPE_ORDER.index(r['dtype']), r['batch'])),
            'train':
            sorted(self.rows['train'],
                   key=lambda r: (PRECISION_ORDER.index(r['precision']), r['batch_kind'] != 'base')),
            'data':
            sorted(self.rows['data'], key=lambda r: r['workers']),
            'end_to_end':
            sorted(self.rows['end_to_end'], key=lambda r: DTYPE_ORDER.index(r['dtype'])),
        }
        restorer_batch = self.sizes['restorer_batches'][-1]
        quality = [{
            k: r.get(k)
            for k in ('dtype', 'batch', 'compile', 'channels_last', 'psnr_vs_float32_db', 'max_abs_diff_vs_float32',
                      'output_finite')
        } for r in rows['restorer'] if r.get('status') == 'ok' and 'max_abs_diff_vs_float32' in r]
        losses = {r['precision']: r['first_step_losses'] for r in rows['train']
                  if r['batch_kind'] == 'base' and r.get('first_step_losses')}
        counts = {}
        for section in rows.values():
            for r in section:
                kind = r['status'].split(':')[0]
                counts[kind] = counts.get(kind, 0) + 1
        return {
            'benchmark': 'device suite: restorer forward, training step, data loader, end to end (random weights)',
            'complete': complete,
            'config': {
                'device': self.device,
                'mode': self.mode,
                'time_budget_s': self.budget.seconds,
                'elapsed_s': self.budget.elapsed(),
                'sizes': {k: v for k, v in self.sizes.items()},
                'train_precisions': {p: {**TRAIN_COMMON, **s, **self.train_set}
                                     for p, s in TRAIN_PRECISIONS.items()},
                'compile_backend': self.compile_backend,
                'restorer_tf32': False,
                'restorer_cudnn_benchmark': torch.backends.cudnn.benchmark,
                'train_cudnn_benchmark': True,
                'c_compiler': shutil.which('cc') or shutil.which('gcc'),
                'weights': self.args.model_path or 'random',
                'gpu_memory_mib': (torch.cuda.get_device_properties(0).total_memory / 2**20 if self.cuda else None),
            },
            'cases': counts,
            **rows,
            'quality': quality,
            'first_step_losses': losses,
            'targets': evaluate_targets(rows['restorer'], rows['train'], rows['data'], restorer_batch=restorer_batch),
        }

    def save(self, complete):
        result = self.result(complete)
        report = {'machine': self.args.machine, 'device': result}
        write_json(self.args.output, report)
        if self.args.markdown:
            write_text(self.args.markdown, device_markdown(report) + '\n')
        return result
