# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The install and test commands that the README and the docs give are
the ones the Makefile and .ci/run run."""
import re

import pytest

from tests.docs.pages import (DOCS, README, REPO_ROOT, doc_pages,
                              without_code_blocks)

MAKEFILE = REPO_ROOT / 'Makefile'
#: Targets the docs name as gone (results/camvid.md: `make camvid`).
RETIRED = {'camvid'}


def makefile_targets() -> set:
    text = MAKEFILE.read_text()
    return set(re.findall(r'^([a-z][\w-]*):(?!=)', text, re.M))


def recipe(target: str) -> list:
    """The commands of a Makefile rule, continuation lines joined."""
    text = MAKEFILE.read_text().replace('\\\n', ' ')
    match = re.search(rf'^{re.escape(target)}:.*\n((?:\t.*\n)+)', text, re.M)
    assert match, f'no rule {target} in the Makefile'
    return [' '.join(line.split()) for line in match[1].splitlines()]


def shell_blocks(text: str) -> list:
    return re.findall(r'^```shell\n(.*?)^```', text, re.M | re.S)


@pytest.mark.parametrize(
    'page', [README] + doc_pages(),
    ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_make_target_named_exists(page):
    """`make X` in inline code, and lines `make X` of shell blocks."""
    text = page.read_text()
    named = set(re.findall(r'`make ([\w-]+)', text))
    for block in shell_blocks(text):
        named |= set(re.findall(r'^make ([\w-]+)', block, re.M))
    unknown = named - makefile_targets() - RETIRED
    assert not unknown, sorted(unknown)


def test_readme_install_and_test_commands_are_the_makefile_s():
    blocks = '\n'.join(shell_blocks(README.read_text()))
    assert re.search(r'^make install$', blocks, re.M)
    assert re.search(r'^make test\b', blocks, re.M)
    assert re.search(r'^make test-fast\b', blocks, re.M)
    prose = without_code_blocks(README.read_text())
    workers = re.search(r'^PYTEST_WORKERS \?= (\d+)$', MAKEFILE.read_text(),
                        re.M)[1]
    (test, ) = recipe('test')
    assert test == '$(PY) -m pytest tests -n $(PYTEST_WORKERS) --dist loadfile'
    said = f'`make test` runs `pytest tests -n {workers} --dist loadfile`'
    assert said in ' '.join(prose.split())
    assert said in ' '.join((DOCS / 'get_started.md').read_text().split())


def normalise_install(line: str) -> str:
    line = line.replace('$(PY)', '.venv/bin/python')
    line = line.replace('$(PYTHON)', 'python3').replace('$(VENV)', '.venv')
    line = line.replace(' --quiet', '')
    return line.removeprefix('test -x .venv/bin/python || ')


def test_install_steps_in_the_docs_are_the_makefile_s():
    """The step-by-step install of "Get started" is the install rule."""
    steps = [
        block for block in shell_blocks((DOCS / 'get_started.md').read_text())
        if block.startswith('python3 -m venv .venv')
    ]
    assert len(steps) == 1
    documented = [' '.join(line.split())
                  for line in steps[0].replace('\\\n', ' ').splitlines()]
    made = [normalise_install(line) for line in recipe('$(STAMP)')]
    made = [line for line in made if 'pip install' in line
            or line.startswith('python3 -m venv')]
    assert documented == made


def test_docs_command_is_the_makefile_s():
    (sphinx, ) = recipe('docs')
    assert sphinx == ('$(PY) -m sphinx -E -W --keep-going -b html docs '
                      '$(DOCS_OUT)')
    assert re.search(r'^DOCS_OUT \?= docs/_build/html$',
                     MAKEFILE.read_text(), re.M)
    assert re.search(r'^\$\(DOCS_STAMP\): requirements/docs.txt',
                     MAKEFILE.read_text(), re.M)
    assert '`make docs` builds' in README.read_text()
