"""The device check: everything this project verifies and measures on a GPU, in one call of at most 8 minutes.

Here, once: ``make device-wheels`` (the wheels of lmdb, lpips, pytorch-fid, facexlib and filterpy for the GPU
machine's Python 3.12, into .whl/). Then one device call from the repository root, carrying .whl, with a time limit of
about 540 s:

    bash scripts/device_check.sh                # = make device-check; the report goes to $OUT (else results/)

Stages, each with its own time limit; a stage that fails or runs out of time is reported and the next one runs:

  1. install  the wheels of .whl/ with ``pip install --no-deps --target`` into a temporary folder (extracted as zip
              files when pip cannot), put on PYTHONPATH with the repository root; the preinstalled torch is untouched
  2. machine  GPU, driver, torch / CUDA / cuDNN versions, the optional packages and whether their requirements are met
  3. tests    ``python -m pytest -m cuda``: every test that needs CUDA (ops against float64 references, every network
              in float32 and bfloat16, DDP over NCCL, mixed-precision training, GFPGANer fp32/fp16/bf16), JUnit XML
  4. benchmark ``scripts/benchmark.py --suite device --device cuda --time-budget S``, with what is left of the budget

Written to the output folder: device_check.md (the report: machine, stages, test counts and failures, then the
benchmark's tables), device_check.json (the same as data), device_check.log (every stage's output), pytest_junit.xml,
benchmark.json and benchmark.md. The report is printed last. Exit status 0 when every stage passed.

``--dry-run`` (or ``--cpu``) runs the same stages on a machine without a GPU in a reduced form: the wheels if any,
the CUDA tests of the StyleGAN2 ops on the CPU (GFPGAN_CUDA_TESTS_DEVICE=cpu) plus the CUDA-named loader tests, the
benchmark's CPU quick mode. DEVICE_CHECK_PYTEST_ARGS and DEVICE_CHECK_BENCHMARK_CMD (a shell command; {python}, {out},
{budget} and {device} are filled in) replace the test selection and the benchmark command. See docs/device_check.md.
"""
import argparse
import datetime
import glob
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from xml.etree import ElementTree

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
DEFAULT_BUDGET = 450  # seconds for the whole check: under the 8 minutes a device call may take, with a margin
RESERVE = 10  # seconds kept for writing the report
INSTALL_LIMIT, MACHINE_LIMIT, TESTS_LIMIT = 60, 90, 240
MIN_BENCHMARK = 60  # seconds the tests leave to the benchmark at least
BENCHMARK_MARGIN = 40  # seconds between the benchmark's own --time-budget and the time it is killed at
TAIL_LINES = 25  # lines of a failed stage's output quoted in the report
LOG_LIMIT = 12 * 2**20  # the log is cut to its last 12 MiB (a returned file may have 16)
DRY_RUN_TESTS = ['-m', 'cuda', 'tests/archs/test_cuda_ops.py', 'tests/data_pipeline/test_loader.py']
OPTIONAL_MODULES = [('lmdb', 'lmdb'), ('lpips', 'lpips'), ('pytorch_fid', 'pytorch-fid'), ('facexlib', 'facexlib'),
                    ('filterpy', 'filterpy')]

