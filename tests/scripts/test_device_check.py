"""scripts/device_check.sh on the CPU (--dry-run): wheels installed and importable by the stages, the report's machine
section and test counts, failing stages reported rather than stopping the check; scripts/device_wheels.py without
the network (wheels already there, requirements checked against the GPU machine)."""
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile

import pytest

from scriptload import load_script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_wheel(folder, name, version, requires=(), tag='py3-none-any', body='VALUE = 42\n'):
    """A minimal wheel of one module ``name`` (importable as ``name``) with Requires-Dist ``requires``."""
    path = os.path.join(folder, f'{name}-{version}-{tag}.whl')
    info = f'{name}-{version}.dist-info'
    metadata = f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n' + ''.join(
        f'Requires-Dist: {r}\n' for r in requires)
    files = {
        f'{name}/__init__.py': body,
        f'{info}/METADATA': metadata,
        f'{info}/WHEEL': f'Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: {tag}\n',
    }
    files[f'{info}/RECORD'] = ''.join(f'{n},,\n' for n in files) + f'{info}/RECORD,,\n'
    with zipfile.ZipFile(path, 'w') as z:
        for n, text in files.items():
            z.writestr(n, text)
    return path


def run_check(tmp_path, *args, env=None):
    proc = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'device_check.sh'), *args],
                          capture_output=True,
                          text=True,
                          timeout=240,
                          env=dict(os.environ, PYTHON=sys.executable, **(env or {})))
    return proc


def test_dry_run_reports_every_stage_even_when_tests_and_benchmark_fail(tmp_path):
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    requires = ['numpy', 'gfpgan-surely-missing-dep', 'pytest; extra == "test"']
    make_wheel(wheels, 'gfpgan_fake_dep', '1.0', requires=requires)
    make_wheel(wheels, 'gfpgan_other_python', '1.0', tag='cp27-cp27mu-manylinux1_x86_64')
    (tmp_path / 'test_stage.py').write_text(
        textwrap.dedent("""
        import pytest

        def test_the_carried_wheel_imports():
            import gfpgan_fake_dep
            assert gfpgan_fake_dep.VALUE == 42

        def test_fails():
            assert 1 == 2, 'deliberately'

        def test_skips():
            pytest.skip('not here')
        """))
    out = tmp_path / 'out'
    bench = ("{python} -c \"import sys; open(sys.argv[1] + '/benchmark.md', 'w').write('## stand-in benchmark "
             "{device}\\n\\n| a |\\n|---|\\n| 1 |\\n'); print('budget', sys.argv[2]); sys.exit(3)\" {out} {budget}")
    start = time.monotonic()
    proc = run_check(tmp_path, '--dry-run', '--out', str(out), '--wheels', str(wheels), env={
        'DEVICE_CHECK_PYTEST_ARGS': str(tmp_path / 'test_stage.py'),
        'DEVICE_CHECK_BENCHMARK_CMD': bench
    })
    assert time.monotonic() - start < 120
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert sorted(os.listdir(out)) == [
        'benchmark.md', 'device_check.json', 'device_check.log', 'device_check.md', 'pytest_junit.xml'
    ]
    report = json.loads((out / 'device_check.json').read_text())
    markdown = (out / 'device_check.md').read_text()

    stages = {s['name']: s for s in report['stages']}
    assert [s['status'] for s in report['stages']] == ['ok', 'ok', 'failed', 'failed']
    assert not report['ok'] and report['mode'] == 'dry run on the CPU'
    assert 'gfpgan_other_python-1.0-cp27' in stages['install']['note']  # a wheel for another Python is left out
    assert stages['benchmark']['returncode'] == 3 and 'budget' in stages['benchmark']['output_tail']

    machine = report['machine']
    assert machine['python'] == '.'.join(map(str, sys.version_info[:3])) and machine['torch']
    assert machine['unmet_requirements'] == {'gfpgan-surely-missing-dep': ['gfpgan_fake_dep']}
    assert machine['gfpgan']['path'] == os.path.join(ROOT, 'gfpgan')

    tests = report['tests']
    assert (tests['passed'], tests['failed'], tests['errors'], tests['skipped']) == (1, 1, 0, 1)
    assert tests['failures'][0]['id'].endswith('test_fails') and 'deliberately' in tests['failures'][0]['message']
    assert tests['skips'] == {'not here': 1}

    assert '## Machine' in markdown and '| Python |' in markdown and '| unmet requirements | gfpgan-surely' in markdown
    assert '**1 passed, 1 failed, 0 errors, 1 skipped** of 3' in markdown
    assert 'test_fails` (failure): ' in markdown and '1 x not here' in markdown
    assert '| benchmark | **failed** |' in markdown and 'benchmark failed (exit code 3); its last lines:' in markdown
    assert markdown.rstrip().endswith('| 1 |') and '## stand-in benchmark cpu' in markdown  # appended last
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith('device check: install ok, machine ok, tests failed, benchmark failed; tests: 1 passed')
    assert markdown.strip() in proc.stdout


