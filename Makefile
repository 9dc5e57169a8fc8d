# SPDX-License-Identifier: MIT
# HTTPS from the ground up - the course's one Makefile.
#
#   make              build everything (binaries in build/bin/)
#   make test         install what is missing, build, run every test suite
#   make test SAN=1   the same with AddressSanitizer + UndefinedBehaviorSanitizer
#   make test ONLY=P  only the suites whose path contains P (05_https, capture),
#                     or the unit tests named so (ONLY=unit: all of them, only them)
#                     COURSE_TIME_SCALE=N multiplies every time limit of the tests
#                     (default: from the machine's load; tests/run.sh says more)
#   make demo         the course tour: every chapter, in order, narrated
#   make NN           run chapter NN's server/client pair (e.g. make 01)
#   make NN-server    run chapter NN's server on its own port (8001..8006)
#   make NN-client    run chapter NN's client against it
#   make NN-capture   run the pair under tshark and show what an eavesdropper reads
#   make diff-NN      what chapter NN adds to the chapter before: the module(s) it
#                     introduces with their public headers, then diff -u of its
#                     server.c and client.c against its predecessor's (PREV_NN)
#   make check-NN-K   check your answer to exercise NN-K (make exercises lists them)
#   make doctor       check the machine: compiler, libraries, civetweb TLS, capture, peers
#   make instructor-captures   the instructor pack's reference captures, in build/instructor/
#   make bench        benchmarks against named peers, same run
#   make mutate       the mutation lane: each security check off in turn, and the
#                     test that must notice (MUTANTS="name ..." for some)
#   make fuzz         every libFuzzer target for FUZZ_SECONDS each, a table (tests/fuzz/)
#   make clean        remove build/
#   V=0               quiet build: one short line per compile and link
#
# Each chapter folder has a chapter.mk that declares its programs and targets,
# its predecessor (PREV_NN) and the common/ modules it introduces (NEW_NN).
# make -jN is safe: civetweb is built by one job, after scripts/deps.sh.

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
comma := ,
# V=0: a short line per compile, archive and link instead of the whole command
V ?= 1
quiet = $(if $(filter 0,$(V)),@printf '  %-3s %s\n' $(1) $@;)
PKGS := openssl libcurl jansson sqlite3 libjwt libargon2
CFLAGS_STRICT := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
  -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wstrict-prototypes -Wmissing-prototypes \
  -Wvla -Wno-unused-parameter
CPPFLAGS_PROJECT := -DOPENSSL_API_COMPAT=30000 -DOPENSSL_NO_DEPRECATED \
  -Icommon -I$(CIVETWEB)/include
CFLAGS := -O2 -g -fstack-protector-strong -D_FORTIFY_SOURCE=2 $(SANFLAGS)
LDFLAGS := $(SANFLAGS)
# The pkg-config module each library comes from, and the Debian package that
# installs it (scripts/deps.sh has the whole list).
DEB_openssl := libssl-dev
DEB_libcurl := libcurl4-openssl-dev
DEB_jansson := libjansson-dev
DEB_sqlite3 := libsqlite3-dev
DEB_libjwt := libjwt-dev
DEB_libargon2 := libargon2-dev
# pkg_flags OPTION: pkg-config's OPTION (--cflags, --libs) for PKGS. A missing
# module stops the build here, naming it, instead of leaving the flags empty
# and failing later on an include or a symbol far from the cause. Expanded
# only when a recipe needs it, so `make deps` can install the packages first.
pkg_missing = $(firstword $(foreach p,$(PKGS),$(if $(shell pkg-config --exists $(p) 2>/dev/null && echo y),,$(p))))
pkg_fail = $(error $(if $(shell command -v pkg-config),pkg-config module '$(1)' not found: the Debian package $(or $(DEB_$(1)),that provides $(1).pc) is not installed,pkg-config is not installed (Debian package pkg-config)); run 'make deps' as root, or scripts/deps.sh for the apt-get line)
pkg_flags = $(if $(pkg_missing),$(call pkg_fail,$(pkg_missing)),$(shell pkg-config $(1) $(PKGS)))
# each computed once, at its first use
PKG_CFLAGS = $(eval PKG_CFLAGS := $$(call pkg_flags,--cflags))$(PKG_CFLAGS)
PKG_LIBS = $(eval PKG_LIBS := $$(call pkg_flags,--libs))$(PKG_LIBS)
SYSLIBS = $(CIVETWEB)/libcivetweb.a $(PKG_LIBS) -lpthread -ldl -lm