# Run in a subprocess with the check's environment: facts about the machine as JSON on the last line of stdout.
MACHINE_PROBE = r'''
import importlib, importlib.metadata as md, json, os, platform, re, subprocess, sys
site, optional = sys.argv[1], json.loads(sys.argv[2])
info = {'python': platform.python_version(), 'executable': sys.executable, 'platform': platform.platform(),
        'cpu_count': os.cpu_count()}
try:
    import torch
    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda_available=torch.cuda.is_available(),
                cudnn=torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                device_count=torch.cuda.device_count() if torch.cuda.is_available() else 0)
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                    capability=f'{props.major}.{props.minor}', multiprocessors=props.multi_processor_count,
                    bf16=torch.cuda.is_bf16_supported())
        x = torch.randn(256, 256, device='cuda')
        info['cuda_matmul_ok'] = bool(torch.allclose((x @ x).cpu(), x.cpu() @ x.cpu(), rtol=1e-2, atol=1e-2))
except Exception as err:
    info['torch_error'] = f'{type(err).__name__}: {err}'
try:
    out = subprocess.run(['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'], capture_output=True,
                         text=True, timeout=30)
    info['driver'] = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None
except (OSError, subprocess.SubprocessError):
    info['driver'] = None
packages = {}
for module, dist in optional:
    try:
        mod = importlib.import_module(module)
        try:
            version = md.version(dist)
        except md.PackageNotFoundError:
            version = getattr(mod, '__version__', '?')
        where = os.path.dirname(os.path.abspath(mod.__file__ or ''))
        packages[dist] = {'version': version, 'carried': bool(site) and where.startswith(site)}
    except Exception as err:
        packages[dist] = {'error': f'{type(err).__name__}: {err}'}
info['packages'] = packages
unmet = {}
if site and os.path.isdir(site):
    for dist in md.distributions(path=[site]):
        for requirement in dist.requires or []:
            name, _, marker = requirement.partition(';')
            if 'extra' in marker:
                continue
            name = re.match(r'[A-Za-z0-9._-]+', name.strip()).group(0)
            found = False
            for candidate in (name, 'opencv-python-headless' if name.lower() == 'opencv-python' else None):
                try:
                    found = found or bool(candidate and md.distribution(candidate))
                except md.PackageNotFoundError:
                    pass
            if not found:
                unmet.setdefault(name, []).append(dist.metadata['Name'])
info['unmet_requirements'] = unmet
try:
    import gfpgan
    info['gfpgan'] = {'version': gfpgan.__version__, 'path': os.path.dirname(gfpgan.__file__)}
except Exception as err:
    info['gfpgan'] = {'error': f'{type(err).__name__}: {err}'}
print(json.dumps(info))
'''


# ---------------------------------------------------------------------------------------------- running stages
class Stage:
    """One step of the check: its outcome, time and command."""

    def __init__(self, name, title):
        self.name, self.title = name, title
        self.status, self.seconds, self.returncode = 'skipped', 0.0, None
        self.note, self.command, self.tail = '', '', ''

    def as_dict(self):
        return {
            'name': self.name,
            'title': self.title,
            'status': self.status,
            'seconds': round(self.seconds, 2),
            'returncode': self.returncode,
            'note': self.note,
            'command': self.command,
            'output_tail': self.tail
        }


def log_size(log):
    """Bytes in the log (opened for appending; the stages write to it directly too)."""
    log.flush()
    return os.fstat(log.fileno()).st_size


def run_logged(command, log, timeout, env=None, shell=False):
    """Run ``command`` (a list, or a shell string) from the repository root with its output appended to ``log``;
    (status, returncode, seconds, last lines of output). On timeout its whole process group gets SIGTERM, then
    SIGKILL 10 s later."""
    start = time.monotonic()
    text = command if shell else ' '.join(shlex.quote(c) for c in command)
    log.write(f'\n$ {text}\n')
    offset = log_size(log)
    argv = ['bash', '-c', command] if shell else command
    if timeout <= 0:
        return 'timeout', None, 0.0, 'no time left in the budget'
    try:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as err:
        return 'error', None, time.monotonic() - start, f'could not start: {err}'
    try:
        returncode = proc.wait(timeout=timeout)
        status = 'ok' if returncode == 0 else 'failed'
    except subprocess.TimeoutExpired:
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                break
            try:
                proc.wait(timeout=grace)
                break
            except subprocess.TimeoutExpired:
                continue
        status, returncode = 'timeout', None
        log.write(f'\n[device check: stopped after {timeout:.0f} s]\n')
    log.flush()
    with open(log.name, 'rb') as f:
        f.seek(offset)
        tail = '\n'.join(f.read().decode('utf-8', 'replace').splitlines()[-TAIL_LINES:])
    return status, returncode, time.monotonic() - start, tail


