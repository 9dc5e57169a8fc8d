# SPDX-License-Identifier: MIT
# Chapter 05: HTTPS - TLS 1.2/1.3 on civetweb with the chapter 04 PKI.
#   make 05           run the pair (server on a free port, client against it)
#   make 05-server    run the server on its own port, 8005 (ARGS="..." adds options)
#   make 05-client    run the client against it (https://localhost:8005)
#   make 05-capture   run the pair under tshark: the handshake only, then decrypted with the key log
#   make 05-break     the break-it scenarios: unknown CA, wrong name, expired, revoked,
#                     TLS 1.1 only, mutual TLS without or with a foreign certificate;
#                     ARGS=revoked runs one scenario, ARGS=--keep keeps the folder (in build/),
#                     ARGS=--list names the scenarios
#   make 05-browser   headless Chromium loads /page, trusting only the course CA; screenshot
#   make 05-scan      testssl.sh against 05-server, findings by severity
#   make diff-05      what chapter 05 adds to chapter 01
# Every target that needs certificates runs `make pki` first (build/pki).
# chapter 01's modules plus the one this chapter introduces (05 is 01 + TLS)
MODULES_05 := $(MODULES_01) pki tls
$(eval $(call prog,05-server,05_https_server/server.c 05_https_server/policy.c 05_https_server/mtls.c,$(MODULES_05)))
$(eval $(call prog,05-client,05_https_server/client.c,$(MODULES_05)))

.PHONY: 05 05-server 05-client 05-capture 05-break 05-browser 05-scan diff-05
05: all pki
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh 05
05-server: all pki
	$(BIN)/05-server --port 8005 --crl build/pki/crl.pem $(ARGS)
05-client: all pki
	$(BIN)/05-client --url https://localhost:8005 $(ARGS)
05-capture: all pki
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh --capture 05
	@echo
	@echo "== the TLS records an eavesdropper sees (no key log): sizes, timing, SNI"
	@05_https_server/tls-view.sh build/captures/05_https_server.pcapng
05-break: all
	@BIN=$(abspath $(BIN)) 05_https_server/break.sh $(ARGS)
05-browser: all pki
	@BIN=$(abspath $(BIN)) 05_https_server/browser.sh
05-scan: all pki
	@BIN=$(abspath $(BIN)) 05_https_server/scan.sh
# make diff-05 (the Makefile's generic rule): the chapter before this one,
# and the common/ module(s) this chapter introduces
PREV_05 := 01_plain_http
NEW_05 := tls
