# SPDX-License-Identifier: MIT
# Chapter 03: Diffie-Hellman key exchange, and the man in the middle.
#   make 03          run the pair (X25519), then the same through 03-mitm
#   make 03-server   run the server on its own port, 8003 (ARGS="..." adds options)
#   make 03-client   run the client against it (ARGS="--group toy" etc.)
#   make 03-mitm     run the attacker on 8013 in front of 03-server on 8003
#   make 03-capture  run the pair under tshark; the eavesdropper reads public values only
#   make diff-03     what chapter 03 adds to chapter 02
# chapter 02's modules plus the one this chapter introduces
MODULES_03 := $(MODULES_02) kex
$(eval $(call prog,03-server,03_diffie_hellman/server.c,$(MODULES_03)))
$(eval $(call prog,03-client,03_diffie_hellman/client.c 03_diffie_hellman/kex_flow.c,$(MODULES_03)))
$(eval $(call prog,03-mitm,03_diffie_hellman/mitm.c 03_diffie_hellman/kex_flow.c,$(MODULES_03)))
$(eval $(call prog,dh,03_diffie_hellman/dh.c 03_diffie_hellman/dh_toy.c,core kex))

.PHONY: 03 03-server 03-client 03-mitm 03-capture diff-03
03: all
	@scripts/run-chapter.sh 03
03-server: all
	$(BIN)/03-server --port 8003 $(ARGS)
03-client: all
	$(BIN)/03-client --url http://127.0.0.1:8003 $(ARGS)
03-mitm: all
	$(BIN)/03-mitm --port 8013 --upstream http://127.0.0.1:8003 $(ARGS)
03-capture: all
	@scripts/run-chapter.sh --capture 03
# make diff-03 (the Makefile's generic rule): the chapter before this one,
# and the common/ module(s) this chapter introduces
PREV_03 := 02_symmetric_fernet
NEW_03 := kex
