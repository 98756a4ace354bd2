# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The README and the documentation pages as text: links, headings,
GitHub's heading anchors, tables and the figures in them."""
import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
README = REPO_ROOT / 'README.md'
DOCS = REPO_ROOT / 'docs'

_FENCE = re.compile(r'^(```|~~~).*?^\1\s*$', re.M | re.S)
_INLINE_CODE = re.compile(r'`[^`\n]*`')
_LINK = re.compile(r'!?\[[^\]\n]*\]\(([^)\s]+)\)')
_FIGURE = re.compile(r'\d+\.\d+')


def doc_pages() -> list:
    """The site's pages: docs/ without the study outputs (compare_*/, which
    mmseg-aaf-compare writes), the build and the extension."""
    pages = []
    for path in sorted(DOCS.rglob('*')):
        rel = path.relative_to(DOCS)
        if path.suffix not in ('.md', '.rst') or rel.parts[0] in (
                '_build', '_ext') or rel.parts[0].startswith('compare_'):
            continue
        pages.append(path)
    return pages


def without_code_blocks(text: str) -> str:
    return _FENCE.sub('', text)


def links(text: str) -> list:
    """Targets of the Markdown links and images outside code."""
    prose = _INLINE_CODE.sub('code', without_code_blocks(text))
    return _LINK.findall(prose)


def is_external(target: str) -> bool:
    return re.match(r'[a-z]+:', target) is not None


def github_slug(heading: str) -> str:
    """The anchor GitHub (and MyST's github_slugify) gives a heading."""
    text = re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', heading)  # link text
    text = text.strip().lower().replace('`', '')
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path: Path) -> set:
    """The heading anchors of a Markdown file, duplicates numbered."""
    seen, result = {}, set()
    for line in without_code_blocks(path.read_text()).splitlines():
        match = re.match(r'#{1,6}\s+(.*?)\s*#*\s*$', line)
        if not match:
            continue
        slug = github_slug(match[1])
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f'{slug}-{count}')
    return result


def section(text: str, heading: str) -> str:
    """From the line ``heading`` up to the next heading of its level."""
    level = heading.split(' ')[0]
    start = text.index(f'\n{heading}\n')
    end = text.find(f'\n{level} ', start + 1)
    return text[start:end if end >= 0 else None]


def table_rows(text: str) -> list:
    """The body rows of every Markdown table, as lists of cells."""
    rows = []
    for line in without_code_blocks(text).splitlines():
        if line.startswith('|') and not re.match(r'\|[\s:|-]+\|?$', line):
            rows.append([c.strip() for c in line.strip().strip('|').split('|')])
    return rows


def figures(text: str) -> set:
    """The decimal figures of ``text``, without their signs."""
    return set(_FIGURE.findall(text))
