"""Preflight of a training's options beyond the schema: every network builds from its options (on the meta
device), the out sizes agree, the frozen networks (identity, perceptual) have their pretrained weights, and the
experiment folder can be written. Problems are recorded in the `CheckRun`, reported with the others."""
import torch

from gfpgan.run import output_folders

from .spec import keyword_names

__all__ = ['check_training', 'section']


def section(opt, *keys):
    """The mapping at ``opt[k1][k2]...``, or {} where a key is absent or not a mapping (already a problem)."""
    for key in keys:
        opt = opt.get(key) if isinstance(opt, dict) else None
    return opt if isinstance(opt, dict) else {}


def _frozen_networks_problems(opt, run):
    """The identity loss and the perceptual loss need their pretrained network: a random one is refused unless
    the options say it is intended (``path.allow_random_network_identity``, ``perceptual_opt.pretrained: false``)."""
    path_opt = section(opt, 'path')
    if isinstance(opt.get('network_identity'), dict) and not path_opt.get('pretrain_network_identity') \
            and not path_opt.get('allow_random_network_identity'):
        run.record(
            'path.pretrain_network_identity', 'is empty, so the identity loss would compare faces with a random, '
            'frozen ArcFace: set it to experiments/pretrained_models/arcface_resnet18.pth (or remove '
            '`network_identity` to train without the identity loss; `path.allow_random_network_identity: true` '
            'if a random network is intended)')
    perceptual = section(opt, 'train', 'perceptual_opt')
    if perceptual.get('type') == 'PerceptualLoss':
        pretrained = perceptual.get('pretrained', True)
        if isinstance(pretrained, str):
            run.problems.weights(pretrained, f'option `train.perceptual_opt.pretrained` in {run.source}')
        elif pretrained:
            from gfpgan.archs.vgg_arch import _torchvision_weights
            try:
                filename, _ = _torchvision_weights(perceptual.get('vgg_type', 'vgg19'))
            except AttributeError:
                run.record('train.perceptual_opt.vgg_type', f"names {perceptual.get('vgg_type')!r}, which is not "
                           'a torchvision VGG (vgg11 ... vgg19, with _bn)')
                return
            run.problems.weights(filename, f'the VGG of option `train.perceptual_opt` in {run.source}')


def _network_problems(opt, run):
    """Each network must build from its options: built on the meta device (no memory, no weight loading), so an
    impossible ``out_size`` or a bad argument is found before any folder exists; out sizes must agree."""
    known = run.registered_types('arch')
    built = True
    for key, net_opt in opt.items():
        if not key.startswith('network_') or not isinstance(net_opt, dict) or net_opt.get('type') not in known:
            continue
        kwargs = {k: v for k, v in net_opt.items() if k != 'type'}
        accepted = keyword_names(known[net_opt['type']])
        if accepted is not None and not set(kwargs) <= accepted:
            continue  # the unknown keywords are already reported
        if 'decoder_load_path' in kwargs:
            kwargs['decoder_load_path'] = None
        try:
            with torch.device('meta'):
                known[net_opt['type']](**kwargs)
        except Exception as err:  # noqa: BLE001 - any constructor error is a problem of these options
            message = str(err).strip().rstrip('.') or type(err).__name__
            message = message.removeprefix(f"{net_opt['type']}: ")
            run.record(key, f"cannot build {net_opt['type']} with these options: {message}")
            built = False
    if not built:
        return
    sizes = {'datasets.train.out_size': section(opt, 'datasets', 'train').get('out_size')}
    sizes.update({f'{key}.out_size': section(opt, key).get('out_size') for key in ('network_g', 'network_d')})
    given = {key: size for key, size in sizes.items() if isinstance(size, int)}
    if len(set(given.values())) > 1:
        listed = ', '.join(f'`{key}` {size}' for key, size in given.items())
        run.problems.add(f'Options {listed} in {run.source} must be equal: the networks see the training faces at '
                         'that size.')


def check_training(opt, run):
    """What a training needs beyond the schema: buildable networks, pretrained frozen networks, a writable
    experiment folder."""
    _network_problems(opt, run)
    _frozen_networks_problems(opt, run)
    for folder in output_folders(opt):
        run.problems.output_folder(folder, f'The experiment folder of {run.source}')