class Budget:
    """Seconds left until the check's deadline."""

    def __init__(self, seconds):
        self.deadline = time.monotonic() + seconds

    def left(self):
        return self.deadline - time.monotonic()


def wheel_fits(filename):
    """Whether a wheel's Python tag admits this interpreter: 'py3', 'py2.py3', 'cp3X' of this version (an abi3
    wheel from an older CPython too)."""
    parts = filename[:-4].split('-')
    if len(parts) < 5:
        return False
    python, abi = parts[-3], parts[-2]
    here = sys.version_info[0] * 100 + sys.version_info[1]
    for tag in python.split('.'):
        match = re.fullmatch(r'(py|cp)(\d)(\d*)', tag)
        if not match:
            continue
        version = int(match.group(2)) * 100 + int(match.group(3) or 0)
        if match.group(1) == 'py' and int(match.group(2)) == sys.version_info[0]:
            return True
        if match.group(1) == 'cp' and (version == here or abi == 'abi3' and version <= here):
            return True
    return False


def install_wheels(stage, wheels, site, log, timeout, unzip=False):
    """pip-install the wheels that fit this Python into ``site`` without dependencies (extracted as zip files when
    pip fails or with ``unzip``)."""
    names = [os.path.basename(w) for w in wheels]
    stage.note = f"{len(wheels)} wheels: {', '.join(n.split('-')[0] + ' ' + n.split('-')[1] for n in names)}"
    left_out = [n for n in names if not wheel_fits(n)]
    wheels = [w for w in wheels if wheel_fits(os.path.basename(w))]
    if left_out:
        here = f'{sys.version_info[0]}.{sys.version_info[1]}'
        stage.note += f"; left out, not for Python {here}: {', '.join(left_out)}"
    start = time.monotonic()
    if not unzip and wheels:
        command = [
            sys.executable, '-m', 'pip', 'install', '-q', '--no-index', '--no-deps', '--no-compile', '--no-cache-dir',
            '--upgrade', '--disable-pip-version-check', '--target', site, *wheels
        ]
        stage.command = ' '.join(shlex.quote(c) for c in command)
        status, stage.returncode, _, stage.tail = run_logged(command, log, timeout)
        if status == 'ok':
            stage.status, stage.seconds = 'ok', time.monotonic() - start
            stage.note += f'; pip --target {site}'
            return
        log.write(f'[device check: pip {status}; extracting the wheels instead]\n')
    try:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as z:
                z.extractall(site)
        stage.status = 'ok'
        stage.note += f'; extracted into {site}' + ('' if unzip else ' after pip failed')
        stage.command = stage.command or f'zipfile extract into {site}'
    except (OSError, zipfile.BadZipFile) as err:
        stage.status, stage.note = 'failed', f'{stage.note}; extracting failed: {err}'
    stage.seconds = time.monotonic() - start


