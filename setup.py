# Copyright (c) mmseg_aaf contributors. All rights reserved.
import os
import sys

from setuptools import find_packages, setup

#: The fused affinity-field kernel for CPU tensors (mmseg_aaf/ops). Built
#: against the installed torch, as mmcv builds its ops; the CUDA kernel is
#: Triton and needs no build.
CPU_OP = 'mmseg_aaf.ops._affinity_field_cpu'
CPU_OP_SOURCES = ['mmseg_aaf/ops/csrc/cpu/affinity_field_cpu.cpp']


def extension_setup():
    """``(ext_modules, cmdclass)``: the C++ op when torch can build it.

    Without torch at build time (an isolated build) or without a working
    compiler, the package installs without it, and the losses fall back to
    their torch implementation with a one-line notice (``'auto'``).
    MMSEG_AAF_WITH_OPS=0 leaves it out on purpose.
    """
    if os.environ.get('MMSEG_AAF_WITH_OPS', '1') == '0':
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        print('mmseg_aaf: torch is not importable at build time: the fused '
              'CPU kernel is not built', file=sys.stderr)
        return [], {}

    class OptionalBuildExtension(BuildExtension):
        """torch's BuildExtension, but a failed compile is a notice, not a
        failed install."""

        def build_extensions(self):
            try:
                super().build_extensions()
            except Exception as exc:  # compiler missing, failing or refused
                print(f'mmseg_aaf: the fused CPU kernel was not built '
                      f'({type(exc).__name__}: {exc}); AffinityLoss and '
                      "AAFLoss run their torch implementation", file=sys.stderr)
                # Nothing to copy or to put into the wheel.
                self.extensions = []

    extension = CppExtension(
        CPU_OP, CPU_OP_SOURCES,
        # -O3 lets GCC vectorise the kernel's inner loops along x; OpenMP
        # is torch's own thread pool (at::parallel_for).
        extra_compile_args=['-O3', '-fopenmp', '-fno-math-errno'],
        extra_link_args=['-fopenmp'])
    return [extension], {'build_ext': OptionalBuildExtension.with_options(
        use_ninja=False)}


EXT_MODULES, CMDCLASS = extension_setup()


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
    # The C++ source goes into the sdist, so that pip builds the op from it.
    package_data={'mmseg_aaf.ops': ['csrc/*/*.cpp']},
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
        # mmseg-aaf-compare --launcher slurm.
        'slurm': ['submitit>=1.5'],
    },
    entry_points={
        'console_scripts': [
            'mmseg-aaf-config = mmseg_aaf.cli.aaf_config:main',
            'mmseg-aaf-publish = mmseg_aaf.cli.publish_model:main',
            'mmseg-aaf-compare = mmseg_aaf.cli.compare:main',
        ],
    },
    ext_modules=EXT_MODULES,
    cmdclass=CMDCLASS,
    zip_safe=False,
)
