"""BaseModel: what every training model shares: device and DDP placement, optimizers and schedulers, EMA,
checkpoints in the official layout, training states for resuming, and cross-rank loss averaging."""
import logging
import os
import random
from collections import OrderedDict

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from gfpgan.errors import GFPGANError
from gfpgan.config.spec import OptionsError
from gfpgan.run import network_file_name, network_file_path, training_state_path
from gfpgan.utils.checkpoint import atomic_save, load_checkpoint_file, load_network, save_network
from gfpgan.utils.img_util import imwrite, tensor2img
from gfpgan.utils.logger import log_images
from gfpgan.metrics import build_metric, default_better
from gfpgan.registry import OPTIMIZER_REGISTRY
from gfpgan.utils import dist as dist_util
from gfpgan.utils.compile import CompiledForward
from gfpgan.utils.device import set_tf32, to_memory_format

from .lr_scheduler import build_scheduler
from .precision import MixedPrecision

logger = logging.getLogger('gfpgan')

for _optimizer in (torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD):
    OPTIMIZER_REGISTRY.register(_optimizer)
del _optimizer
OPTIMIZERS = OPTIMIZER_REGISTRY  # the former {name: class} dict's name (read by the option schema)


class NonFiniteError(GFPGANError, RuntimeError):
    """Training produced NaN or infinite values it cannot step over; the checkpoints written before are intact."""


class NonFiniteWeightsError(NonFiniteError):
    """A network's weights are NaN or infinite: they are not saved, so the last good checkpoint stays the newest."""


def nonfinite_indices(tensors):
    """Indices of the ``tensors`` holding a NaN or an infinity: one fused norm over all of them, then, only when that
    is not finite (a NaN, an infinity, or a sum of squares beyond float range), a check of each tensor."""
    tensors = [t.detach() for t in tensors if t.is_floating_point() and t.numel()]
    if not tensors:
        return []
    norms = torch._foreach_norm(tensors)
    if bool(torch.isfinite(torch.stack([n.float() for n in norms])).all()):
        return []
    return [i for i, t in enumerate(tensors) if not bool(torch.isfinite(t).all())]


def bare(net):
    """The network inside a DistributedDataParallel / DataParallel wrapper, or ``net`` itself."""
    return net.module if isinstance(net, (DistributedDataParallel, torch.nn.DataParallel)) else net


def rng_state():
    """Every random generator a training step draws from: python, numpy, torch CPU and CUDA, as tensors and
    plain values only (training states load with ``weights_only=True``)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        'python': random.getstate(),
        'numpy': [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss],
        'torch': torch.get_rng_state()
    }
    if torch.cuda.is_available():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state):
    """Restore the generators from a ``rng_state()`` dict (one rank's)."""
    version, internal, gauss = state['python']
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, gauss = state['numpy']
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state['cuda'])


def saved_world_size(state):
    """The number of processes that saved training state ``state``; None for a state saved before per-rank random
    states were (it holds rank 0's only)."""
    ranks = state.get('rng_ranks')
    return None if ranks is None else len(ranks)


def check_resume_world_size(state, path, world_size):
    """Refuse (OptionsError, one sentence) to resume ``state`` (read from ``path``) with another number of processes
    than saved it: each rank's random state and its share of every epoch's data belong to that number."""
    saved = saved_world_size(state)
    if saved is not None and saved != world_size:
        raise OptionsError(
            f"Training state '{path}' was saved by a run of {saved} process{'es' if saved > 1 else ''} and this run "
            f"has {world_size}: resume with {saved} (e.g. torchrun --nproc_per_node={saved}), or start a new run "
            f"from its weights (path.pretrain_network_g: {network_file_name('net_g', state.get('iter'))}) without "
            'resuming.')


def rank_rng_state(state, rank=0):
    """The random state (``rng_state()``) that rank ``rank`` saved in training state ``state``; rank 0's for every
    rank in a state saved before per-rank states were."""
    ranks = state.get('rng_ranks')
    if ranks is None:
        return state['rng']
    if not 0 <= rank < len(ranks):
        raise ValueError(f'The training state holds the random states of {len(ranks)} ranks, not of rank {rank}.')
    return ranks[rank]


