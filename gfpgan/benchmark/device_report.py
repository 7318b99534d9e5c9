"""The device suite's report: JSON and Markdown written atomically, the Markdown tables of every case."""
import json

from gfpgan.utils.benchmark import json_safe, markdown_table
from gfpgan.utils.fileio import atomic_write


def write_json(path, report):
    with atomic_write(path) as f:
        f.write(json.dumps(json_safe(report), indent=2, allow_nan=False).encode('utf-8'))


def write_text(path, text):
    with atomic_write(path) as f:
        f.write(text.encode('utf-8'))


def _yes(value):
    return {True: 'yes', False: 'no'}.get(value, value)


def _status(row):
    status = row.get('status', '')
    if status == 'ok' and row.get('unsupported_options'):
        return 'ok; unsupported: ' + ', '.join(row['unsupported_options'])
    return status


def _ms(value):
    return None if value is None else value * 1e3


def _search_step(step):
    if not step['fits']:
        return f"no ({step['reason']})"
    return 'fits' if step.get('peak_memory_mib') is None else f"fits ({step['peak_memory_mib']:.0f} MiB)"


def device_markdown(report):
    """The device suite's tables (Markdown), the targets last."""
    machine, result = report['machine'], report['device']
    config = result['config']
    where = machine.get('gpu') if config['device'] == 'cuda' else f"{machine['cpu']}, {machine['torch_threads']} " \
        'threads'
    state = '' if result['complete'] else ' — INCOMPLETE (interrupted or still running)'
    size = config['sizes']['restorer']['out_size']
    parts = [
        f"## GFPGAN device benchmark: {config['device']} ({where}), torch {machine['torch']}, {config['mode']} sizes, "
        f"{config['elapsed_s']:.0f} s" + (f" of a {config['time_budget_s']:.0f} s budget" if config['time_budget_s']
                                          else '') + state
    ]
    restorer = [
        dict(r, compile=_yes(r.get('compile')), channels_last=_yes(r.get('channels_last')), status=_status(r))
        for r in result['restorer']
    ]
    parts += [
        f'\n### Restorer: GFPGANv1Clean forward, {size}x{size} ('
        + ('v1.4 configuration' if config['mode'] == 'full' else 'narrow quick configuration')
        + f", {config['weights']} weights, fixed noise; float32 without TF32; compile backend "
        f"{config['compile_backend']})",
        markdown_table(restorer, [('dtype', 'dtype', None), ('batch', 'batch', None), ('compile', 'compile', None),
                                  ('channels_last', 'channels-last', None), ('faces_per_s', 'faces/s', '.2f'),
                                  ('ms_per_face', 'ms/face', '.2f'), ('first_call_s', 'first call (s)', '.2f'),
                                  ('peak_memory_mib', 'peak mem (MiB)', '.0f'),
                                  ('psnr_vs_float32_db', 'PSNR vs float32 (dB)', '.1f'), ('status', 'status', None)])
    ]
    quality = [
        dict(q,
             compile=_yes(q['compile']),
             channels_last=_yes(q['channels_last']),
             psnr=('identical' if q['max_abs_diff_vs_float32'] == 0 else
                   f"{q['psnr_vs_float32_db']:.2f}" if q['psnr_vs_float32_db'] is not None else 'not finite'))
        for q in result['quality']
    ]
    parts += [
        '\n### Restorer quality: outputs against float32 eager at the same batch (same input, fixed noise; [-1, 1] '
        'mapped to [0, 1])',
        markdown_table(quality, [('dtype', 'dtype', None), ('batch', 'batch', None), ('compile', 'compile', None),
                                 ('channels_last', 'channels-last', None), ('psnr', 'PSNR (dB)', None),
                                 ('max_abs_diff_vs_float32', 'max abs diff', '.2e')])
    ]
    train = [
        dict(r,
             step_ms=_ms(r.get('step_s')),
             plain_ms=_ms(r.get('plain_step_s')),
             r1_ms=_ms(r.get('r1_step_s')),
             batch=r.get('batch', '-'),
             kind='largest that fits' if r['batch_kind'] == 'max' else 'base',
             status=_status(r)) for r in result['train']
    ]
    parts += [
        f"\n### Training step: GFPGANModel.optimize_parameters, options/{config['sizes']['train_options']} "
        '(random weights in place of the pretrained files); step = the mix of plain steps and one lazy-R1 step '
        'every net_d_reg_every iterations',
        markdown_table(train, [('precision', 'precision', None), ('batch', 'batch', None), ('kind', 'batch kind', None),
                               ('it_per_s', 'it/s', '.2f'), ('samples_per_s', 'samples/s', '.2f'),
                               ('step_ms', 'step (ms)', '.1f'), ('plain_ms', 'plain step (ms)', '.1f'),
                               ('r1_ms', 'R1 step (ms)', '.1f'), ('first_step_s', 'first step (s)', '.2f'),
                               ('peak_memory_mib', 'peak mem (MiB)', '.0f'), ('status', 'status', None)])
    ]
    for r in result['train']:
        if r.get('search'):
            steps = ', '.join(f"{s['batch']} " + _search_step(s) for s in r['search'])
            parts.append(f"\nLargest batch, {r['precision']}: {steps}.")
        if r.get('note'):
            parts.append(f"\nNote, {r['precision']} ({r['batch_kind']}): {r['note']}.")
    settings = '; '.join(f'{p}: ' + ', '.join(f'{k}={v}' for k, v in s.items())
                         for p, s in config['train_precisions'].items())
    parts.append(f'\nTraining options (`train` section): {settings}.')
    losses = result['first_step_losses']
    if losses:
        names = list(dict.fromkeys(name for values in losses.values() for name in values))
        rows = []
        for name in names:
            row = {'loss': name, **{p: losses[p].get(name) for p in losses}}
            reference = losses.get('fp32', {}).get(name)
            diffs = [abs(v[name] - reference) / abs(reference) for p, v in losses.items()
                     if p != 'fp32' and reference and v.get(name) is not None]
            row['rel'] = max(diffs) if diffs else None
            rows.append(row)
        parts += [
            '\n### First-step losses (same weights, batch and seed)',
            markdown_table(rows, [('loss', 'loss', None)] + [(p, p, '.5g') for p in losses]
                           + [('rel', 'max rel. diff vs fp32', '.2%')])
        ]
    parts += [
        f"\n### Data loader: FFHQDegradationDataset, options/{config['sizes']['data_options']} at "
        f"{config['sizes']['data_size']}x{config['sizes']['data_size']} (generated faces), steady state",
        markdown_table(result['data'], [('workers', 'workers', None), ('batch', 'batch', None),
                                        ('samples', 'samples', None), ('samples_per_s', 'samples/s', '.1f'),
                                        ('samples_per_s_per_worker', 'samples/s per worker', '.1f'),
                                        ('status', 'status', None)])
    ]
    parts += [
        '\n### End to end: astronaut photo 512x512 (1 face), upscale 2, RetinaFace R50 + ParseNet + GFPGAN v1.4 '
        '(+ Real-ESRGAN x2, tile 400) through GFPGANer.enhance_iter',
        markdown_table(result['end_to_end'], [('dtype', 'dtype', None), ('background', 'background', None),
                                              ('batch', 'batch', None), ('photos', 'photos', None),
                                              ('s_per_photo', 's/photo', '.3f'),
                                              ('peak_memory_mib', 'peak mem (MiB)', '.0f'),
                                              ('status', 'status', None)])
    ]
    parts += [
        '\n### Targets',
        markdown_table(result['targets'], [('target', 'target', None), ('requirement', 'requirement', None),
                                           ('measured', 'measured', None), ('status', 'status', None),
                                           ('note', 'note', None)])
    ]
    return '\n'.join(parts)
