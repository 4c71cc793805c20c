# SPDX-License-Identifier: MIT
# A thin layer over meson: the two quick-start commands and a few shortcuts.
#   make demo   - install what is missing, build, run the demo
#   make test   - install what is missing, build, run every test (and ASan+UBSan)
#   make bench NAME=blockdev [JSON=1]

BUILD      ?= build
ASAN_BUILD ?= build-asan
REL_BUILD  ?= build-release
MESON_TEST ?= meson test --print-errorlogs --num-processes 2

.PHONY: all setup build build-asan build-release demo test test-plain test-asan \
	bench clean

all: build

setup:
	@./scripts/setup

$(BUILD)/build.ninja:
	meson setup $(BUILD) >/dev/null

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debug >/dev/null

build: setup $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: setup $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

# The optimised tree bench/run uses; -O3 finds warnings -O2 does not.
$(REL_BUILD)/build.ninja:
	meson setup $(REL_BUILD) -Dbuildtype=release -Db_ndebug=true \
		-Dtests=false >/dev/null

build-release: setup $(REL_BUILD)/build.ninja
	ninja -C $(REL_BUILD)

demo: build
	./scripts/demo $(BUILD)

test-plain: build
	$(MESON_TEST) -C $(BUILD) || true
	@./scripts/test-summary $(BUILD) build

test-asan: build-asan
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ASAN_OPTIONS=detect_leaks=1 \
		$(MESON_TEST) -C $(ASAN_BUILD) || true
	@./scripts/test-summary $(ASAN_BUILD) asan

test: test-plain test-asan

bench: build
	./bench/run $(NAME) $(if $(JSON),--json,)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(REL_BUILD)
