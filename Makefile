# HTTPS from the ground up - the course's one Makefile.
#
#   make              build everything (binaries in build/bin/)
#   make test         install what is missing, build, run every test suite
#   make test SAN=1   the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   make demo         the course tour: every chapter, in order, narrated
#   make NN           run chapter NN's server/client pair (e.g. make 01)
#   make NN-server    run chapter NN's server on its own port (8001..8006)
#   make NN-client    run chapter NN's client against it
#   make NN-capture   run the pair under tshark and show what an eavesdropper reads
#   make diff-NN      what chapter NN adds to the chapter before
#   make doctor       check the machine: compiler, libraries, civetweb TLS, capture, peers
#   make bench        benchmarks against named peers, same run
#   make clean        remove build/
#
# Each chapter folder has a chapter.mk that declares its programs and targets.

SHELL := /bin/bash
.DEFAULT_GOAL := all

SAN ?= 0
# BUILD=DIR keeps a second build apart (the civetweb library stays in build/).
BUILD ?= build
ifeq ($(SAN),1)
  override BUILD := $(BUILD)/san
  SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
else
  SANFLAGS :=
endif
BIN := $(BUILD)/bin
# every script a recipe runs finds the binaries of this build (BUILD=, SAN=1)
export COURSE_BIN := $(abspath $(BIN))
OBJ := $(BUILD)/obj
CIVETWEB := build/civetweb

CC ?= cc
PKGS := openssl libcurl jansson sqlite3 libjwt libargon2
CFLAGS_STRICT := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
  -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
  -Wvla -Wno-unused-parameter
CPPFLAGS_PROJECT := -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
  -Icommon -I$(CIVETWEB)/include
CFLAGS := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(SANFLAGS)
LDFLAGS := $(SANFLAGS)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
SYSLIBS = $(CIVETWEB)/libcivetweb.a $(PKG_LIBS) -lpthread -ldl -lm

# common/ is one folder per module (docs/ARCHITECTURE.md), each built into its
# own archive, build/lib/libcourse-MODULE.a. MODULES lists them from the top of
# the layering down: a module may use only those after it, and a program links
# only the modules it names, so the link step enforces the layering (chapter 01
# names core and net, and cannot reach pki).
MODULES := envelope tls pki kex fernet net core
module_lib = $(BUILD)/lib/libcourse-$(1).a
# the archives for a list of modules, in link order
module_libs = $(foreach m,$(filter $(1),$(MODULES)),$(call module_lib,$(m)))
$(foreach m,$(MODULES),$(eval MODULE_OBJ_$(m) := $(patsubst %.c,$(OBJ)/%.o,$(wildcard common/$(m)/*.c))))

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

PROGRAMS :=

# prog NAME, SOURCES, MODULES: build $(BIN)/NAME from chapter sources plus the
# named common/ modules (and nothing else of common/)
define prog
PROGRAMS += $(BIN)/$(1)
$(BIN)/$(1): $(2:%.c=$(OBJ)/%.o) $(call module_libs,$(3)) $(CIVETWEB)/libcivetweb.a | $(BIN)
	$$(CC) $$(LDFLAGS) -o $$@ $(2:%.c=$(OBJ)/%.o) $(call module_libs,$(3)) $$(SYSLIBS)
endef

CHAPTER_MK := $(sort $(wildcard [0-9][0-9]_*/chapter.mk))
include $(CHAPTER_MK)
# make doctor's proof that civetweb serves TLS
$(eval $(call prog,tls-selftest,scripts/tls-selftest.c,core net))

.PHONY: all deps civetweb test demo doctor bench clean pki unit-tests
all: $(PROGRAMS) $(UNIT_BIN)

# ---- set-up -----------------------------------------------------------------
# deps.sh exits 0 when everything is there; as root it installs what is missing.
deps:
	@scripts/deps.sh

civetweb: $(CIVETWEB)/libcivetweb.a
$(CIVETWEB)/libcivetweb.a $(CIVETWEB)/include/civetweb.h:
	@scripts/deps.sh
	@scripts/build-civetweb.sh $(CIVETWEB)

# ---- compile ------------------------------------------------------------------
$(BIN) $(BUILD)/lib $(BUILD)/tests:
	@mkdir -p $@

$(OBJ)/%.o: %.c $(CIVETWEB)/include/civetweb.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS_PROJECT) $(PKG_CFLAGS) $(CFLAGS_STRICT) $(CFLAGS) -MMD -MP -c $< -o $@

# one archive per module; rm first so a deleted source leaves the archive too
$(foreach m,$(MODULES),$(eval $(call module_lib,$(m)): $$(MODULE_OBJ_$(m)) | $(BUILD)/lib ; rm -f $$@ && ar rcs $$@ $$^))

# unit tests see every module
$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(call module_libs,$(MODULES)) $(CIVETWEB)/libcivetweb.a | $(BUILD)/tests
	$(CC) $(LDFLAGS) -o $@ $< $(call module_libs,$(MODULES)) $(SYSLIBS) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- run ----------------------------------------------------------------------
# The test runner: unit (cmocka), chapters (real pairs on loopback), interop,
# capture. Ends with "N passed, N failed, N skipped".
test: deps
	@$(MAKE) --no-print-directory all
	@BIN=$(abspath $(BIN)) UNIT=$(abspath $(BUILD)/tests) SAN=$(SAN) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

doctor:
	-@$(MAKE) --no-print-directory $(BIN)/tls-selftest >/dev/null 2>&1
	@scripts/doctor.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@scripts/bench.sh

clean:
	rm -rf build
