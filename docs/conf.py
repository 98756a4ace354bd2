# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Sphinx configuration: the documentation site, built offline.

``make docs`` runs ``sphinx-build -W --keep-going -b html docs
docs/_build/html`` with the pinned ``requirements/docs.txt``. The pages are
MyST Markdown; the API reference is autodoc (napoleon: the docstrings are
Google style) over the installed ``mmseg_aaf``, and the commands' reference
is rendered from their argparse parsers by ``_ext/command_help.py``.
Nothing is fetched from the network (no intersphinx).
"""
import os.path as osp
import sys

DOCS = osp.dirname(osp.abspath(__file__))
sys.path.insert(0, osp.join(DOCS, '_ext'))
sys.path.insert(0, osp.dirname(DOCS))

from mmseg_aaf.version import __version__  # noqa: E402

project = 'mmseg_aaf'
copyright = 'mmseg_aaf contributors'
author = 'mmseg_aaf contributors'
version = release = __version__

extensions = [
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
    'myst_parser',
    'command_help',
]

source_suffix = {'.rst': 'restructuredtext', '.md': 'markdown'}
root_doc = 'index'
# The study records and reports under compare_*/ are written by
# mmseg-aaf-compare; the result pages include them and show their pictures,
# they are no pages of their own.
exclude_patterns = ['_build', '_ext', 'compare_*', 'Thumbs.db', '.DS_Store']

# MyST: links to headings of other pages (page.md#heading), as on GitHub.
myst_heading_anchors = 4

# autodoc: the registered classes as their docstrings say; members in
# source order.
autodoc_member_order = 'bysource'
autodoc_typehints = 'description'
autodoc_typehints_description_target = 'documented'
# Only what this project documents: no docstrings inherited from torch or
# mmengine (a member without its own docstring is left out).
autodoc_inherit_docstrings = False
autoclass_content = 'class'
napoleon_google_docstring = True
napoleon_numpy_docstring = False

html_theme = 'sphinx_rtd_theme'
html_title = f'mmseg_aaf {version}'
html_theme_options = {'navigation_depth': 3, 'collapse_navigation': False}
html_show_sourcelink = False
