# Copyright (c) mmseg_aaf contributors. All rights reserved.
from setuptools import find_packages, setup


def read_requirements(path):
    """The requirement lines of ``path`` (comments and blanks dropped), so
    that requirements/*.txt stay the one list."""
    with open(path) as f:
        lines = (line.split('#', 1)[0].strip() for line in f)
        return [line for line in lines if line]


def read_version():
    scope = {}
    with open('mmseg_aaf/version.py') as f:
        exec(f.read(), scope)
    return scope['__version__']


setup(
    name='mmseg_aaf',
    version=read_version(),
    description='Adaptive Affinity Fields (ECCV 2018) for MMSegmentation 1.x',
    long_description=open('README.md').read(),
    long_description_content_type='text/markdown',
    license='Apache License 2.0',
    packages=find_packages(include=['mmseg_aaf', 'mmseg_aaf.*']),
    python_requires='>=3.8',
    install_requires=[
        'torch>=2.0',
        'mmcv>=2.0.0,<2.2.0',
        'mmengine>=0.10.0,<1.0.0',
        'mmsegmentation>=1.2.0,<1.3.0',
        'ftfy',
        'regex',
        'numpy',
        'scipy',
        'matplotlib',
    ],
    extras_require={
        # What the test suite needs beyond the stack: pytest and the
        # field's own tools as oracles.
        'tests': read_requirements('requirements/tests.txt'),
    },
    entry_points={
        'console_scripts': [
            'mmseg-aaf-config = mmseg_aaf.cli.aaf_config:main',
            'mmseg-aaf-publish = mmseg_aaf.cli.publish_model:main',
            'mmseg-aaf-compare = mmseg_aaf.cli.compare:main',
        ],
    },
    zip_safe=False,
)
