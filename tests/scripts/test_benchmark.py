"""scripts/benchmark.py prints its table and writes JSON."""
import json
import os
import subprocess
import sys

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