# common/ is one folder per module (docs/ARCHITECTURE.md), each built into its
# own archive, build/lib/libcourse-MODULE.a. MODULES lists them from the top of
# the layering down: a module may use only those after it, and a program links
# only the modules it names, so the link step enforces the layering (chapter 01
# names core and net, and cannot reach pki).
MODULES := store envelope token tls pki kex fernet net core
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
	$$(call quiet,LD)$$(CC) $$(LDFLAGS) -o $$@ $(2:%.c=$(OBJ)/%.o) $(call module_libs,$(3)) $$(SYSLIBS)
endef

CHAPTER_MK := $(sort $(wildcard [0-9][0-9]_*/chapter.mk))
# NN and its folder: CHAPTERS is 01 02 ..., CHAPTER_DIR_05 is 05_https_server
CHAPTERS := $(foreach mk,$(CHAPTER_MK),$(firstword $(subst _, ,$(mk))))
$(foreach mk,$(CHAPTER_MK),$(eval CHAPTER_DIR_$(firstword $(subst _, ,$(mk))) := $(patsubst %/,%,$(dir $(mk)))))
include $(CHAPTER_MK)
# the libFuzzer targets: make fuzz, make fuzz-build (tests/fuzz/README.md)
include tests/fuzz/fuzz.mk
# make doctor's proof that civetweb serves TLS
$(eval $(call prog,tls-selftest,scripts/tls-selftest.c,core net))
# the token module's command-line driver, for the PyJWT interop suite
$(eval $(call prog,token-tool,tests/helpers/token_tool.c,core token))
# the web layer's channel binding and client certificate, for tests/interop/06_exporter.sh
$(eval $(call prog,exporter-server,tests/helpers/exporter_server.c,core net tls pki kex))
# common/net/wsclient against a server that breaks RFC 6455 on purpose (tests/interop/06_websocket.sh)
$(eval $(call prog,ws-probe,tests/helpers/ws_probe.c,core net))
# http_session (kept-alive connection, bodies bound to it) against exporter-server
$(eval $(call prog,session-driver,tests/helpers/session_driver.c,core net tls pki kex))

.PHONY: all deps civetweb test demo doctor bench mutate clean pki unit-tests instructor-captures
all: $(PROGRAMS) $(UNIT_BIN) build/vectors/06/hello.json

# Chapter 06's handshake vectors, from the independent Python implementation:
# made here, never committed (their fixtures include private keys).
build/vectors/06/hello.json: tests/helpers/06_hello.py
	@mkdir -p $(@D)
	$(call quiet,GEN)/usr/bin/python3 $< >$@.tmp && mv $@.tmp $@

# ---- set-up -----------------------------------------------------------------
# deps.sh exits 0 when everything is there; as root it installs what is missing.
# test, demo and bench check first and tell the make they start (COURSE_DEPS_OK)
# so that the civetweb rule does not check a second time.
deps:
	@scripts/deps.sh

# One recipe makes both files: a grouped target (&:), so that make -jN runs it
# once. Two targets without the & are two independent rules to make, and -j2
# ran two builds at once, the second failing on the first one's apt lock.
# Every object depends on civetweb.h, so nothing compiles before deps.sh has
# run here (and installed the compiler's libraries, as root).
# The script carries the course's patch level: when it changes, it rebuilds
# (and leaves an up-to-date build as it is; the touch says so to make).
civetweb: $(CIVETWEB)/libcivetweb.a
$(CIVETWEB)/libcivetweb.a $(CIVETWEB)/include/civetweb.h &: scripts/build-civetweb.sh
	@$(if $(COURSE_DEPS_OK),,scripts/deps.sh)
	@scripts/build-civetweb.sh $(CIVETWEB)
	@touch $(CIVETWEB)/libcivetweb.a $(CIVETWEB)/include/civetweb.h

# ---- compile ------------------------------------------------------------------
$(BIN) $(BUILD)/lib $(BUILD)/tests:
	@mkdir -p $@

$(OBJ)/%.o: %.c $(CIVETWEB)/include/civetweb.h
	@mkdir -p $(@D)
	$(call quiet,CC)$(CC) $(CPPFLAGS_PROJECT) $(PKG_CFLAGS) $(CFLAGS_STRICT) $(CFLAGS) -MMD -MP -c $< -o $@

# one archive per module; rm first so a deleted source leaves the archive too
$(foreach m,$(MODULES),$(eval $(call module_lib,$(m)): $$(MODULE_OBJ_$(m)) | $(BUILD)/lib ; $$(call quiet,AR)rm -f $$@ && ar rcs $$@ $$^))

