"""The one metric system: each metric is a ``Metric`` class registered once in ``METRIC_REGISTRY`` under its short
name (``psnr``, ``lpips``, ``fid``, ...) with what it needs and how to read it. Training validation (``val.metrics``)
and the evaluation command both build metrics through ``build_metric``; the BasicSR function names
(``calculate_psnr``, ...) stay registered beside the classes for options files written for the original."""
from gfpgan.registry import METRIC_REGISTRY, UnknownTypeError

__all__ = ['Metric', 'metric_classes', 'metric_class', 'build_metric', 'calculate_metric', 'default_better']


class Metric:
    """A metric of restored faces. Subclasses set the class attributes, build what they load in ``__init__`` (once)
    and compute ``metric(img, img2) -> float`` on (H, W, 3) BGR uint8 images (``img2``: the reference, None for
    no-reference metrics); a set-level metric (``per_image = False``) implements ``of_set(paths)`` instead."""
    name = ''  # the short name: --metrics, tables, summary.json
    label = ''  # as printed in tables
    higher_is_better = True
    needs_reference = True  # a ground-truth image per restored image
    per_image = True  # False: one value for the whole set (FID)
    required_package = None  # (optional package module it imports, the feature named when it is missing) or None

    @classmethod
    def required_weights(cls, **options):
        """[(pretrained file name or path, what it is)] that ``cls(**options)`` loads: a preflight looks them up."""
        return []

    def __call__(self, img, img2=None):
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs):
        """Register each concrete metric (one that names itself) under its short name."""
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get('name'):
            METRIC_REGISTRY.register(cls, name=cls.name)


def metric_classes():
    """{short name: Metric class} of every registered metric, in the evaluation's table order (importing this
    module imports ``gfpgan.metrics`` first, which imports every metric module, registering its class)."""
    found = {name: obj for name, obj in METRIC_REGISTRY if isinstance(obj, type) and issubclass(obj, Metric)}
    order = ('psnr', 'ssim', 'lpips', 'deg', 'lmd', 'niqe', 'fid')
    return {name: found[name] for name in sorted(found, key=lambda n: (order.index(n) if n in order else 99, n))}


def metric_class(name):
    """The Metric class registered as ``name``; an unknown name lists the known ones."""
    classes = metric_classes()
    if name not in classes:
        raise UnknownTypeError(f"Unknown metric '{name}'; choose from {', '.join(classes)}.")
    return classes[name]


def build_metric(opt):
    """``(img, img2) -> float`` of a ``val.metrics`` entry ``{'type': name, **options}``, built once: a Metric class is
    instantiated with the options, a BasicSR function (``calculate_psnr``) is called with them on each pair."""
    kwargs = dict(opt)
    obj = METRIC_REGISTRY.get(kwargs.pop('type'))
    if isinstance(obj, type) and issubclass(obj, Metric):
        if not obj.per_image:
            raise ValueError(f"The metric '{obj.name}' is computed over a whole set, not per image; it cannot be a "
                             'val.metrics entry.')
        return obj(**kwargs)
    return lambda img, img2=None: obj(img=img, img2=img2, **kwargs)


def calculate_metric(data, opt):
    """``METRIC_REGISTRY[opt['type']](**data, **rest of opt)``, e.g. data = {'img': restored, 'img2': reference}."""
    kwargs = dict(opt)
    obj = METRIC_REGISTRY.get(kwargs.pop('type'))
    if isinstance(obj, type) and issubclass(obj, Metric):
        return obj(**kwargs)(data['img'], data.get('img2'))
    return obj(**data, **kwargs)


def default_better(type_name):
    """'higher' or 'lower': which way a ``val.metrics`` entry of ``type_name`` improves when it says no ``better``
    (a Metric class knows; BasicSR's functions keep BasicSR's default, 'higher')."""
    obj = METRIC_REGISTRY.get(type_name) if type_name in METRIC_REGISTRY else None
    is_metric = isinstance(obj, type) and issubclass(obj, Metric)
    return 'lower' if is_metric and not obj.higher_is_better else 'higher'
