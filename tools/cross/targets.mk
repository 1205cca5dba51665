# Targets verified under emulation (issue 13): the C core and the wheel cross-built for the
# boards and run under qemu-user. Included from the top Makefile; documented (with measured
# durations) in firmware/README.md and deploy/README.md. Nothing is assumed installed:
# cross-deps runs apt-get (update first), the zig toolchain comes from PyPI into a build venv.
#
#   make test-cross          aarch64 glibc wheel + its tests, C core tests for aarch64 glibc/musl
#                            (`make test` runs the glibc part; `make test CROSS=0` skips it)
#   make test-core-c         the C test driver, native (part of `make test` through pytest)
#   make test-musl           core_test built by zig for aarch64-linux-musl, run under qemu
#   make test-armv7          the same for 32-bit arm-linux-musleabihf (older routers)
#   make wheel-aarch64       dist/cross/parrot-*-linux_aarch64.whl (Debian's cross gcc)
#   make test-wheel-aarch64  the LLM tests against that wheel, arm64 CPython under qemu
#   make rootfs-arm64        arm64 Debian rootfs, install.sh, demo, fast tests (slow: see deploy/README.md)
#   make wheel-aarch64-musl  the same wheel with a musl C core (zig), for the OpenWrt stage
#   make openwrt-stage       the OpenWrt package's files laid out and checked
CROSS_DIR := build/cross
CROSS_VENV := $(CROSS_DIR)/venv
APT := DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 -y -q
CROSS_DEPS := $(CROSS_DIR)/.deps
ZIG := $(CROSS_VENV)/bin/python -m ziglang cc
FIXTURE_DIR := $(CROSS_DIR)/fixture
FIXTURE := $(FIXTURE_DIR)/core_test.txt

