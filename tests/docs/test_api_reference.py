# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""The API reference names every class ``import mmseg_aaf`` registers and
every installed command, and nothing that no longer exists."""
import importlib
import re
import subprocess
import sys

import pytest

from tests.docs.pages import DOCS, REPO_ROOT

API = DOCS / 'api.rst'


#: Run in a fresh interpreter: what ``import mmseg_aaf`` alone registers
#: (other tests import more, e.g. the demo's transform).
SCAN = """
import mmengine.registry, mmseg.registry
from mmengine.registry import Registry
import mmseg_aaf
for module in (mmseg.registry, mmengine.registry):
    for value in vars(module).values():
        if isinstance(value, Registry):
            for cls in value.module_dict.values():
                if cls.__module__.startswith('mmseg_aaf.'):
                    print(cls.__module__, cls.__qualname__)
"""


def registered_classes() -> set:
    """(module, class name) of what ``import mmseg_aaf`` registers."""
    proc = subprocess.run([sys.executable, '-c', SCAN], capture_output=True,
                          text=True, timeout=300, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
    return {tuple(line.split()) for line in proc.stdout.splitlines()}


def documented() -> list:
    return re.findall(r'^\.\. autoclass:: ([\w.]+)$', API.read_text(), re.M)


@pytest.mark.integration  # a fresh interpreter imports the stack
def test_every_registered_class_is_documented():
    names = set(documented())
    public = {}
    for module, name in registered_classes():
        # Documented under the package that exports it, or its module.
        candidates = {f'{module}.{name}'}
        while '.' in module:
            module = module.rsplit('.', 1)[0]
            candidates.add(f'{module}.{name}')
        public[name] = candidates
    missing = sorted(n for n, c in public.items() if not c & names)
    assert not missing, f'docs/api.rst documents no {missing}'
    assert len(public) >= 20


def test_every_documented_name_exists():
    for name in documented():
        module, attr = name.rsplit('.', 1)
        assert hasattr(importlib.import_module(module), attr), name


def test_every_command_is_documented():
    setup = (REPO_ROOT / 'setup.py').read_text()
    commands = dict(re.findall(r"'(mmseg-aaf-[\w-]+) = ([\w.]+):main'", setup))
    assert len(commands) == 3
    text = API.read_text()
    for command, module in commands.items():
        assert (f'.. command-help:: {module}\n   :prog: {command}\n'
                in text), command
        assert hasattr(importlib.import_module(module), 'build_parser')
