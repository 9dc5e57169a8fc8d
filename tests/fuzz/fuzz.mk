# SPDX-License-Identifier: MIT
# tests/fuzz/fuzz.mk - the libFuzzer targets (included by the Makefile).
#
#   make fuzz-build                 build every target into build/fuzz/bin/
#   make fuzz                       run each target until FUZZ_RUNS executions (default
#                                   10 M) or FUZZ_SECONDS (default 600), whichever comes
#                                   first, and print the table: executions, exec/s,
#                                   features, crashes (a fast target reaches 10 M first;
#                                   the whole run is about an hour on 2 cores)
#   make fuzz FUZZ_TARGETS="fernet_token hello_parse" FUZZ_SECONDS=60
#
# Each target is tests/fuzz/NAME.c (its first comment line says what it feeds
# where). The course's common/ modules are compiled a second time here, with
# clang and -fsanitize=fuzzer-no-link,address,undefined, into their own tree
# (build/fuzz/obj): the gcc build in build/ is left as it is. The targets
# always carry ASan and UBSan, so SAN=1 changes nothing here.
# Seeds that hold keys (a CSR, a certificate, a CRL, a token, a HELLO) are made
# by tests/fuzz/seeds.py into build/fuzz/seeds/NAME; the committed corpora in
# tests/fuzz/corpus/NAME hold no private key (tests/fuzz/README.md).

FUZZ_DIR := build/fuzz
FUZZ_CC ?= $(firstword $(foreach c,clang-14 clang,$(if $(shell command -v $(c) 2>/dev/null),$(c))) clang)
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# -Wno-format-nonliteral: clang warns on vsnprintf(fmt) inside a printf-like
# function where gcc knows better (the attribute checks the callers)
FUZZ_CFLAGS := -O1 -g $(FUZZ_SAN) -Wno-format-nonliteral
FUZZ_SECONDS ?= 600
# FUZZ_RUNS=N: stop a target after N executions, if before FUZZ_SECONDS
# (FUZZ_RUNS= empty: the time alone)
FUZZ_RUNS ?= 10000000
FUZZ_NAMES := $(sort $(basename $(notdir $(wildcard tests/fuzz/*.c))))
# chapter 06's part-2 parsers come with 06_full_protocol/items.c: without it
# their targets are not built (a branch without the file still builds)
ifeq ($(wildcard 06_full_protocol/items.c),)
  FUZZ_NAMES := $(filter-out item_name item_parse,$(FUZZ_NAMES))
endif
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_DIR)/bin/%)

# the chapter sources a target needs besides common/ (main() renamed where
# the file has one)
FUZZ_EXTRA_minica_inspect := $(filter-out 04_pki_ca/minica.c,$(MINICA_SRC))
FUZZ_EXTRA_minica_verify := $(filter-out 04_pki_ca/minica.c,$(MINICA_SRC))
# est_body includes enrol.c; the rest of the server (not its main) resolves what enrol.c uses
FUZZ_EXTRA_est_body := $(filter-out 06_full_protocol/server.c 06_full_protocol/enrol.c,$(SERVER_06))
FUZZ_EXTRA_item_name := 06_full_protocol/items.c
FUZZ_EXTRA_item_parse := 06_full_protocol/items.c

fuzz_lib = $(FUZZ_DIR)/lib/libcourse-$(1).a
FUZZ_LIBS := $(foreach m,$(MODULES),$(call fuzz_lib,$(m)))
$(foreach m,$(MODULES),$(eval FUZZ_OBJ_$(m) := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(wildcard common/$(m)/*.c))))

$(FUZZ_DIR)/obj/%.o: %.c $(CIVETWEB)/include/civetweb.h
	@mkdir -p $(@D)
	$(call quiet,CC)$(FUZZ_CC) $(CPPFLAGS_PROJECT) $(PKG_CFLAGS) $(CFLAGS_STRICT) $(FUZZ_CFLAGS) \
	  -fsanitize=fuzzer-no-link -I04_pki_ca -I06_full_protocol -MMD -MP -c $< -o $@

$(foreach m,$(MODULES),$(eval $(call fuzz_lib,$(m)): $$(FUZZ_OBJ_$(m)) ; $$(call quiet,AR)mkdir -p $$(@D) && rm -f $$@ && ar rcs $$@ $$^))

.SECONDARY: $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(wildcard tests/fuzz/*.c) $(MINICA_SRC) $(SERVER_06) $(wildcard 06_full_protocol/items.c))
$(FUZZ_DIR)/bin/%: $(FUZZ_DIR)/obj/tests/fuzz/%.o $(FUZZ_LIBS) $(CIVETWEB)/libcivetweb.a
	@mkdir -p $(@D)
	$(call quiet,LD)$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< \
	  $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_EXTRA_$*)) $(FUZZ_LIBS) $(SYSLIBS)

# the extra objects are prerequisites of their targets only
$(foreach n,$(FUZZ_NAMES),$(if $(FUZZ_EXTRA_$(n)),$(eval $(FUZZ_DIR)/bin/$(n): $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(FUZZ_EXTRA_$(n))))))

-include $(shell find $(FUZZ_DIR)/obj -name '*.d' 2>/dev/null)

.PHONY: fuzz fuzz-build fuzz-seeds fuzz-list
# the targets this tree builds, one a line (tests/chapters/00_fuzz.sh runs these)
fuzz-list:
	@printf '%s\n' $(FUZZ_NAMES)
fuzz-build: $(FUZZ_BINS) fuzz-seeds
fuzz-seeds: $(FUZZ_DIR)/seeds/.made
$(FUZZ_DIR)/seeds/.made: tests/fuzz/seeds.py build/vectors/06/hello.json
	$(call quiet,GEN)rm -rf $(@D) && /usr/bin/python3 tests/fuzz/seeds.py $(@D) build/vectors/06/hello.json && touch $@
fuzz: deps
	@$(MAKE) --no-print-directory COURSE_DEPS_OK=1 fuzz-build
	@tests/fuzz/run.sh --seconds $(FUZZ_SECONDS) $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) $(filter $(FUZZ_NAMES),$(FUZZ_TARGETS)) \
	  $(if $(filter-out $(FUZZ_NAMES),$(FUZZ_TARGETS)),--names "$(FUZZ_NAMES)" --unknown "$(filter-out $(FUZZ_NAMES),$(FUZZ_TARGETS))")