# The C core's sources: the same glob as setup.py, minus the CPython bindings (*_py.c,
# module.c), so kernel files added to parrot/llm/core are built and tested here too.
CORE_SRC := $(sort $(wildcard parrot/llm/core/*.c))
CORE_C_ONLY := $(filter-out %_py.c parrot/llm/core/module.c,$(CORE_SRC))
CORE_HDR := $(wildcard parrot/llm/core/*.h parrot/llm/core/*.inc)
CORE_TEST_FLAGS := -O2 -std=c11 -Wall -Wno-unused-function -fno-strict-aliasing \
	-Iparrot/llm/core
CORE_TEST_SRC := tests/c/core_test.c $(CORE_C_ONLY)
# qemu CPU models: the router's A53 (no dotprod) and the RK3588's A76 (dotprod); qemu 7.2 has
# no A55 model.
QEMU_CPUS := cortex-a53 cortex-a76

.PHONY: cross-deps test-cross test-core-c test-aarch64-c test-musl test-armv7 wheel-aarch64 \
	test-wheel-aarch64 rootfs-arm64 openwrt-stage wheel-aarch64-musl

$(CROSS_DEPS):
	mkdir -p $(CROSS_DIR)
	dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
	$(APT) update
	$(APT) install --no-install-recommends gcc-aarch64-linux-gnu libc6-dev-arm64-cross \
		binutils-aarch64-linux-gnu qemu-user qemu-user-static arch-test mmdebstrap \
		libpython3.11-dev:arm64 python3-venv file device-tree-compiler cpp
	touch $@
cross-deps: $(CROSS_DEPS)

# zig (a musl cross compiler in a PyPI wheel) and the wheel-building tools, on Debian's
# python3, whose headers dispatch to the arm64 pyconfig.h when compiling for aarch64.
$(CROSS_VENV)/.installed: $(CROSS_DEPS)
	/usr/bin/python3 -m venv $(CROSS_VENV)
	$(CROSS_VENV)/bin/pip install -q ziglang==0.17.0 'setuptools>=77' wheel
	touch $@

$(FIXTURE): tests/c/core_fixture.py tests/llm_engine_util.py $(STAMP)
	$(BIN)/python tests/c/core_fixture.py $(FIXTURE_DIR)

# ---------------------------------------------------------------- C core tests
$(CROSS_DIR)/native/core_test: $(CORE_TEST_SRC) $(CORE_HDR)
	mkdir -p $(@D)
	$(CC) $(CORE_TEST_FLAGS) -o $@ $(CORE_TEST_SRC) -lpthread -lm
test-core-c: $(CROSS_DIR)/native/core_test $(FIXTURE)
	$< $(FIXTURE_DIR)

$(CROSS_DIR)/gnu/core_test-aarch64: $(CORE_TEST_SRC) $(CORE_HDR) $(CROSS_DEPS)
	mkdir -p $(@D)
	aarch64-linux-gnu-gcc -static $(CORE_TEST_FLAGS) -o $@ $(CORE_TEST_SRC) -lpthread -lm
test-aarch64-c: $(CROSS_DIR)/gnu/core_test-aarch64 $(FIXTURE)
	for cpu in $(QEMU_CPUS); do echo "qemu-aarch64 -cpu $$cpu:"; \
		qemu-aarch64 -cpu $$cpu $< $(FIXTURE_DIR) || exit 1; done

$(CROSS_DIR)/musl/core_test-aarch64: $(CORE_TEST_SRC) $(CORE_HDR) $(CROSS_VENV)/.installed
	mkdir -p $(@D)
	$(ZIG) -target aarch64-linux-musl -static $(CORE_TEST_FLAGS) -o $@ $(CORE_TEST_SRC) -lpthread -lm
	file $@
test-musl: $(CROSS_DIR)/musl/core_test-aarch64 $(FIXTURE)
	for cpu in $(QEMU_CPUS); do echo "qemu-aarch64 -cpu $$cpu (musl, static):"; \
		qemu-aarch64 -cpu $$cpu $< $(FIXTURE_DIR) || exit 1; done

$(CROSS_DIR)/musl/core_test-armv7: $(CORE_TEST_SRC) $(CORE_HDR) $(CROSS_VENV)/.installed
	mkdir -p $(@D)
	$(ZIG) -target arm-linux-musleabihf -mcpu=cortex_a7 -static $(CORE_TEST_FLAGS) -o $@ $(CORE_TEST_SRC) -lpthread -lm
	file $@
test-armv7: $(CROSS_DIR)/musl/core_test-armv7 $(FIXTURE)
	qemu-arm -cpu cortex-a7 $< $(FIXTURE_DIR)

# ---------------------------------------------------------------- the aarch64 wheel
# setuptools reads the compiler, flags and extension suffix from the sysconfig data named
# here: Debian's arm64 libpython3.11-dev ships it (CC = aarch64-linux-gnu-gcc).
WHEEL_DIR := dist/cross
CROSS_PY_ENV := _PYTHON_HOST_PLATFORM=linux-aarch64 \
	_PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__aarch64-linux-gnu \
	CC=aarch64-linux-gnu-gcc LDSHARED='aarch64-linux-gnu-gcc -shared'
wheel-aarch64: $(CROSS_VENV)/.installed
	rm -rf $(CROSS_DIR)/wheel-build $(WHEEL_DIR) && mkdir -p $(WHEEL_DIR)
	$(CROSS_PY_ENV) $(CROSS_VENV)/bin/python setup.py -q build --build-base $(CROSS_DIR)/wheel-build \
		bdist_wheel --plat-name linux_aarch64 --dist-dir $(WHEEL_DIR)
	tools/cross/check_wheel.sh $(WHEEL_DIR)/parrot-*-linux_aarch64.whl aarch64

# The router's C core: the same wheel with zig's musl compiler (the OpenWrt SDK's own musl gcc
# builds the real package). pyconfig.h is Debian's arm64 one (the ABI is the same); zig does
# not search /usr/include, so only that directory is put on its path.
MUSL_WHEEL_DIR := dist/cross-musl
MUSL_PYINC := $(CROSS_DIR)/pyinc-musl
MUSL_CC := $(CURDIR)/$(CROSS_VENV)/bin/python -m ziglang cc -target aarch64-linux-musl
wheel-aarch64-musl: $(CROSS_VENV)/.installed
	rm -rf $(CROSS_DIR)/wheel-build-musl $(MUSL_WHEEL_DIR) && mkdir -p $(MUSL_WHEEL_DIR) $(MUSL_PYINC)/aarch64-linux-gnu
	ln -sfn /usr/include/aarch64-linux-gnu/python3.11 $(MUSL_PYINC)/aarch64-linux-gnu/python3.11
	_PYTHON_HOST_PLATFORM=linux-aarch64 _PYTHON_SYSCONFIGDATA_NAME=_sysconfigdata__aarch64-linux-gnu \
		CC="$(MUSL_CC) -I$(CURDIR)/$(MUSL_PYINC)" LDSHARED="$(MUSL_CC) -shared" \
		$(CROSS_VENV)/bin/python setup.py -q build --build-base $(CROSS_DIR)/wheel-build-musl \
		bdist_wheel --plat-name linux_aarch64 --dist-dir $(MUSL_WHEEL_DIR)
	tools/cross/check_wheel.sh $(MUSL_WHEEL_DIR)/parrot-*-linux_aarch64.whl aarch64

# An arm64 CPython to run the tests with: Debian's arm64 packages extracted (no scripts, no
# qemu needed to build it); the Python dependencies are PyPI's aarch64 wheels, as on a board.
# Root filesystems live outside the checkout: setuptools walks the whole source tree when it
# builds (egg_info), which must not descend into a rootfs (or its mounted /proc and /sys).
# One directory per checkout, so checkouts building at the same time do not share them.
CROSS_ROOTS ?= /var/tmp/parrot-cross/$(subst /,_,$(CURDIR))
ARM64_SYSROOT := $(CROSS_ROOTS)/sysroot-arm64
ARM64_SITE := $(CROSS_DIR)/site-arm64
# wheel tags an arm64 Debian 12 (glibc 2.36) takes
ARM64_PLATFORMS := $(foreach p,linux manylinux2014 manylinux_2_28 manylinux_2_34,--platform $(p)_aarch64)
ARM64_TESTS := tests/test_llm_engine_forward.py tests/test_llm_engine_generate.py \
	tests/test_llm_gguf_malformed.py tests/test_llm_quant_dequant.py \
	tests/test_llm_sampling_basic.py tests/test_llm_tokenizer_bpe.py
$(ARM64_SYSROOT)/.done: $(CROSS_DEPS)
	rm -rf $(ARM64_SYSROOT) && mkdir -p $(CROSS_ROOTS)
	mmdebstrap --arch=arm64 --variant=extract --include=python3.11,libpython3.11-stdlib,libgcc-s1,libstdc++6 \
		bookworm $(ARM64_SYSROOT) http://deb.debian.org/debian
	touch $@
test-wheel-aarch64: wheel-aarch64 $(ARM64_SYSROOT)/.done
	rm -rf $(ARM64_SITE)
	$(CROSS_VENV)/bin/pip install -q --target $(ARM64_SITE) $(ARM64_PLATFORMS) \
		--python-version 3.11 --implementation cp --only-binary=:all: \
		$(WHEEL_DIR)/parrot-*-linux_aarch64.whl pytest pytest-timeout gguf tokenizers
	# from build/cross, so `import parrot` is the wheel (site-arm64), not the source tree
	cd $(CROSS_DIR) && QEMU_LD_PREFIX=$(ARM64_SYSROOT) PYTHONPATH=$(CURDIR)/$(ARM64_SITE) \
		qemu-aarch64 $(ARM64_SYSROOT)/usr/bin/python3.11 -c \
		'import platform, parrot.llm._core as c; print(platform.machine(), c.__file__)'
	cd $(CROSS_DIR) && QEMU_LD_PREFIX=$(ARM64_SYSROOT) PYTHONPATH=$(CURDIR)/$(ARM64_SITE) \
		PYTHONDONTWRITEBYTECODE=1 timeout 1200 qemu-aarch64 -cpu cortex-a53 \
		$(ARM64_SYSROOT)/usr/bin/python3.11 -m pytest -q -p no:cacheprovider \
		--rootdir $(CURDIR) -c $(CURDIR)/pyproject.toml $(addprefix $(CURDIR)/,$(ARM64_TESTS))

test-cross: test-aarch64-c test-musl test-wheel-aarch64

# CI: `make test` also runs the aarch64 glibc build under qemu (C driver + the wheel's LLM
# tests: ~3 min here, plus ~1.5 min of apt the first time). CROSS=0 leaves it out.
ifneq ($(CROSS),0)
test: test-aarch64-c test-wheel-aarch64
endif

# ---------------------------------------------------------------- OpenWrt package
# The files the package installs, from its Makefile's own recipes, checked (the fast variant,
# without a C core, runs in `make test`: tests/test_openwrt_package.py).
openwrt-stage: wheel-aarch64-musl $(STAMP)
	$(BIN)/python tools/cross/openwrt_stage.py $(CROSS_DIR)/openwrt-stage \
		--wheel $$(ls $(MUSL_WHEEL_DIR)/parrot-*-linux_aarch64.whl)

# ---------------------------------------------------------------- arm64 Debian rootfs
# Slow (tens of minutes under qemu): a documented target, not part of `make test`. Its log is
# build/cross/rootfs-arm64.log. ROOTFS_TESTS: the fast tests that need neither torch nor the
# source tree (see deploy/README.md).
ROOTFS := $(CROSS_ROOTS)/rootfs-arm64
ROOTFS_TESTS ?= $(ARM64_TESTS) tests/test_storage.py tests/test_config.py \
	tests/test_settings.py tests/test_display_oled.py tests/test_layout_wrap.py tests/test_ime_session.py \
	tests/test_keypad_tracker.py tests/test_app_machine.py tests/test_sim_script.py
rootfs-arm64: wheel-aarch64 $(STAMP)
	rm -f $(CROSS_DIR)/rootfs-arm64.ok
	$(BIN)/parrot models pull smollm2-135m
	( T0=$$(date +%s); set -e; \
	  nice -n 10 tools/cross/rootfs.sh base $(ROOTFS); \
	  nice -n 10 tools/cross/rootfs.sh install $(ROOTFS) $$(ls $(WHEEL_DIR)/parrot-*-linux_aarch64.whl); \
	  tools/cross/rootfs.sh check $(ROOTFS); \
	  nice -n 10 tools/cross/rootfs.sh demo $(ROOTFS) \
	    $$($(BIN)/python -c "from parrot.llm.models import REGISTRY, model_path; print(model_path(REGISTRY['smollm2-135m']))"); \
	  nice -n 10 tools/cross/rootfs.sh tests $(ROOTFS) $(ROOTFS_TESTS); \
	  echo "rootfs-arm64: all steps passed in $$(( $$(date +%s) - T0 )) s"; \
	  echo ok > $(CROSS_DIR)/rootfs-arm64.ok ) 2>&1 | tee $(CROSS_DIR)/rootfs-arm64.log
	@test -f $(CROSS_DIR)/rootfs-arm64.ok && rm $(CROSS_DIR)/rootfs-arm64.ok
