# SPDX-License-Identifier: MIT
# Chapter 06: the full protocol - one secure service on every earlier chapter.
#   make 06           make pki, then the tour: register, enrol, HELLO, records, CLOSE,
#                     and the refusals (a replayed envelope, a stolen token, ...)
#   make 06-server    run the server on its own port, 8006, data in build/06 (ARGS="..." adds options)
#   make 06-client    run the client against it (ARGS="--user alice register" etc.)
#   make 06-admin     run the admin tool against it (ARGS="sessions" etc.)
#   make 06-capture   run the tour under tshark: with the TLS key log you read HTTP and the
#                     envelopes' JSON, but never a record's text
#   make 06-layers    what each layer above TLS adds: a TLS-terminating proxy attacks, each
#                     defence off (a lab switch: the attack works) and on (refused);
#                     ARGS=replay runs one scenario, ARGS=--keep keeps the folder
#   make diff-06      what chapter 06 adds to chapter 05
# chapter 05's modules plus the ones this chapter introduces
MODULES_06 := $(MODULES_05) kex envelope token store
SERVER_06 := 06_full_protocol/server.c 06_full_protocol/live.c \
  06_full_protocol/devices.c 06_full_protocol/enrol.c 06_full_protocol/session.c \
  06_full_protocol/admin.c 06_full_protocol/accounts.c \
  06_full_protocol/messages.c 06_full_protocol/transfer.c 06_full_protocol/items.c 06_full_protocol/notify.c \
  05_https_server/policy.c 05_https_server/mtls.c
CLIENT_06 := 06_full_protocol/client.c 06_full_protocol/client_enrol.c 06_full_protocol/client_session.c \
  06_full_protocol/client_messages.c 06_full_protocol/client_menu.c 06_full_protocol/client_transfer.c \
  06_full_protocol/items.c 06_full_protocol/client_listen.c
$(eval $(call prog,06-server,$(SERVER_06),$(MODULES_06)))
$(eval $(call prog,06-client,$(CLIENT_06),$(MODULES_06)))
$(eval $(call prog,06-admin,06_full_protocol/admin_client.c,$(MODULES_06)))
# make bench: the load generator (bench/06_records.sh), and the store alone as its bound
$(eval $(call prog,06-load,06_full_protocol/load.c 06_full_protocol/client_enrol.c 06_full_protocol/client_session.c,$(MODULES_06)))
$(eval $(call prog,06-sqlbench,06_full_protocol/sqlbench.c,$(MODULES_06)))

.PHONY: 06 06-server 06-client 06-admin 06-capture diff-06
06: all pki
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh 06
06-server: all pki
	$(BIN)/06-server --port 8006 --data build/06 $(ARGS)
06-client: all pki
	$(BIN)/06-client --url https://localhost:8006 $(ARGS)
06-admin: all pki
	$(BIN)/06-admin --url https://localhost:8006 --data build/06 $(ARGS)
06-capture: all pki
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh --capture 06
.PHONY: 06-layers
06-layers: all
	@BIN=$(abspath $(BIN)) 06_full_protocol/layers.sh $(ARGS)
# make diff-06 (the Makefile's generic rule): the chapter before this one,
# and the common/ module(s) this chapter introduces
PREV_06 := 05_https_server
NEW_06 := envelope token store
