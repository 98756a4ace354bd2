# Copyright (c) mmseg_aaf contributors. All rights reserved.
"""Time and memory of the affinity losses, as ratios measured in one run.

The library of ``tools/benchmark_affinity.py`` (``make benchmark``, and the
``benchmark`` step of ``tools/gpu_check.py``). The plugin's ``AAFLoss``
(kernel sizes 3, 5, 7, random size logits) is compared with

* the naive transcription ``naive_affinity_means`` (eight stacked shifted
  copies per size and boolean-mask means), with the same size weights, and
* mmseg's ``CrossEntropyLoss`` on the same logits,

each measured as one forward + backward pass. Inputs are random logits
(``N(0, 2^2)``, C = 19) with blocky random labels and 5% ignored pixels.
Before anything is timed the benchmark asserts that the plugin and the
naive transcription agree on the value and on the gradients w.r.t. the
logits and the size logits.

Time: median over ``--repeats`` calls after one warm-up call; the variants
of a comparison are interleaved (A, B, A, B, ...) so that drift of a shared
machine hits all of them alike. On CUDA every call is bracketed by
``torch.cuda.synchronize()``.

Memory, CPU: every case runs in a fresh subprocess
(``python -m mmseg_aaf.benchmark.measure --memory-case VARIANT:SHAPE``)
with glibc's mmap threshold fixed at 64 KiB (``MALLOC_MMAP_THRESHOLD_``),
so every large buffer is its own mapping and returns to the OS when freed.
After the inputs exist and one warm-up call has run, the subprocess resets
its peak RSS (writing ``5`` to ``/proc/self/clear_refs``), reads
``VmRSS``, runs one call and reports ``VmHWM - VmRSS``: the extra peak
memory over the inputs. The PSPNet step is measured the same way inside the
timing process, per step (building two ResNet-101 models per measurement
would dominate the run).
Memory, CUDA: ``max_memory_allocated()`` after ``reset_peak_memory_stats()``
minus ``memory_allocated()`` before the call, in a fresh subprocess.

Two suites (``--suite``): ``full`` (the default) times the paper setting
(plugin, naive, CE), full resolution (plugin, CE), the 1/8 grid of a 769
crop, the plugin's scaling over 1x, 2x and 4x pixels and a PSPNet-R101
training step with CE + AAF against CE; ``gpu-check`` measures the GPU
targets P4, P5 and P6 of ``tools/gpu_check.py``, each beside its floor (the
bytes a loss must move over the measured copy bandwidth, a step's FLOPs
over the measured matmul rate).

Modules:

* :mod:`.cases`: the shapes, inputs, the three losses as timed variants,
  and the plugin == naive gate;
* :mod:`.measure`: interleaved timing, extra peak memory, and the memory
  subprocess (its ``__main__``);
* :mod:`.floors`: copy bandwidth, matmul rate and a loss's byte floor;
* :mod:`.pspnet_step`: the PSPNet-R101 training step, CE + AAF against CE;
* :mod:`.report`: the machine line, the table of targets and formatting;
* :mod:`.suites`: the full and gpu-check suites, and :func:`.suites.run`,
  the tool's one call.

Run ``python tools/benchmark_affinity.py --help`` for the options.
"""
