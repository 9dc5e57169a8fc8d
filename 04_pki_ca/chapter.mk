# SPDX-License-Identifier: MIT
# Chapter 04: a home-made certificate authority. Programs and run targets.
#
# `make pki` builds the course PKI for chapters 05 and 06 under build/pki/
# (PKI=DIR to move it). It is idempotent: files that exist and still verify
# are kept; nothing here is ever committed. The files:
#
#   build/pki/ca-pass             the CA passphrase (random, mode 0600)
#   build/pki/root/               the root CA folder (ca.key encrypted, ca.crt, index.txt, ...)
#   build/pki/intermediate/       the intermediate CA folder (pathlen 0; signs the leaves)
#   build/pki/root.crt            the root certificate: what clients trust (--cacert)
#   build/pki/intermediate.crt    the intermediate certificate
#   build/pki/server.key          server key, EC P-256, unencrypted, mode 0600
#   build/pki/server.crt          server certificate: localhost, 127.0.0.1, ::1 (serverAuth)
#   build/pki/server-chain.crt    server.crt followed by intermediate.crt (what a server sends)
#   build/pki/client.key          client key, EC P-256, unencrypted, mode 0600
#   build/pki/client.crt          client certificate: CN course-client (clientAuth)
#   build/pki/client-chain.crt    client.crt followed by intermediate.crt
#   build/pki/crl.pem             the intermediate's CRL (nothing revoked), 30 days
#   build/pki/devices/            chapter 06's device CA folder: a second intermediate of the
#                                 root, CN "Course Device CA", EKU clientAuth only (nothing under
#                                 it passes for a TLS server); ca.key encrypted with ca-pass
#   build/pki/devices-ca.crt      the device CA's certificate (06-server's EST cacerts)
#
# Check any of them with: build/bin/minica inspect build/pki/server.crt
# chapter 03's modules plus the one this chapter introduces
MODULES_04 := $(MODULES_03) pki
MINICA_SRC := 04_pki_ca/minica.c 04_pki_ca/minica_util.c 04_pki_ca/minica_ca.c \
  04_pki_ca/minica_issue.c 04_pki_ca/minica_req.c 04_pki_ca/minica_inspect.c \
  04_pki_ca/minica_verify.c
$(eval $(call prog,minica,$(MINICA_SRC),core pki))

PKI ?= build/pki
.PHONY: pki minica
minica: $(BIN)/minica
pki: $(BIN)/minica
	@04_pki_ca/make-pki.sh $(abspath $(BIN)) $(PKI)

# The pair: 03's server and client plus a certificate (and a small CA service).
$(eval $(call prog,04-server,04_pki_ca/server.c 04_pki_ca/enrol_server.c,$(MODULES_04)))
$(eval $(call prog,04-client,04_pki_ca/client.c 04_pki_ca/enrol_client.c \
  04_pki_ca/signedkex_flow.c 03_diffie_hellman/kex_flow.c,$(MODULES_04)))

#   make 04          make pki, then: enrolment, signed exchange, refusal through 03-mitm
#   make 04-server   run the server on its own port, 8004 (ARGS="..." adds options)
#   make 04-client   run the client against it (ARGS="--enrol --code-file F" etc.)
#   make 04-mitm     run chapter 03's attacker on 8014 in front of 04-server on 8004
#   make 04-capture  run the pair under tshark
#   make diff-04     what chapter 04 adds to chapter 03
.PHONY: 04 04-server 04-client 04-mitm 04-capture diff-04
04: all pki
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh 04
04-server: all pki
	$(BIN)/04-server --port 8004 --pki $(PKI) $(ARGS)
04-client: all pki
	$(BIN)/04-client --url http://127.0.0.1:8004 --ca $(PKI)/root.crt $(ARGS)
04-mitm: all
	$(BIN)/03-mitm --port 8014 --upstream http://127.0.0.1:8004 $(ARGS)
04-capture: all pki
	@BIN=$(abspath $(BIN)) scripts/run-chapter.sh --capture 04
# make diff-04 (the Makefile's generic rule): the chapter before this one,
# and the common/ module(s) this chapter introduces
PREV_04 := 03_diffie_hellman
NEW_04 := pki
