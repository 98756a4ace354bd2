# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The README is short, and every relative link of it and of the docs
pages resolves (files, and headings by GitHub's anchors)."""
import pytest

from tests.docs.pages import DOCS, README, REPO_ROOT, anchors, doc_pages, is_external, links

MAX_LINES = 300


def test_readme_is_at_most_300_lines():
    lines = README.read_text().count('\n')
    assert lines <= MAX_LINES, f'README.md has {lines} lines'


@pytest.mark.parametrize(
    'page', [README] + doc_pages(),
    ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_every_relative_link_resolves(page):
    broken = []
    for target in links(page.read_text()):
        if is_external(target):
            continue
        path, _, anchor = target.partition('#')
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f'{target}: no file {file}')
        elif anchor and file.suffix == '.md' and anchor not in anchors(file):
            broken.append(f'{target}: no heading #{anchor} in {file.name}')
    assert not broken, '\n'.join(broken)


def test_readme_links_every_docs_page():
    linked = {(README.parent / t.partition('#')[0]).resolve()
              for t in links(README.read_text()) if not is_external(t)}
    # The tables of contents (index.rst) and the full reports, which the
    # study pages link, are reached from the pages the README links.
    pages = [p for p in doc_pages() if p.name != 'index.rst'
             and p.parent.name != 'reports']
    missing = [str(p.relative_to(DOCS)) for p in pages if p not in linked]
    assert not missing, f'README.md links no page {missing}'


def test_readme_gives_the_ci_command():
    ci = (REPO_ROOT / '.ci' / 'run').read_text().splitlines()
    command = [line for line in ci if line and not line.startswith(('#', 'set ', 'cd '))]
    assert command == ['make test']
    assert 'make test ' in README.read_text()
