# SPDX-License-Identifier: MIT
# Chapter 02: symmetric encryption with Fernet tokens.
#   make 02          run the pair with a fresh shared key (build/02.key)
#   make 02-server   run the server on its own port, 8002 (ARGS="..." adds options)
#   make 02-client   run the client against it
#   make 02-capture  run the pair under tshark; the eavesdropper reads a token, not the secret
#   make diff-02     what chapter 02 adds to chapter 01
#   make 02-key      make the shared key build/02.key (0600) if there is none
# chapter 01's modules plus the one this chapter introduces
MODULES_02 := $(MODULES_01) fernet
$(eval $(call prog,02-server,02_symmetric_fernet/server.c,$(MODULES_02)))
$(eval $(call prog,02-client,02_symmetric_fernet/client.c,$(MODULES_02)))
$(eval $(call prog,fernet,02_symmetric_fernet/fernet.c,core fernet))
$(eval $(call prog,toy-cipher,02_symmetric_fernet/toy_cipher.c,core))
$(eval $(call prog,fernet-bench,bench/fernet_bench.c,core fernet))

.PHONY: 02 02-server 02-client 02-capture 02-key diff-02
02: all
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh 02
02-key: all
	@test -f build/02.key || $(BIN)/fernet genkey --out build/02.key
02-server: 02-key
	$(BIN)/02-server --key-file build/02.key --port 8002 $(ARGS)
02-client: 02-key
	$(BIN)/02-client --key-file build/02.key --url http://127.0.0.1:8002 $(ARGS)
02-capture: all
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh --capture 02
# make diff-02 (the Makefile's generic rule): the chapter before this one,
# and the common/ module(s) this chapter introduces
PREV_02 := 01_plain_http
NEW_02 := fernet
