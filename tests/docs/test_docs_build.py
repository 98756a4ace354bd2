# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``make docs``: the site builds offline with warnings as errors, so a
broken link or cross-reference, a missing picture or a stale API name
fails the suite. It installs requirements/docs.txt into .venv first if
needed."""
import subprocess
import sys
import time

import pytest

from tests.conftest import REPO_ROOT


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp('docs') / 'html'
    began = time.monotonic()
    # -o: the install stamp counts as done (the test runs inside that
    # install); the docs requirements' own stamp is made if missing.
    proc = subprocess.run(
        ['make', '--no-print-directory', '-o', '.venv/.mmseg_aaf-installed',
         'docs', f'PY={sys.executable}', f'DOCS_OUT={out}'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-5000:] + proc.stderr[-5000:]
    print(f'make docs: {time.monotonic() - began:.1f} s')
    return out


@pytest.mark.integration
def test_site_has_every_section(site):
    for page in ('index.html', 'get_started.html', 'api.html',
                 'model_zoo.html', 'user_guides/1_config_tool.html',
                 'advanced_guides/cost_and_benchmark.html',
                 'results/index.html', 'results/drive.html',
                 'results/reports/drive.html'):
        assert (site / page).is_file(), page


@pytest.mark.integration
def test_api_reference_is_rendered(site):
    api = (site / 'api.html').read_text()
    for name in ('AAFLoss', 'AdversarialOptimWrapper', 'BoundaryIoUMetric',
                 'CamVidDataset', 'usage: mmseg-aaf-compare',
                 'usage: mmseg-aaf-publish', 'usage: mmseg-aaf-config'):
        assert name in api, name


@pytest.mark.integration
def test_result_pages_show_their_pictures_and_reports(site):
    drive = (site / 'results' / 'drive.html').read_text()
    assert 'qualitative.png' in drive and 'chart.png' in drive
    assert (site / '_images' / 'qualitative.png').is_file()
    overview = (site / 'results' / 'index.html').read_text()
    assert 'DRIVE, UNet (CPU), 6000 it' in overview  # the README's table
    report = (site / 'results' / 'reports' / 'drive.html').read_text()
    assert 'Per-class Tsens' in report  # the whole results.md