def probe_machine(stage, env, site, log, timeout):
    command = [sys.executable, '-c', MACHINE_PROBE, site or '', json.dumps(OPTIONAL_MODULES)]
    stage.command = f'{sys.executable} -c <machine probe>'
    with tempfile.TemporaryFile('w+') as out:
        start = time.monotonic()
        try:
            proc = subprocess.run(command, cwd=ROOT, env=env, stdout=out, stderr=log, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
            stage.returncode = proc.returncode
        except subprocess.TimeoutExpired:
            stage.status, stage.seconds, stage.note = 'timeout', time.monotonic() - start, f'no answer in {timeout} s'
            return {}
        stage.seconds = time.monotonic() - start
        out.seek(0)
        lines = out.read().strip().splitlines()
    try:
        info = json.loads(lines[-1])
    except (IndexError, ValueError):
        stage.status, stage.note = 'failed', 'the probe printed no machine description (see device_check.log)'
        return {}
    stage.status = 'ok'
    return info


# ---------------------------------------------------------------------------------------------- test results
def _node_id(classname, name):
    """pytest's node id from a JUnit classname ('tests.archs.test_ops[.Class]') and test name."""
    parts = classname.split('.') if classname else []
    for k in range(len(parts), 0, -1):
        if os.path.isfile(os.path.join(ROOT, *parts[:k]) + '.py'):
            return '::'.join(['/'.join(parts[:k]) + '.py', *parts[k:], name])
    return '::'.join([p for p in (classname, name) if p])


def _first_line(text):
    lines = [line.strip() for line in (text or '').strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ''


def parse_junit(path):
    """Counts, failures and skip reasons from pytest's JUnit XML."""
    root = ElementTree.parse(path).getroot()
    result = {'passed': 0, 'failed': 0, 'errors': 0, 'skipped': 0, 'failures': [], 'skips': {}, 'source': 'junit'}
    suites = [root] if root.tag == 'testsuite' else root.findall('testsuite')
    result['seconds'] = round(sum(float(s.get('time', 0) or 0) for s in suites), 2)
    for case in root.iter('testcase'):
        node = _node_id(case.get('classname', ''), case.get('name', ''))
        failure, error, skipped = case.find('failure'), case.find('error'), case.find('skipped')
        if failure is not None or error is not None:
            element = failure if failure is not None else error
            result['failed' if failure is not None else 'errors'] += 1
            message = element.get('message') or _first_line(element.text)
            result['failures'].append({'id': node, 'kind': element.tag, 'message': _first_line(message)})
        elif skipped is not None:
            result['skipped'] += 1
            reason = (skipped.get('message') or 'no reason given').strip()
            result['skips'][reason] = result['skips'].get(reason, 0) + 1
        else:
            result['passed'] += 1
    result['total'] = result['passed'] + result['failed'] + result['errors'] + result['skipped']
    return result


_VERBOSE_LINE = re.compile(r'^(\S+::\S+?)\s+(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b(.*)$')


def parse_verbose_log(text):
    """Counts from ``pytest -v`` progress lines: what is known when pytest was stopped before writing its XML."""
    result = {'passed': 0, 'failed': 0, 'errors': 0, 'skipped': 0, 'failures': [], 'skips': {}, 'source': 'log'}
    seen = {}
    for line in text.splitlines():
        match = _VERBOSE_LINE.match(line.strip())
        if match:
            seen[(match.group(1), match.group(2) == 'ERROR')] = (match.group(2), match.group(3).strip())
    for (node, _), (outcome, rest) in seen.items():
        if outcome in ('PASSED', 'XFAIL', 'XPASS'):
            result['passed'] += 1
        elif outcome == 'SKIPPED':
            result['skipped'] += 1
            reason = rest.strip(' ()').split(')')[0] or 'no reason given'
            result['skips'][reason] = result['skips'].get(reason, 0) + 1
        else:
            result['failed' if outcome == 'FAILED' else 'errors'] += 1
            result['failures'].append({'id': node, 'kind': outcome.lower(), 'message': ''})
    result['total'] = result['passed'] + result['failed'] + result['errors'] + result['skipped']
    return result


def summary_line(tests):
    return (f"{tests['passed']} passed, {tests['failed']} failed, {tests['errors']} errors, "
            f"{tests['skipped']} skipped")


# ---------------------------------------------------------------------------------------------- the report
def _gpu_row(machine):
    if machine.get('gpu'):
        return (f"{machine['gpu']} (compute capability {machine.get('capability')}, {machine.get('gpu_memory_gib')} "
                f"GiB, {machine.get('multiprocessors')} SMs), {machine.get('device_count')} device(s), driver "
                f"{machine.get('driver') or '?'}")
    if 'torch_error' in machine:
        return f"torch does not import: {machine['torch_error']}"
    return 'none (torch.cuda.is_available() is False)'


def render_markdown(report, benchmark_markdown):
    """The report as Markdown: header, machine, stages, tests, then the benchmark's own Markdown."""
    machine, tests = report['machine'], report.get('tests')
    lines = [
        '# GFPGAN device check', '',
        f"{report['started']}, {report['seconds']:.0f} s in all ({report['mode']}), "
        f"commit {report.get('commit') or 'unknown'}.", '', '## Machine', ''
    ]
    if machine:
        packages = machine.get('packages', {})
        optional = ', '.join(
            f"{name} {p['version']}" + (' (carried)' if p.get('carried') else '') if 'version' in p else f'{name}: '
            f"missing ({p.get('error', '')[:80]})" for name, p in packages.items())
        unmet = machine.get('unmet_requirements') or {}
        gfpgan = machine.get('gfpgan', {})
        torch_row = (f"{machine.get('torch', '?')}, CUDA {machine.get('torch_cuda') or '-'}, "
                     f"cuDNN {machine.get('cudnn') or '-'}")
        if machine.get('gpu'):
            torch_row += f", bf16 {'yes' if machine.get('bf16') else 'no'}"
        if not machine.get('cuda_matmul_ok', True):
            torch_row += ', **a CUDA matmul gave wrong values**'
        rows = [
            ('GPU', _gpu_row(machine)),
            ('torch', torch_row),
            ('Python', f"{machine.get('python')} ({machine.get('executable')}), {machine.get('cpu_count')} CPUs, "
             f"{machine.get('platform')}"),
            ('gfpgan', gfpgan.get('path', gfpgan.get('error', '?'))),
            ('optional packages', optional or '-'),
            ('unmet requirements', ', '.join(f"{k} (of {', '.join(v)})" for k, v in unmet.items()) or 'none'),
        ]
        lines += ['| | |', '|---|---|'] + [f'| {k} | {v} |' for k, v in rows]
    else:
        lines.append('*The machine probe gave no answer (see the stages).*')
    lines += ['', '## Stages', '', '| stage | status | seconds | details |', '|---|---|---|---|']
    for s in report['stages']:
        status = s['status'] if s['status'] in ('ok', 'skipped') else f"**{s['status']}**"
        lines.append(f"| {s['title']} | {status} | {s['seconds']:.1f} | {s['note']} |")
    for s in report['stages']:
        if s['status'] not in ('ok', 'skipped') and s['output_tail']:
            lines += ['', f"{s['title']} {s['status']} (exit code {s['returncode']}); its last lines:", '', '```',
                      s['output_tail'], '```']
    lines += ['', f"## Tests: `{report.get('tests_command', 'pytest -m cuda')}`", '']
    if tests:
        lines.append(f"**{summary_line(tests)}** of {tests['total']} in {tests.get('seconds', 0):.0f} s (from the "
                     f"{'JUnit XML' if tests['source'] == 'junit' else 'verbose log: pytest did not finish'}).")
        if tests['failures']:
            lines += ['', 'Failed:', '']
            lines += [f"- `{f['id']}` ({f['kind']}){': ' + f['message'] if f['message'] else ''}"
                      for f in tests['failures']]
        if tests['skips']:
            lines += ['', 'Skipped, by reason:', '']
            lines += [f'- {n} x {reason}' for reason, n in sorted(tests['skips'].items(), key=lambda kv: -kv[1])]
    else:
        lines.append('*No test results.*')
    lines += ['', '## Benchmark', '']
    bench = report.get('benchmark', {})
    if benchmark_markdown:
        lines.append(benchmark_markdown.strip())
    else:
        why = bench.get('status', 'not run') + (f": {bench['note']}" if bench.get('note') else '')
        lines.append(f'*No benchmark tables ({why}).*')
    return '\n'.join(lines) + '\n'


def _commit():
    try:
        out = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
        return out.stdout.strip() if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def _atomic_write(path, text):
    tmp = f'{path}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        f.write(text)
    os.replace(tmp, path)


def _default_out():
    return os.environ.get('OUT') or os.path.join(ROOT, 'results', 'device_check')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog='scripts/device_check.sh', description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', default=None, metavar='DIR', help='output folder (default: $OUT, else '
                        'results/device_check)')
    parser.add_argument('--dry-run', '--cpu', dest='dry_run', action='store_true',
                        help='the reduced CPU run described above (what make test exercises)')
    parser.add_argument('--wheels', default=os.path.join(ROOT, '.whl'), metavar='DIR',
                        help='folder of wheels to install (default .whl, from make device-wheels); none: skipped')
    parser.add_argument('--unzip', action='store_true', help='extract the wheels instead of installing them with pip')
    parser.add_argument('--budget', type=float, default=DEFAULT_BUDGET, metavar='SECONDS',
                        help=f'time for the whole check (default {DEFAULT_BUDGET}); the benchmark gets what the '
                        'other stages leave')
    parser.add_argument('--tests-budget', type=float, default=TESTS_LIMIT, metavar='SECONDS',
                        help=f'time limit of the tests (default {TESTS_LIMIT})')
    parser.add_argument('--skip-tests', action='store_true', help='do not run the tests')
    parser.add_argument('--skip-benchmark', action='store_true', help='do not run the benchmark')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    started = datetime.datetime.now(datetime.timezone.utc)
    budget = Budget(args.budget)
    out = os.path.abspath(args.out or _default_out())
    os.makedirs(out, exist_ok=True)
    mode = 'dry run on the CPU' if args.dry_run else 'device'
    stages = {
        name: Stage(name, title)
        for name, title in [('install', 'install wheels'), ('machine', 'machine'), ('tests', 'tests'),
                            ('benchmark', 'benchmark')]
    }
    junit = os.path.join(out, 'pytest_junit.xml')
    bench_json, bench_md = os.path.join(out, 'benchmark.json'), os.path.join(out, 'benchmark.md')
    for stale in (junit, bench_json, bench_md):
        if os.path.exists(stale):
            os.remove(stale)
    site = None
    report = {'started': started.strftime('%Y-%m-%d %H:%M UTC'), 'mode': mode, 'out': out, 'commit': _commit()}
    log_path = os.path.join(out, 'device_check.log')
    open(log_path, 'w').close()
    with open(log_path, 'a', encoding='utf-8') as log:
        # 1. wheels
        wheels = sorted(glob.glob(os.path.join(args.wheels, '*.whl')))
        if wheels:
            site = tempfile.mkdtemp(prefix='gfpgan_device_site_')
            install_wheels(stages['install'], wheels, site, log, min(INSTALL_LIMIT, budget.left() - RESERVE),
                           unzip=args.unzip)
        else:
            stages['install'].note = f'no wheels in {args.wheels} (make device-wheels makes them)'
        env = dict(os.environ)
        env['PYTHONPATH'] = os.pathsep.join(p for p in (site, ROOT, os.environ.get('PYTHONPATH')) if p)
        env['PYTHONDONTWRITEBYTECODE'] = '1'
        if args.dry_run:
            env['GFPGAN_CUDA_TESTS_DEVICE'] = 'cpu'

        # 2. machine
        machine = probe_machine(stages['machine'], env, site, log, min(MACHINE_LIMIT, budget.left() - RESERVE))
        report['machine'] = machine
        if machine and not args.dry_run and not machine.get('cuda_available'):
            stages['machine'].status = 'failed'
            stages['machine'].note = 'CUDA is not available to torch: the CUDA tests skip and the benchmark cannot run'

        # 3. tests
        selection = os.environ.get('DEVICE_CHECK_PYTEST_ARGS')
        selection = shlex.split(selection) if selection else (DRY_RUN_TESTS if args.dry_run else ['-m', 'cuda'])
        command = [
            sys.executable, '-m', 'pytest', *selection, '-v', '--tb=short', '-p', 'no:cacheprovider',
            '--continue-on-collection-errors', f'--junitxml={junit}', '-o', 'junit_family=xunit1'
        ]
        report['tests_command'] = 'pytest ' + ' '.join(shlex.quote(a) for a in selection)
        tests_stage = stages['tests']
        if args.skip_tests:
            tests_stage.note = '--skip-tests'
        else:
            tests_stage.command = ' '.join(shlex.quote(c) for c in command)
            limit = min(args.tests_budget, budget.left() - RESERVE - (0 if args.skip_benchmark else MIN_BENCHMARK))
            offset = log_size(log)
            tests_stage.status, tests_stage.returncode, tests_stage.seconds, tests_stage.tail = run_logged(
                command, log, limit, env)
            tests = None
            if os.path.isfile(junit) and tests_stage.status != 'timeout':
                try:
                    tests = parse_junit(junit)
                except ElementTree.ParseError:
                    tests = None
            if tests is None:
                with open(log_path, encoding='utf-8', errors='replace') as f:
                    f.seek(offset)
                    tests = parse_verbose_log(f.read())
            tests['seconds'] = tests.get('seconds') or round(tests_stage.seconds, 1)
            report['tests'] = tests
            tests_stage.note = summary_line(tests)
            if tests_stage.status == 'failed' and not tests['failed'] and not tests['errors']:
                tests_stage.note += f' (pytest exit code {tests_stage.returncode})'

        # 4. benchmark
        bench_stage = stages['benchmark']
        device = 'cpu' if args.dry_run else 'cuda'
        if args.skip_benchmark:
            bench_stage.note = '--skip-benchmark'
        else:
            limit = budget.left() - RESERVE
            seconds = max(5, int(limit - BENCHMARK_MARGIN)) if not args.dry_run else max(5, int(min(limit, 120) / 2))
            custom = os.environ.get('DEVICE_CHECK_BENCHMARK_CMD')
            if custom:
                command = custom.format(python=shlex.quote(sys.executable), out=shlex.quote(out), budget=seconds,
                                        device=device)
            else:
                command = [
                    sys.executable, 'scripts/benchmark.py', '--suite', 'device', '--device', device, '--time-budget',
                    str(seconds), '--output', bench_json, '--markdown', bench_md
                ] + (['--quick'] if args.dry_run else [])
            bench_stage.command = command if custom else ' '.join(shlex.quote(c) for c in command)
            bench_stage.status, bench_stage.returncode, bench_stage.seconds, bench_stage.tail = run_logged(
                command, log, limit, env, shell=bool(custom))
            bench_stage.note = f'--time-budget {seconds} s (stopped if still running after {limit:.0f} s)'
        benchmark_markdown = None
        if os.path.isfile(bench_md):
            with open(bench_md, encoding='utf-8', errors='replace') as f:
                benchmark_markdown = f.read()
        report['benchmark'] = {'status': bench_stage.status, 'note': bench_stage.note}
        if os.path.isfile(bench_json):
            try:
                with open(bench_json) as f:
                    report['benchmark']['results'] = json.load(f)
            except ValueError as err:
                report['benchmark']['results_error'] = f'benchmark.json does not parse: {err}'

    if site:
        shutil.rmtree(site, ignore_errors=True)
    if os.path.getsize(log_path) > LOG_LIMIT:
        with open(log_path, 'rb') as f:
            f.seek(-LOG_LIMIT, os.SEEK_END)
            kept = f.read()
        with open(log_path, 'wb') as f:
            f.write(b'[device check: the log is cut to its last part]\n' + kept)

    report['stages'] = [s.as_dict() for s in stages.values()]
    report['seconds'] = round(args.budget - budget.left(), 1)
    report['ok'] = all(s.status in ('ok', 'skipped') for s in stages.values())
    markdown = render_markdown(report, benchmark_markdown)
    _atomic_write(os.path.join(out, 'device_check.json'), json.dumps(report, indent=2, default=str) + '\n')
    _atomic_write(os.path.join(out, 'device_check.md'), markdown)
    print(markdown)
    verdicts = ', '.join(f'{s.name} {s.status}' for s in stages.values())
    tests = report.get('tests')
    print(f"device check: {verdicts}" + (f"; tests: {summary_line(tests)}" if tests else '') +
          f"; report in {os.path.join(out, 'device_check.md')}")
    return 0 if report['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
