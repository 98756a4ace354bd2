# Copyright (c) mmseg_aaf contributors. All rights reserved.
from setuptools import find_packages, setup


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
        'tests': ['pytest>=7'],
    },
    zip_safe=False,
)
