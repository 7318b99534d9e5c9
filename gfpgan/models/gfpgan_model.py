"""GFPGANModel: the official GFPGAN training step (restorer, global and eye/mouth discriminators, identity loss).

The original's names are kept and the training step goes through them, so subclasses written for it work:
``net_d_left_eye`` / ``net_d_right_eye`` / ``net_d_mouth``, ``optimizer_d_*``, ``loc_left_eyes`` / ...,
``cri_*``, ``network_identity`` (also ``net_identity``), ``get_roi_regions`` (which sets ``left_eyes``,
``left_eyes_gt``, ...), ``construct_img_pyramid``, ``_gram_mat``, ``gray_resize_for_identity``, ``model_ema``,
``validation`` -> ``dist_validation`` / ``nondist_validation`` with BasicSR's best-metric bookkeeping, ``save``.

Deliberate differences from the original (gfpgan 1.3.8), each kept visible:

- Eye / mouth crops are ``round(80 * out_size / 512)`` and ``round(120 * out_size / 512)`` pixels and their
  values are not scaled. The original uses ``int(out_size / 512)`` as both a size factor and a value factor:
  the same at 512, zero-sized crops below 512 and crops with doubled pixel values at 1024.
- ``train.comp_d_fake_loss``: the original scores real component crops with ``gan_component_opt`` (vanilla BCE)
  but fake ones with ``gan_opt`` (wgan_softplus). That stays the default (``gan``), for reproducibility;
  ``component`` scores both with ``gan_component_opt``.
- ``train.ema_decay`` (default the original's hard-coded 0.5 ** (32 / 10000)).
- A NaN / Inf loss, or a NaN / Inf gradient with a finite loss (one fused norm over the optimizer's gradients,
  float32 and bf16; in fp16 the gradient scaler does this), skips that optimizer step on every rank, is counted by
  cause and logged; more than ``train.max_nonfinite_steps`` (default 100) in a row raise
  :class:`NonFiniteLossError`. The counts live in the training state, so they survive a resume. ``save`` refuses
  NaN / Inf weights (:class:`NonFiniteWeightsError`) before writing anything.

Speed options (``train`` section, all off by default so a run computes the original's float32 arithmetic):
``mixed_precision`` (bf16 / fp16, see ``gfpgan.models.precision``), ``compile`` (``torch.compile`` of the generator
and global discriminator forward passes; the lazy-R1 forward, which needs a double backward, stays eager),
``channels_last`` (NHWC networks and batches, for tensor cores on CUDA), ``fused_optimizer`` (fused Adam) and
``tf32``.

Long because the official training step is one procedure read top to bottom (generator losses, the three
discriminators, R1, identity) through the original's method names, which subclasses override; splitting it would
scatter the step that ``tests/models/test_official_train_step.py`` compares loss by loss with the original.
"""
import logging
import math
from collections import Counter, OrderedDict

import torch
from torch.nn import functional as F
from torchvision.ops import roi_align

from gfpgan.archs import build_network
from gfpgan.faces.components import COMPONENTS
from gfpgan.losses import build_loss
from gfpgan.losses.basic_loss import gram_matrix
from gfpgan.losses.gan_loss import r1_penalty
from gfpgan.losses.identity_loss import gray_resize_for_identity
from gfpgan.registry import MODEL_REGISTRY
from gfpgan.utils import dist as dist_util

from .base_model import BaseModel, NonFiniteError, NonFiniteWeightsError, bare

__all__ = ['GFPGANModel', 'NonFiniteLossError', 'NonFiniteWeightsError', 'image_pyramid']

logger = logging.getLogger('gfpgan')

EYE_SIZE_512, MOUTH_SIZE_512 = 80, 120  # crop sizes of the original at out_size 512


class NonFiniteLossError(NonFiniteError):
    """Too many consecutive training steps had a NaN or infinite loss or gradient."""


def image_pyramid(img, levels):
    """[img downsampled (levels - 1) times by 2 (bilinear), ..., img]: the targets of the U-Net's RGB outputs."""
    pyramid = [img]
    for _ in range(levels - 1):
        pyramid.insert(0, F.interpolate(pyramid[0], scale_factor=0.5, mode='bilinear', align_corners=False))
    return pyramid