class BaseModel:
    """Base of the training models, configured by the whole options dict ``opt`` (BasicSR's schema)."""

    def __init__(self, opt):
        self.opt = opt
        self.device = torch.device('cuda' if opt.get('num_gpu', 0) and torch.cuda.is_available() else 'cpu')
        self.is_train = opt.get('is_train', False)
        self.optimizers = []
        self.schedulers = []
        self.grad_scalers = []
        self.log_dict = OrderedDict()
        # entries every training state carries besides the model's own (the training loop's position in its epoch),
        # set by the loop so that a subclass's ``save(epoch, current_iter)`` (the original's signature) keeps them
        self.training_state_extra = {}
        train_opt = (opt.get('train') or {}) if self.is_train else {}
        self.precision = MixedPrecision(train_opt.get('mixed_precision') or 'none', self.device)
        self.channels_last = bool(train_opt.get('channels_last'))
        self.memory_format = torch.channels_last if self.channels_last else torch.preserve_format
        self.use_compile = bool(train_opt.get('compile'))
        self.fused_optimizer = bool(train_opt.get('fused_optimizer'))
        if self.is_train:
            set_tf32(bool(train_opt.get('tf32')))

    # ------------------------------------------------------------------------------------------ networks
    def model_to_device(self, net):
        """Move to the device; wrap in DistributedDataParallel when training distributed, in DataParallel when one
        process drives several GPUs (``num_gpu`` > 1 without a launcher), as BasicSR does."""
        net = net.to(self.device)
        if self.channels_last:
            to_memory_format(net)
        if self.opt.get('dist'):
            device_ids = [torch.cuda.current_device()] if self.device.type == 'cuda' else None
            # gradient_as_bucket_view: gradients live in the all-reduce buckets (no copy, less memory); correct here
            # since nothing keeps a reference to .grad across steps. static_graph is not used: the discriminator
            # adds a second backward (lazy R1) every net_d_reg_every iterations, so the graph is not the same each
            # iteration.
            net = DistributedDataParallel(
                net,
                device_ids=device_ids,
                find_unused_parameters=bool(self.opt.get('find_unused_parameters')),
                gradient_as_bucket_view=True)
        elif self.device.type == 'cuda' and self.opt.get('num_gpu', 0) > 1:
            net = torch.nn.DataParallel(net)
        return net

    def get_bare_model(self, net):
        """The network inside a DistributedDataParallel / DataParallel wrapper (BasicSR's name for ``bare``)."""
        return bare(net)

    def print_network(self, net):
        net = bare(net)
        count = sum(p.numel() for p in net.parameters())
        logger.info('Network %s: %s parameters', type(net).__name__, f'{count:,d}')
        logger.debug('%s', net)

    def load_network(self, net, path, strict=True, param_key='params'):
        """Load ``path`` (``{param_key: state_dict}``, with the params / params_ema fallback) into ``net``. As in
        the original, a YAML ``strict_load_*: ~`` (None) loads non-strictly."""
        logger.info('Loading %s from %s [%s]', type(bare(net)).__name__, path, param_key)
        load_network(net, path, param_key=param_key, strict=bool(strict))

    @torch.no_grad()
    def model_ema(self, decay=0.999):
        """net_g_ema = decay * net_g_ema + (1 - decay) * net_g, parameters only (as the original)."""
        params = dict(bare(self.net_g).named_parameters())
        for name, ema_param in self.net_g_ema.named_parameters():
            ema_param.mul_(decay).add_(params[name], alpha=1 - decay)

    # ------------------------------------------------------------------------------------------ optimisation
    def compiled(self, net, name):
        """``net``'s forward through ``torch.compile`` when ``train.compile`` is set (falling back to eager with one
        log line if compilation fails), else ``net`` itself."""
        return CompiledForward(net, name) if self.use_compile else net

    def get_optimizer(self, optim_type, params, lr, **kwargs):
        optimizer = OPTIMIZER_REGISTRY.get(optim_type)
        if self.fused_optimizer and optim_type in ('Adam', 'AdamW'):
            kwargs.setdefault('fused', True)  # one kernel for the whole update instead of a few per tensor list
        return optimizer(params, lr, **kwargs)

    def setup_grad_scalers(self):
        """One gradient scaler per optimizer (active in fp16 mixed precision only), in ``self.optimizers`` order."""
        self.grad_scalers = [self.precision.grad_scaler() for _ in self.optimizers]

    def grad_scaler(self, optimizer):
        """The gradient scaler of ``optimizer``."""
        return self.grad_scalers[self.optimizers.index(optimizer)]

    def setup_schedulers(self):
        self.schedulers = [build_scheduler(o, self.opt['train']['scheduler']) for o in self.optimizers]

    def update_learning_rate(self, current_iter, warmup_iter=-1):
        """Step the schedulers (from the second iteration on) and apply the linear warm-up, as BasicSR does."""
        if current_iter > 1:
            for scheduler in self.schedulers:
                scheduler.step()
        if current_iter < warmup_iter:
            for optimizer in self.optimizers:
                for group in optimizer.param_groups:
                    group['lr'] = group['initial_lr'] / warmup_iter * current_iter

    def get_current_learning_rate(self):
        return [group['lr'] for group in self.optimizers[0].param_groups]

    def reduce_loss_dict(self, loss_dict):
        """Loss tensors -> floats averaged over the ranks (for logging only)."""
        return OrderedDict(dist_util.reduce_loss_dict(loss_dict))

    def get_current_log(self):
        return self.log_dict

    # ------------------------------------------------------------------------------------------ checkpoints
    def save_network(self, net, net_label, current_iter, param_key='params', options=None):
        """models/<net_label>_<iter>.pth (iter -1: 'latest') = {param_key: state_dict} (two networks: net_g,
        net_g_ema), atomically, on rank 0 only; ``options`` (the network's build options) are kept beside them."""
        if self.opt.get('rank', 0) != 0:
            return None
        path = network_file_path(self.opt, net_label, current_iter)
        nets = net if isinstance(net, (list, tuple)) else [net]
        keys = param_key if isinstance(param_key, (list, tuple)) else [param_key]
        # never a checkpoint of NaN weights (GFPGANModel.save checks all networks on all ranks first)
        self.check_finite_weights({f'{net_label}[{k}]': n for n, k in zip(nets, keys)}, current_iter, agree=False)
        if len(nets) == 1:
            save_network(bare(nets[0]), path, param_key=keys[0], options=options)
        else:
            save_network(bare(nets[0]), path, param_key=keys[0], ema_net=bare(nets[1]), options=options)
        return path

    def training_state(self, epoch, current_iter, extra=None, rank_rngs=None):
        """The dict of a training state. ``rank_rngs``: every rank's ``rng_state()`` in rank order (default: this
        process's only), stored as ``rng_ranks``; ``rng`` is rank 0's, as in states saved before."""
        rank_rngs = list(rank_rngs) if rank_rngs is not None else [rng_state()]
        return {
            'epoch': epoch,
            'iter': current_iter,
            'optimizers': [o.state_dict() for o in self.optimizers],
            'schedulers': [s.state_dict() for s in self.schedulers],
            'grad_scalers': [s.state_dict() for s in self.grad_scalers],
            'rng': rank_rngs[0],
            'rng_ranks': rank_rngs,
            **self.training_state_counters(),
            **self.training_state_extra,
            **(extra or {}),
        }

    def training_state_counters(self):
        """Entries of the model's own bookkeeping that a training state carries (e.g. skipped steps); none here."""
        return {}

    def load_training_state_counters(self, state):
        """Restore what ``training_state_counters`` saved, from a training state; nothing here."""

    def skipped_steps_summary(self):
        """One line on the optimizer steps training skipped and why (None: the model does not skip steps)."""
        return None

    def nonfinite_weights(self, nets):
        """['<label>.<tensor name>', ...] of the floating-point weights and buffers of ``nets`` ({label: net}) that
        hold a NaN or an infinity, on this rank."""
        bad = []
        for label, net in nets.items():
            items = [(k, v) for k, v in bare(net).state_dict().items() if v.is_floating_point() and v.numel()]
            bad += [f'{label}.{items[i][0]}' for i in nonfinite_indices([v for _, v in items])]
        return bad

    def check_finite_weights(self, nets, current_iter, agree=True):
        """Raise NonFiniteWeightsError, before anything is written, when a weight of ``nets`` ({label: net}) is NaN
        or infinite. ``agree``: all ranks take the decision together (every rank must call)."""
        bad = self.nonfinite_weights(nets)
        if (dist_util.any_rank(bool(bad)) if agree else bad):
            where = 'the end of training' if current_iter == -1 else f'iteration {current_iter}'
            shown = ', '.join(bad[:3]) + (f', ... ({len(bad)} tensors)' if len(bad) > 3 else '') if bad else \
                'on another rank'
            summary = self.skipped_steps_summary()
            raise NonFiniteWeightsError(
                f'NaN or infinite weights at {where} ({shown}): not saving them, so the checkpoints written before '
                f'are intact{"; " + summary.rstrip(".") if summary else ""}. Resume from the newest with '
                '--auto_resume after lowering the learning rates or checking the data.')

    def save_training_state(self, epoch, current_iter, extra=None):
        """training_states/<iter>.state (epoch, iter, optimizers, schedulers, every rank's random states,
        ``training_state_extra``, ``extra``), atomically, by rank 0; nothing for iter -1. Every rank must call it
        (the random states are gathered)."""
        if current_iter == -1:
            return None
        rank_rngs = dist_util.all_gather_object(rng_state())
        if self.opt.get('rank', 0) != 0:
            return None
        path = training_state_path(self.opt, current_iter)
        atomic_save(self.training_state(epoch, current_iter, extra, rank_rngs), path)
        return path

    def resume_training(self, resume_state):
        """Restore optimizers and schedulers from a training state (dict or path). The random states in it are the
        training loop's to restore (``set_rng_state``), once the data loader has drawn its seeds."""
        if not isinstance(resume_state, dict):
            resume_state = load_checkpoint_file(resume_state)
        for kind, own in (('optimizers', self.optimizers), ('schedulers', self.schedulers)):
            if len(resume_state[kind]) != len(own):
                raise ValueError(f'The training state has {len(resume_state[kind])} {kind}, this model '
                                 f'{len(own)}: it was saved by a different configuration.')
        for optimizer, state in zip(self.optimizers, resume_state['optimizers']):
            optimizer.load_state_dict(state)
        for scheduler, state in zip(self.schedulers, resume_state['schedulers']):
            scheduler.load_state_dict(state)
        # the loss scales of an fp16 run; a state saved in float32 or bf16 (empty entries) or before scalers were
        # saved leaves the fresh scalers as they are
        for scaler, state in zip(self.grad_scalers, resume_state.get('grad_scalers') or []):
            if state and scaler.is_enabled():
                scaler.load_state_dict(state)
        self.load_training_state_counters(resume_state)

    # ------------------------------------------------------------------------------------------ validation
    def validation(self, dataloader, current_iter, tb_logger=None, save_img=False):
        """Validate on ``dataloader``: ``dist_validation`` when training distributed, else ``nondist_validation``
        (BasicSR's dispatch, so that a subclass overriding either changes validation)."""
        if self.opt.get('dist'):
            self.dist_validation(dataloader, current_iter, tb_logger, save_img)
        else:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)

    def dist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """Rank 0 validates (``nondist_validation``) while the other ranks wait at a barrier."""
        if self.opt.get('rank', 0) == 0:
            self.nondist_validation(dataloader, current_iter, tb_logger, save_img)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()

    def nondist_validation(self, dataloader, current_iter, tb_logger, save_img):
        """Restore every validation image, save it (``save_img``) under BasicSR's names, average the ``val.metrics``
        into ``self.metric_results``, keep the best of each in ``self.best_metric_results`` and log them (text and
        TensorBoard ``metrics/<dataset>/<metric>``; the first batch as an lq | result | gt image grid).

        Saved as ``visualization/<img_name>/<img_name>_<current_iter>.png`` in training, else
        ``visualization/<dataset_name>/<img_name>_<val.suffix or the run's name>.png``."""
        val_opt = self.opt.get('val') or {}
        dataset_name = dataloader.dataset.opt.get('name', 'val')
        metrics = val_opt.get('metrics') or {}
        if metrics:
            self._initialize_best_metric_results(dataset_name)
        self.metric_results = {metric: 0. for metric in metrics}
        built = {name: build_metric({k: v for k, v in opt.items() if k != 'better'}) for name, opt in metrics.items()}
        count = 0
        pbar = tqdm(total=len(dataloader), unit='image') if val_opt.get('pbar') else None
        for index, data in enumerate(dataloader):
            if 'gt' not in data and hasattr(self, 'gt'):
                del self.gt  # no stale training gt as reference
            self.feed_data(data)
            self.test()
            visuals = self.get_current_visuals()
            if index == 0 and tb_logger is not None:
                log_images(tb_logger, f'images/{dataset_name}', visuals['lq'], visuals['result'], visuals.get('gt'),
                           current_iter)
            for b in range(visuals['result'].shape[0]):
                img_name = os.path.splitext(os.path.basename(data['lq_path'][b]))[0]
                restored = tensor2img(visuals['result'][b], min_max=(-1, 1))
                if save_img:
                    imwrite(restored, self._visualization_path(dataset_name, img_name, current_iter))
                if 'gt' in visuals and metrics:
                    reference = tensor2img(visuals['gt'][b], min_max=(-1, 1))
                    for metric, compute in built.items():
                        self.metric_results[metric] += compute(restored, reference)
                count += 1
                if pbar is not None:
                    pbar.set_description(f'Test {img_name}')
            if pbar is not None:
                pbar.update(1)
        if pbar is not None:
            pbar.close()
        if hasattr(self, 'gt'):
            del self.gt  # as the original: the next training batch brings its own
        if metrics and count:
            for metric in self.metric_results:
                self.metric_results[metric] /= count
                self._update_best_metric_result(dataset_name, metric, self.metric_results[metric], current_iter)
            self._log_validation_metric_values(current_iter, dataset_name, tb_logger)

    def _visualization_path(self, dataset_name, img_name, current_iter):
        folder = self.opt['path']['visualization']
        if self.opt.get('is_train'):
            return os.path.join(folder, img_name, f'{img_name}_{current_iter}.png')
        suffix = (self.opt.get('val') or {}).get('suffix') or self.opt.get('name', 'test')
        return os.path.join(folder, dataset_name, f'{img_name}_{suffix}.png')

    def _initialize_best_metric_results(self, dataset_name):
        """``self.best_metric_results[dataset_name][metric] = {better, val, iter}`` for each ``val.metrics`` entry
        (``better``: 'higher' (default) or 'lower'), once per dataset."""
        if not hasattr(self, 'best_metric_results'):
            self.best_metric_results = {}
        if dataset_name in self.best_metric_results:
            return
        record = {}
        for metric, content in ((self.opt.get('val') or {}).get('metrics') or {}).items():
            better = content.get('better') or default_better(content.get('type'))
            start = float('-inf') if better == 'higher' else float('inf')
            record[metric] = {'better': better, 'val': start, 'iter': -1}
        self.best_metric_results[dataset_name] = record

    def _update_best_metric_result(self, dataset_name, metric, val, current_iter):
        """Record ``val`` at ``current_iter`` as the best of ``metric`` when it is at least as good."""
        best = self.best_metric_results[dataset_name][metric]
        if (val >= best['val']) if best['better'] == 'higher' else (val <= best['val']):
            best['val'] = val
            best['iter'] = current_iter

    def _log_validation_metric_values(self, current_iter, dataset_name, tb_logger):
        best = getattr(self, 'best_metric_results', {}).get(dataset_name, {})
        lines = [f'Validation {dataset_name}, iteration {current_iter}:']
        for metric, value in self.metric_results.items():
            line = f'\t # {metric}: {value:.4f}'
            if metric in best:
                line += f'\tBest: {best[metric]["val"]:.4f} @ {best[metric]["iter"]} iter'
            lines.append(line)
        logger.info('\n'.join(lines))
        if tb_logger is not None:
            for metric, value in self.metric_results.items():
                tb_logger.add_scalar(f'metrics/{dataset_name}/{metric}', value, current_iter)