def test_wheels_extracted_without_pip_and_stages_skipped(tmp_path):
    wheels = tmp_path / 'wheels'
    wheels.mkdir()
    make_wheel(wheels, 'gfpgan_fake_dep', '2.0', requires=['numpy'])
    out = tmp_path / 'out'
    proc = run_check(tmp_path, '--cpu', '--unzip', '--skip-tests', '--skip-benchmark', '--out', str(out), '--wheels',
                     str(wheels))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / 'device_check.json').read_text())
    assert [s['status'] for s in report['stages']] == ['ok', 'ok', 'skipped', 'skipped']
    assert 'extracted into' in report['stages'][0]['note'] and 'pip' not in report['stages'][0]['command']
    assert report['machine']['unmet_requirements'] == {}
    markdown = (out / 'device_check.md').read_text()
    assert '*No test results.*' in markdown and '*No benchmark tables (skipped: --skip-benchmark).*' in markdown
    assert not os.path.exists(out / 'pytest_junit.xml')


def test_dry_run_runs_the_cuda_tests_of_the_ops_on_the_cpu(tmp_path):
    out = tmp_path / 'out'
    proc = run_check(tmp_path, '--dry-run', '--skip-benchmark', '--out', str(out), '--wheels', str(tmp_path / 'none'))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / 'device_check.json').read_text())
    assert report['tests_command'] == 'pytest -m cuda tests/archs/test_cuda_ops.py tests/data_pipeline/test_loader.py'
    tests = report['tests']
    assert tests['failed'] == tests['errors'] == 0 and tests['passed'] >= 28  # 26 op cases run on the CPU
    assert set(tests['skips']) <= {'needs a CUDA device'}
    assert report['stages'][0]['status'] == 'skipped' and 'no wheels in' in report['stages'][0]['note']


def test_help_names_the_device_call():
    proc = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'device_check.sh'), '--help'],
                          capture_output=True,
                          text=True,
                          timeout=60,
                          env=dict(os.environ, PYTHON=sys.executable))
    assert proc.returncode == 0
    for text in ('make device-wheels', 'carrying .whl', '540 s', '--dry-run', '--budget', 'pytest -m cuda'):
        assert text in proc.stdout, text


@pytest.fixture(scope='module')
def check():
    return load_script('device_check')


def test_a_stage_past_its_time_is_stopped_with_its_children(check, tmp_path):
    with open(tmp_path / 'log', 'a') as log:
        start = time.monotonic()
        status, code, seconds, tail = check.run_logged('echo started; sleep 60 & sleep 60; echo never', log, 1,
                                                       shell=True)
    assert status == 'timeout' and code is None and time.monotonic() - start < 15
    assert 'started' in tail and 'never' not in tail and 'stopped after 1 s' in (tmp_path / 'log').read_text()


def test_counts_from_a_verbose_log_when_pytest_was_stopped(check):
    log = textwrap.dedent("""
        tests/a.py::test_one PASSED                                    [ 25%]
        tests/a.py::test_two[cuda] FAILED                              [ 50%]
        tests/a.py::test_three SKIPPED (needs a CUDA device)           [ 75%]
        tests/b.py::test_four ERROR                                    [100%]
        [device check: stopped after 240 s]
    """)
    result = check.parse_verbose_log(log)
    assert (result['passed'], result['failed'], result['errors'], result['skipped']) == (1, 1, 1, 1)
    assert [f['id'] for f in result['failures']] == ['tests/a.py::test_two[cuda]', 'tests/b.py::test_four']
    assert result['skips'] == {'needs a CUDA device': 1}