@MODEL_REGISTRY.register()
class GFPGANModel(BaseModel):
    """Trains GFPGAN as the paper: see the module docstring for where it deliberately differs."""

    def __init__(self, opt):
        super().__init__(opt)
        self.net_g = self.model_to_device(build_network(opt['network_g']))
        self.print_network(self.net_g)
        path_opt = opt.get('path', {})
        if path_opt.get('pretrain_network_g'):
            self.load_network(self.net_g, path_opt['pretrain_network_g'], path_opt.get('strict_load_g', True),
                              path_opt.get('param_key_g', 'params'))
        self.out_size = int(opt['network_g']['out_size'])
        self.log_size = int(math.log2(self.out_size))
        if self.is_train:
            self.init_training_settings()

    # ------------------------------------------------------------------------------------------ set-up
    def _build_trained(self, key, strict_key=None):
        net = self.model_to_device(build_network(self.opt[key]))
        self.print_network(net)
        load_path = self.opt.get('path', {}).get(f'pretrain_{key}')
        if load_path:
            self.load_network(net, load_path, self.opt['path'].get(strict_key, True) if strict_key else True, 'params')
        return net.train()

    def init_training_settings(self):
        train_opt = self.opt['train']
        path_opt = self.opt.get('path', {})
        self.net_d = self._build_trained('network_d', 'strict_load_d')

        # EMA copy of net_g: evaluated and saved as params_ema, never wrapped in DDP
        self.net_g_ema = build_network(self.opt['network_g']).to(self.device).eval()
        if path_opt.get('pretrain_network_g'):
            self.load_network(self.net_g_ema, path_opt['pretrain_network_g'], path_opt.get('strict_load_g', True),
                              'params_ema')
        else:
            self.model_ema(0)
        for p in self.net_g_ema.parameters():
            p.requires_grad_(False)
        self.net_g.train()
        self.ema_decay = train_opt.get('ema_decay', 0.5**(32 / (10 * 1000)))

        self.use_facial_disc = all(f'network_d_{part}' in self.opt for part in COMPONENTS)
        if self.use_facial_disc:
            for part in COMPONENTS:
                setattr(self, f'net_d_{part}', self._build_trained(f'network_d_{part}'))
            self.cri_component = build_loss(train_opt['gan_component_opt']).to(self.device)
            fake_loss = train_opt.get('comp_d_fake_loss', 'gan')
            if fake_loss not in ('gan', 'component'):
                raise ValueError(
                    f"train.comp_d_fake_loss must be 'gan' (the original) or 'component', got {fake_loss!r}.")
            self.comp_d_fake_loss = fake_loss
            self.eye_size = self.crop_size(EYE_SIZE_512)
            self.mouth_size = self.crop_size(MOUTH_SIZE_512)

        self.cri_pix = build_loss(train_opt['pixel_opt']).to(self.device) if train_opt.get('pixel_opt') else None
        self.cri_perceptual = (
            build_loss(train_opt['perceptual_opt']).to(self.device) if train_opt.get('perceptual_opt') else None)
        self.cri_l1 = build_loss(train_opt['L1_opt']).to(self.device)  # pyramid, component style, identity
        self.cri_gan = build_loss(train_opt['gan_opt']).to(self.device)

        self.use_identity = 'network_identity' in self.opt
        if self.use_identity:
            # the original's attribute name; ``net_identity`` is the same module
            self.network_identity = build_network(self.opt['network_identity']).to(self.device).eval()
            if path_opt.get('pretrain_network_identity'):
                self.load_network(self.network_identity, path_opt['pretrain_network_identity'], True, None)
            for p in self.network_identity.parameters():
                p.requires_grad_(False)

        self.r1_reg_weight = train_opt['r1_reg_weight']
        self.net_d_iters = train_opt.get('net_d_iters', 1)
        self.net_d_init_iters = train_opt.get('net_d_init_iters', 0)
        self.net_d_reg_every = train_opt['net_d_reg_every']
        self.max_nonfinite_steps = train_opt.get('max_nonfinite_steps', 100)
        self.nonfinite_streak = 0  # iterations in a row with a skipped or overflowed step
        self.nonfinite_total = 0  # iterations with a step skipped for a NaN / Inf loss or gradient
        self.overflow_total = 0  # iterations with a float16 gradient overflow
        self.skip_causes = Counter()  # {'g: gradient not finite': steps, ...}
        self.setup_optimizers()
        self.setup_schedulers()
        self.setup_grad_scalers()
        # forward passes of the steps without R1; the R1 forward (double backward) always uses the eager net_d
        self.net_g_forward = self.compiled(self.net_g, 'net_g')
        self.net_d_forward = self.compiled(self.net_d, 'net_d')

    def setup_optimizers(self):
        """Adam with the original's betas: (0, 0.99) for net_g; for net_d the lazy-R1 scaling of betas to the power
        reg_every / (reg_every + 1); (0.9, 0.99) for the component discriminators. As in the original, the scaled
        net_d rate is only Adam's default: the parameter group's own (unscaled) ``lr`` is what applies. A ``betas``
        entry in ``optim_g`` / ``optim_d`` / ``optim_component`` replaces these (the original ignored it)."""
        train_opt = self.opt['train']

        def optimizer(opt_key, params, ratio=1., betas=None):
            kwargs = dict(train_opt[opt_key])
            kind = kwargs.pop('type')
            lr = kwargs.pop('lr')
            betas = tuple(kwargs.pop('betas', None) or betas or (0**ratio, 0.99**ratio))
            return self.get_optimizer(kind, [{'params': list(params), 'lr': lr}], lr * ratio, betas=betas, **kwargs)

        self.optimizer_g = optimizer('optim_g', self.net_g.parameters())
        d_ratio = self.net_d_reg_every / (self.net_d_reg_every + 1)
        self.optimizer_d = optimizer('optim_d', self.net_d.parameters(), d_ratio)
        self.optimizers = [self.optimizer_g, self.optimizer_d]
        if self.use_facial_disc:
            for part in COMPONENTS:
                net = getattr(self, f'net_d_{part}')
                setattr(self, f'optimizer_d_{part}', optimizer('optim_component', net.parameters(), betas=(0.9, 0.99)))
            self.optimizers += [getattr(self, f'optimizer_d_{part}') for part in COMPONENTS]

    # ------------------------------------------------------------------------------------------ the original's names
    # The networks, optimizers, boxes and crops are attributes under the original's names (net_d_left_eye,
    # optimizer_d_mouth, loc_left_eyes, left_eyes_gt, ...), read by the training step each time, so a subclass that
    # reads or replaces one of them sees or changes training; the dicts below are views over them.
    @property
    def net_d_components(self):
        """{part: net_d_<part>} for the eye / mouth discriminators that exist."""
        return OrderedDict((part, getattr(self, f'net_d_{part}')) for part in COMPONENTS
                           if hasattr(self, f'net_d_{part}'))

    @net_d_components.setter
    def net_d_components(self, nets):
        for part, net in nets.items():
            setattr(self, f'net_d_{part}', net)

    @property
    def optimizer_components(self):
        """{part: optimizer_d_<part>}."""
        return OrderedDict((part, getattr(self, f'optimizer_d_{part}')) for part in COMPONENTS
                           if hasattr(self, f'optimizer_d_{part}'))

    @property
    def locations(self):
        """{part: (B, 4) [x1, y1, x2, y2] boxes}: loc_left_eyes, loc_right_eyes, loc_mouths."""
        return {part: getattr(self, f'loc_{part}s') for part in COMPONENTS}

    @locations.setter
    def locations(self, boxes):
        for part, value in boxes.items():
            setattr(self, f'loc_{part}s', value)

    @property
    def net_identity(self):
        """The frozen ArcFace of the identity loss (the original's ``network_identity``)."""
        return self.network_identity

    @net_identity.setter
    def net_identity(self, net):
        self.network_identity = net

    # ------------------------------------------------------------------------------------------ data
    def feed_data(self, data):
        self.lq = data['lq'].to(self.device, memory_format=self.memory_format)
        if 'gt' in data:
            self.gt = data['gt'].to(self.device, memory_format=self.memory_format)
        if 'loc_left_eye' in data:
            # (B, 4) [x1, y1, x2, y2] boxes, as the original: loc_left_eyes, loc_right_eyes, loc_mouths
            self.loc_left_eyes = data['loc_left_eye']
            self.loc_right_eyes = data['loc_right_eye']
            self.loc_mouths = data['loc_mouth']

    def crop_size(self, size_at_512):
        """A crop size given for 512 x 512 faces, at this model's out_size: round(size * out_size / 512)."""
        return max(1, round(size_at_512 * self.out_size / 512))

    def component_crops(self, img, eye_size=None, mouth_size=None):
        """{part: (B, 3, s, s) roi-aligned crops of ``img`` at the fed eye / mouth boxes}; s is ``eye_size`` /
        ``mouth_size`` pixels (default: the model's, 80 / 120 at 512)."""
        eye_size = eye_size or self.eye_size
        mouth_size = mouth_size or self.mouth_size
        batch = img.shape[0]
        index = torch.arange(batch, dtype=torch.float32).view(-1, 1)
        eyes = torch.cat([index, self.loc_left_eyes.float(), index, self.loc_right_eyes.float()], 1)
        eyes = eyes.view(2 * batch, 5).to(img.device)  # rows: left eye of image 0, right eye of image 0, ...
        mouths = torch.cat([index, self.loc_mouths.float()], 1).to(img.device)
        all_eyes = roi_align(img, boxes=eyes, output_size=eye_size)
        return {
            'left_eye': all_eyes[0::2],
            'right_eye': all_eyes[1::2],
            'mouth': roi_align(img, boxes=mouths, output_size=mouth_size)
        }

    def get_roi_regions(self, eye_out_size=EYE_SIZE_512, mouth_out_size=MOUTH_SIZE_512):
        """Crop the eyes and mouth of ``self.gt`` and ``self.output`` at the fed boxes, as the original: sets
        ``left_eyes_gt``, ``right_eyes_gt``, ``mouths_gt``, ``left_eyes``, ``right_eyes``, ``mouths`` ((B, 3, s, s)),
        which the component discriminators then score. The sizes are given for 512 x 512 faces and scaled to
        out_size (``crop_size``; the original's ``int(out_size / 512)`` factor also scaled the values)."""
        eye_size, mouth_size = self.crop_size(eye_out_size), self.crop_size(mouth_out_size)
        crops_gt = self.component_crops(self.gt, eye_size, mouth_size)
        crops = self.component_crops(self.output, eye_size, mouth_size)
        for part in COMPONENTS:
            setattr(self, f'{part}s_gt', crops_gt[part])
            setattr(self, f'{part}s', crops[part])

    def construct_img_pyramid(self):
        """[gt downsampled log_size - 3 times by 2, ..., gt] (8 x 8 up to out_size): the targets of the pyramid
        loss, as the original."""
        return image_pyramid(self.gt, self.log_size - 2)

    def _gram_mat(self, x):
        """Gram matrix (N, C, C) of features (N, C, H, W), normalised by C * H * W (the component style loss)."""
        return gram_matrix(x)

    def gray_resize_for_identity(self, out, size=128):
        """(N, 3, H, W) faces -> (N, 1, size, size) gray, the identity network's input."""
        return gray_resize_for_identity(out, size)

    # ------------------------------------------------------------------------------------------ training step
    def _all_finite(self, *losses):
        """Whether every loss is finite on every rank (all ranks must take the same decision)."""
        local = all(bool(torch.isfinite(loss.detach()).all()) for loss in losses)
        return not dist_util.any_rank(not local)

    def _backward(self, loss, optimizer):
        """Backpropagate ``loss`` for ``optimizer``'s network, scaled by its gradient scaler in fp16."""
        self.grad_scaler(optimizer).scale(loss).backward()

    def _nonfinite_causes(self, optimizers, losses):
        """[loss not finite, gradients not finite] on any rank, from one fused norm over the gradients of
        ``optimizers`` and one all_reduce: every rank skips together. In fp16 the gradient scaler checks the
        gradients itself (an overflow lowers the scale), so only the losses are checked."""
        flags = [~torch.isfinite(torch.stack([loss.detach().float().reshape(()) for loss in losses])).all()]
        if not any(self.grad_scaler(o).is_enabled() for o in optimizers):
            grads = [p.grad for o in optimizers for group in o.param_groups for p in group['params']
                     if p.grad is not None]
            if grads:
                norms = torch._foreach_norm(grads)  # one fused reduction; a NaN or an Inf anywhere makes one not finite
                flags.append(~torch.isfinite(torch.stack(norms)).all())
        flags = dist_util.any_rank_each(torch.stack([f.to(flags[0].device) for f in flags]))
        return flags[0], len(flags) > 1 and flags[1]

    def _step(self, optimizers, losses, what):
        """Step the optimizers, or record that ``what`` skipped this iteration's step: its loss or (float32 / bf16)
        its gradients were not finite on some rank, or (fp16) its gradients overflowed, in which case the gradient
        scaler skipped the step and lowered its scale. ``losses``: the losses backpropagated for the step."""
        loss_bad, grad_bad = self._nonfinite_causes(optimizers, losses)
        if loss_bad or grad_bad:
            self.skipped.append(what)
            self.skip_reasons.append(f'{what}: {"loss" if loss_bad else "gradient"} not finite')
            return
        for optimizer in optimizers:
            scaler = self.grad_scaler(optimizer)
            scale = scaler.get_scale() if scaler.is_enabled() else None
            scaler.step(optimizer)
            scaler.update()
            if scale is not None and scaler.get_scale() < scale and what not in self.overflowed:
                self.overflowed.append(what)

    def _count_skips(self, current_iter=None):
        """Count iterations with a skipped step (by cause); too many in a row stop the run."""
        if self.skip_reasons:
            self.skip_causes.update(self.skip_reasons)
            self.nonfinite_total += 1
            if self.opt.get('rank', 0) == 0:
                logger.warning('Iteration %s: skipped the optimizer step of %s (%d iterations skipped so far).',
                               current_iter, ', '.join(self.skip_reasons), self.nonfinite_total)
        if self.overflowed:
            self.overflow_total += 1
        if self.nonfinite_total:  # in every log line (and TensorBoard scalar) from the first skip on
            self.log_dict['skipped_steps'] = self.nonfinite_total
        if self.overflow_total:
            self.log_dict['fp16_overflow_steps'] = self.overflow_total
        if not self.skipped and not self.overflowed:
            self.nonfinite_streak = 0
            return
        self.nonfinite_streak += 1
        if self.nonfinite_streak > self.max_nonfinite_steps:
            causes = list(self.skip_reasons) + [f'{what}: float16 gradient overflow' for what in self.overflowed]
            raise NonFiniteLossError(
                f'{self.nonfinite_streak} training iterations in a row had a NaN or infinite loss or gradient '
                f'({", ".join(causes)}); stopping with the last checkpoint intact: lower the learning rates, check '
                'the data, or train in bf16 or float32 instead of fp16.')

    def skipped_steps_summary(self):
        """E.g. '3 iterations skipped an optimizer step (g: gradient not finite x 2, d: loss not finite x 1); 5 had
        a float16 gradient overflow.'"""
        if not self.is_train:
            return None
        if not self.nonfinite_total and not self.overflow_total:
            return 'No optimizer step was skipped for a NaN or infinite loss or gradient.'
        causes = ', '.join(f'{cause} x {count}' for cause, count in sorted(self.skip_causes.items()))
        text = f'{self.nonfinite_total} iterations skipped an optimizer step' + (f' ({causes})' if causes else '')
        if self.overflow_total:
            text += f'; {self.overflow_total} had a float16 gradient overflow'
        return text + '.'

    def training_state_counters(self):
        """The skipped-step counts, so that a resumed run keeps counting (and its streak limit) where it was."""
        if not self.is_train:
            return {}
        return {
            'nonfinite_steps': {
                'skipped': self.nonfinite_total,
                'overflowed': self.overflow_total,
                'streak': self.nonfinite_streak,
                'causes': dict(self.skip_causes),
            }
        }

    def load_training_state_counters(self, state):
        counts = state.get('nonfinite_steps')
        if not counts or not self.is_train:
            return  # a state saved before these counts were: start from zero
        self.nonfinite_total = int(counts.get('skipped', 0))
        self.overflow_total = int(counts.get('overflowed', 0))
        self.nonfinite_streak = int(counts.get('streak', 0))
        self.skip_causes = Counter({str(k): int(v) for k, v in (counts.get('causes') or {}).items()})

    def _set_requires_grad(self, nets, flag):
        for net in nets:
            for p in net.parameters():
                p.requires_grad_(flag)

    def optimize_parameters(self, current_iter):
        """One iteration: the generator step (unless net_d_iters / net_d_init_iters skip it), the EMA update, the
        global discriminator step (with the lazy R1 penalty every net_d_reg_every iterations) and the eye / mouth
        discriminators' step. Forward passes and losses run under ``self.precision``'s autocast; the losses are
        taken on float32 outputs; the R1 penalty and the EMA run in float32."""
        train_opt = self.opt['train']
        self.skipped = []  # which steps were skipped this iteration: 'g', 'd', 'component'
        self.skip_reasons = []  # and why: 'g: gradient not finite'
        self.overflowed = []
        autocast = self.precision.autocast
        discriminators = [self.net_d] + (list(self.net_d_components.values()) if self.use_facial_disc else [])
        self._set_requires_grad(discriminators, False)
        self.optimizer_g.zero_grad()

        pyramid_weight = train_opt.get('pyramid_loss_weight', 0)
        if pyramid_weight > 0 and current_iter > train_opt.get('remove_pyramid_loss', float('inf')):
            pyramid_weight = 1e-12  # as the original: tiny, not zero, so DDP sees every parameter used
        with autocast():
            output, out_rgbs = self.net_g_forward(self.lq, return_rgb=pyramid_weight > 0)
        self.output = output.float()
        if self.use_facial_disc:
            self.get_roi_regions(eye_out_size=EYE_SIZE_512, mouth_out_size=MOUTH_SIZE_512)
            crops = {part: getattr(self, f'{part}s') for part in COMPONENTS}
            crops_gt = {part: getattr(self, f'{part}s_gt') for part in COMPONENTS}

        loss_dict = OrderedDict()
        if current_iter % self.net_d_iters == 0 and current_iter > self.net_d_init_iters:
            with autocast():
                self._generator_losses(loss_dict, out_rgbs, crops if self.use_facial_disc else None,
                                       crops_gt if self.use_facial_disc else None, pyramid_weight)
            l_g_total = 0
            for value in loss_dict.values():
                l_g_total = l_g_total + value
            self._backward(l_g_total, self.optimizer_g)
            self._step([self.optimizer_g], [l_g_total], 'g')

        self.model_ema(decay=self.ema_decay)

        # ---------------------------------------------------------------- discriminators
        self._set_requires_grad(discriminators, True)
        self.optimizer_d.zero_grad()
        with autocast():
            fake_pred = self.net_d_forward(self.output.detach()).float()
            real_pred = self.net_d_forward(self.gt).float()
            l_d = self.cri_gan(real_pred, True, is_disc=True) + self.cri_gan(fake_pred, False, is_disc=True)
        loss_dict['l_d'] = l_d
        loss_dict['real_score'] = real_pred.detach().mean()  # wgan: real should be positive, fake negative
        loss_dict['fake_score'] = fake_pred.detach().mean()
        self._backward(l_d, self.optimizer_d)
        d_losses = [l_d]
        if current_iter % self.net_d_reg_every == 0:
            self.gt.requires_grad = True
            real_pred = self.net_d(self.gt)  # eager and float32: the penalty differentiates through a gradient
            l_d_r1 = r1_penalty(real_pred, self.gt)
            l_d_r1 = self.r1_reg_weight / 2 * l_d_r1 * self.net_d_reg_every + 0 * real_pred[0]
            loss_dict['l_d_r1'] = l_d_r1.detach().mean()
            self._backward(l_d_r1, self.optimizer_d)
            self.gt.requires_grad = False
            d_losses.append(l_d_r1)
        self._step([self.optimizer_d], d_losses, 'd')

        if self.use_facial_disc:
            fake_criterion = self.cri_gan if self.comp_d_fake_loss == 'gan' else self.cri_component
            comp_losses = []
            for part, net in self.net_d_components.items():
                optimizer = getattr(self, f'optimizer_d_{part}')
                optimizer.zero_grad()
                with autocast():
                    fake_pred = net(crops[part].detach())[0].float()
                    real_pred = net(crops_gt[part])[0].float()
                    loss = self.cri_component(real_pred, True, is_disc=True) + fake_criterion(
                        fake_pred, False, is_disc=True)
                loss_dict[f'l_d_{part}'] = loss
                self._backward(loss, optimizer)
                comp_losses.append(loss)
            self._step(list(self.optimizer_components.values()), comp_losses, 'component')

        self.log_dict = self.reduce_loss_dict(loss_dict)
        self._count_skips(current_iter)

    def _generator_losses(self, loss_dict, out_rgbs, crops, crops_gt, pyramid_weight):
        """Fill ``loss_dict`` with the generator's losses on ``self.output`` (float32) against ``self.gt``."""
        train_opt = self.opt['train']
        if self.cri_pix:
            loss_dict['l_g_pix'] = self.cri_pix(self.output, self.gt)
        if pyramid_weight > 0:
            for i, target in enumerate(self.construct_img_pyramid()):
                loss_dict[f'l_p_{2**(i + 3)}'] = self.cri_l1(out_rgbs[i].float(), target) * pyramid_weight
        if self.cri_perceptual:
            l_percep, l_style = self.cri_perceptual(self.output, self.gt)
            if l_percep is not None:
                loss_dict['l_g_percep'] = l_percep
            if l_style is not None:
                loss_dict['l_g_style'] = l_style
        loss_dict['l_g_gan'] = self.cri_gan(self.net_d_forward(self.output).float(), True, is_disc=False)
        if self.use_facial_disc:
            feats = {}
            for part, net in self.net_d_components.items():
                pred, feats[part] = net(crops[part], return_feats=True)
                loss_dict[f'l_g_gan_{part}'] = self.cri_component(pred.float(), True, is_disc=False)
            comp_style_weight = train_opt.get('comp_style_weight', 0)
            if comp_style_weight > 0:
                style = 0
                for part, net in self.net_d_components.items():
                    _, real = net(crops_gt[part], return_feats=True)
                    fake = feats[part]
                    style = style + self.cri_l1(self._gram_mat(fake[0]), self._gram_mat(real[0].detach())) * 0.5
                    style = style + self.cri_l1(self._gram_mat(fake[1]), self._gram_mat(real[1].detach()))
                loss_dict['l_g_comp_style_loss'] = style * comp_style_weight
        if self.use_identity:
            identity_gt = self.network_identity(self.gray_resize_for_identity(self.gt)).float().detach()
            identity_out = self.network_identity(self.gray_resize_for_identity(self.output)).float()
            loss_dict['l_identity'] = self.cri_l1(identity_out, identity_gt) * train_opt['identity_weight']

    # ------------------------------------------------------------------------------------------ inference, saving
    @torch.no_grad()
    def test(self):
        """Restore the fed ``lq`` with the EMA generator (net_g when not training)."""
        net = self.net_g_ema if hasattr(self, 'net_g_ema') else bare(self.net_g)
        was_training = net.training
        net.eval()
        self.output, _ = net(self.lq)
        net.train(was_training)

    def get_current_visuals(self):
        """{'lq', 'result', 'gt'}: (B, 3, H, W) tensors in [-1, 1] on the CPU."""
        visuals = OrderedDict(lq=self.lq.detach().cpu(), result=self.output.detach().cpu())
        if hasattr(self, 'gt'):
            visuals['gt'] = self.gt.detach().cpu()
        return visuals

    def save(self, epoch, current_iter, extra=None):
        """net_g_<iter>.pth {params, params_ema, network_options (network_g, so inference rebuilds it)},
        net_d*_<iter>.pth {params}, training_states/<iter>.state (with ``extra`` entries); iter -1 writes the
        *_latest.pth networks only. NaN or infinite weights in any network (EMA included) raise
        NonFiniteWeightsError on every rank before anything is written."""
        nets = {'net_g': self.net_g, 'net_g_ema': self.net_g_ema, 'net_d': self.net_d}
        nets.update({f'net_d_{part}': net for part, net in self.net_d_components.items()})
        self.check_finite_weights(nets, current_iter)
        self.save_network([self.net_g, self.net_g_ema], 'net_g', current_iter, param_key=['params', 'params_ema'],
                          options=self.opt['network_g'])
        self.save_network(self.net_d, 'net_d', current_iter)
        if self.use_facial_disc:
            for part, net in self.net_d_components.items():
                self.save_network(net, f'net_d_{part}', current_iter)
        self.save_training_state(epoch, current_iter, extra)
