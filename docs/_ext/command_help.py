# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""``command-help``: a command's ``--help``, rendered from its parser.

In a MyST page::

    ```{command-help} mmseg_aaf.cli.compare
    :prog: mmseg-aaf-compare
    ```

imports the module and renders ``build_parser(prog).format_help()`` at 80
columns as a literal block: the reference is the text the command itself
prints, so it cannot go stale, and a module or parser that is gone fails
the build.
"""
import os
from importlib import import_module

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util.docutils import SphinxDirective

COLUMNS = '80'


class CommandHelp(SphinxDirective):
    required_arguments = 1
    option_spec = {'prog': directives.unchanged_required}

    def run(self):
        module = import_module(self.arguments[0])
        saved = os.environ.get('COLUMNS')
        os.environ['COLUMNS'] = COLUMNS  # argparse wraps at COLUMNS - 2
        try:
            text = module.build_parser(self.options.get('prog')).format_help()
        finally:
            if saved is None:
                del os.environ['COLUMNS']
            else:
                os.environ['COLUMNS'] = saved
        block = nodes.literal_block(text, text, language='text')
        self.set_source_info(block)
        return [block]


def setup(app):
    app.add_directive('command-help', CommandHelp)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