# unit tests see every module; their objects are kept (make deletes the
# objects of a chained rule otherwise, and prints a line saying so)
.SECONDARY: $(UNIT_SRC:%.c=$(OBJ)/%.o)
$(BUILD)/tests/%: $(OBJ)/tests/unit/%.o $(call module_libs,$(MODULES)) $(CIVETWEB)/libcivetweb.a | $(BUILD)/tests
	$(call quiet,LD)$(CC) $(LDFLAGS) -o $@ $< $(call module_libs,$(MODULES)) $(SYSLIBS) -lcmocka

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# ---- run ----------------------------------------------------------------------
# The test runner: unit (cmocka), chapters (real pairs on loopback), interop,
# capture. Ends with "N passed, N failed, N skipped".
test: deps
	@$(MAKE) --no-print-directory COURSE_DEPS_OK=1 all
	@BIN=$(abspath $(BIN)) UNIT=$(abspath $(BUILD)/tests) SAN=$(SAN) tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory COURSE_DEPS_OK=1 all
	@scripts/demo.sh

# the reference captures of the instructor pack (docs/instructor/README.md),
# made fresh into build/instructor/captures/ (CHAPTERS_IC="01 05" for some)
instructor-captures: all pki
	@BIN=$(abspath $(BIN)) scripts/instructor-captures.sh $(CHAPTERS_IC)

doctor:
	-@$(MAKE) --no-print-directory $(BIN)/tls-selftest >/dev/null 2>&1
	@scripts/doctor.sh

bench: deps
	@$(MAKE) --no-print-directory COURSE_DEPS_OK=1 all
	@scripts/bench.sh

# the mutation lane: every security check in tests/mutants/ disabled in turn
# on a scratch copy, and the suites that must catch it run (MUTANTS="a b" for
# some); long, so not part of make test (which checks only that each applies)
mutate: deps
	@$(MAKE) --no-print-directory COURSE_DEPS_OK=1 all
	@scripts/mutate.sh $(MUTANTS)

# diff-NN: what chapter NN adds to the chapter before (its chapter.mk names it,
# PREV_NN, and the common/ modules it introduces, NEW_NN). First the modules
# and their public headers (common/MODULE/*.h but the *_internal.h), then
# diff -u of server.c and client.c. diff exits 1 when the files differ, which
# is the point here; only 2, a real error (a missing file), fails the target.
.PHONY: $(CHAPTERS:%=diff-%)
$(CHAPTERS:%=diff-%): diff-%:
	@echo "== chapter $* ($(CHAPTER_DIR_$*))$(if $(PREV_$*),$(comma) after $(PREV_$*)$(comma)) introduces the module(s): $(or $(NEW_$*),none)"
	@for m in $(NEW_$*); do \
	  hs=$$(ls common/$$m/*.h 2>/dev/null | grep -v '_internal\.h$$'); \
	  [[ -n "$$hs" ]] || { echo "diff-$*: error: module $$m: no public header in common/$$m/" >&2; exit 2; }; \
	  for h in $$hs; do echo; echo "== $$h (public header of module $$m)"; cat "$$h" || exit 2; done; \
	done
	@$(if $(PREV_$*),,echo; echo "== chapter $* is the first: no chapter before it to diff against"; exit 0;) \
	for f in server.c client.c; do \
	  echo; echo "== diff -u $(PREV_$*)/$$f $(CHAPTER_DIR_$*)/$$f"; \
	  diff -u "$(PREV_$*)/$$f" "$(CHAPTER_DIR_$*)/$$f"; rc=$$?; \
	  ((rc <= 1)) || { echo "diff-$*: error: diff $(PREV_$*)/$$f $(CHAPTER_DIR_$*)/$$f failed (exit status $$rc)" >&2; exit $$rc; }; \
	done

# ---- exercises -------------------------------------------------------------------
# make check-NN-K runs exercise NN-K's checker, tests/exercises/NN-K.sh, from
# the course root with this build's SAN and COURSE_BIN; it prints one verdict
# line, check-NN-K: PASS: ... or check-NN-K: FAIL: ... (exit 0 or 1). make
# exercises lists them, each with its checker's first header comment line.
EXERCISES := $(sort $(patsubst tests/exercises/%.sh,%,$(wildcard tests/exercises/[0-9][0-9]-[0-9]*.sh)))
.PHONY: exercises
exercises:
	@$(if $(EXERCISES),,echo "exercises: none yet (no tests/exercises/NN-K.sh)";) \
	for e in $(EXERCISES); do \
	  t=$$(grep -h -m1 "^### $$e " $${e%%-*}_*/README.md 2>/dev/null | sed "s/^### $$e //"); \
	  printf '%-6s %-58s make check-%s   (%s)\n' "$$e" "$${t:-(no ### $$e heading in the sheet)}" "$$e" "$$(ls -d $${e%%-*}_*/README.md)"; \
	done
check-%:
	@if [[ -f tests/exercises/$*.sh ]]; then SAN=$(SAN) bash tests/exercises/$*.sh; else \
	  echo "check-$*: error: no exercise $* (no tests/exercises/$*.sh); the exercises are: $(or $(EXERCISES),none yet)" >&2; \
	  exit 2; fi

clean:
	rm -rf build
