# SPDX-License-Identifier: MIT
# Chapter 01: plain HTTP.
#   make 01          run the pair (server on a free port, client against it)
#   make 01-server   run the server on its own port, 8001 (ARGS="..." adds options)
#   make 01-client   run the client against it
#   make 01-capture  run the pair under tshark; print what an eavesdropper reads
# the common/ modules this chapter links (docs/ARCHITECTURE.md)
MODULES_01 := core net
$(eval $(call prog,01-server,01_plain_http/server.c,$(MODULES_01)))
$(eval $(call prog,01-client,01_plain_http/client.c,$(MODULES_01)))

.PHONY: 01 01-server 01-client 01-capture
01: all
	@scripts/run-chapter.sh 01
01-server: all
	$(BIN)/01-server --port 8001 $(ARGS)
01-client: all
	$(BIN)/01-client --url http://127.0.0.1:8001 $(ARGS)
01-capture: all
	@scripts/run-chapter.sh --capture 01
# make diff-01 (the Makefile's generic rule): the chapter before this one,
# and the common/ module(s) this chapter introduces
PREV_01 :=
NEW_01 := core net