def test_junit_classnames_become_node_ids(check, tmp_path):
    (tmp_path / 'junit.xml').write_text(
        textwrap.dedent("""\
        <?xml version="1.0" encoding="utf-8"?>
        <testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="3.5">
        <testcase classname="tests.archs.test_ops" name="test_a[cuda]" time="0.1"/>
        <testcase classname="tests.archs.test_ops" name="test_b" time="0.1"><failure message="assert 1 == 2">x</failure>
        </testcase>
        <testcase classname="tests.test_train" name="test_c" time="0.1"><skipped message="needs a CUDA device"/>
        </testcase>
        <testcase classname="tests.test_train" name="test_d" time="0.1"><error message="fixture broke">y</error>
        </testcase>
        </testsuite></testsuites>
        """))
    result = check.parse_junit(tmp_path / 'junit.xml')
    assert (result['passed'], result['failed'], result['errors'], result['skipped'], result['total']) == (1, 1, 1, 1, 4)
    assert result['seconds'] == 3.5
    assert result['failures'] == [{
        'id': 'tests/archs/test_ops.py::test_b',
        'kind': 'failure',
        'message': 'assert 1 == 2'
    }, {
        'id': 'tests/test_train.py::test_d',
        'kind': 'error',
        'message': 'fixture broke'
    }]


def test_wheel_tags(check):
    here = f'cp{sys.version_info[0]}{sys.version_info[1]}'
    assert check.wheel_fits('a-1-py3-none-any.whl') and check.wheel_fits('a-1-py2.py3-none-any.whl')
    assert check.wheel_fits(f'a-1-{here}-{here}-manylinux_2_17_x86_64.whl')
    assert check.wheel_fits('a-1-cp37-abi3-manylinux_2_17_x86_64.whl')
    assert not check.wheel_fits('a-1-cp27-cp27mu-manylinux1_x86_64.whl') and not check.wheel_fits('a.zip')


# ---------------------------------------------------------------------------------------------- device_wheels.py
def test_device_wheels_keeps_what_is_there_and_checks_requirements(tmp_path, monkeypatch, capsys):
    wheels = load_script('device_wheels')
    dest = tmp_path / 'whl'
    dest.mkdir()
    versions = {'lmdb': '3.0.0', 'lpips': '0.1.4', 'pytorch-fid': '0.3.0', 'facexlib': '0.3.0', 'filterpy': '2.0.0'}
    monkeypatch.setattr(wheels, 'installed_version', versions.get)
    monkeypatch.setattr(wheels, 'pip', lambda *a: pytest.fail(f'pip called: {a}'))
    for name, version in versions.items():
        make_wheel(dest, name.replace('-', '_'), version, requires=['numpy>=1.2', 'opencv-python', 'filterpy'])
    assert wheels.main(['--dest', str(dest)]) == 0
    out = capsys.readouterr().out
    assert out.count('already there') == 5 and '5 wheels in' in out and 'MiB in all' in out

    make_wheel(dest, 'lpips', '0.1.3', requires=['gfpgan-not-on-the-gpu'])  # an old version: replaced
    fetched = []

    def fake_fetch(name, version, folder):
        fetched.append((name, version))
        make_wheel(folder, name, version, requires=['gfpgan-not-on-the-gpu; extra == "dev"'])
        return True

    monkeypatch.setattr(wheels, 'fetch', fake_fetch)
    os.remove(dest / 'lpips-0.1.4-py3-none-any.whl')
    assert wheels.main(['--dest', str(dest)]) == 0
    assert fetched == [('lpips', '0.1.4')] and not (dest / 'lpips-0.1.3-py3-none-any.whl').exists()

    make_wheel(dest, 'gfpgan_extra', '1.0', requires=['gfpgan-not-on-the-gpu>=2'])
    assert wheels.main(['--dest', str(dest), 'lmdb']) == 1
    assert 'gfpgan-not-on-the-gpu (needed by gfpgan_extra-1.0-py3-none-any.whl) is not on the GPU machine' in \
        capsys.readouterr().err
