/* SPDX-License-Identifier: MIT */
/* enrol.h - chapter 04's enrolment service: a CA on the network that signs a
 * client's CSR when it comes with a one-time enrolment code.
 *
 *   GET  /ca.crt  the root certificate (PEM). Fetched over plain HTTP it
 *                 proves nothing: compare it with a copy you got safely.
 *   GET  /crl     the issuing CA's revocation list (PEM)
 *   POST /enrol   {"code": "...", "csr": "<the CSR, PEM>"}
 *                 -> {"certificate": PEM, "chain": [PEM...], "serial": hex,
 *                     "not_after": "YYYY-MM-DD HH:MM UTC"}
 *
 * Codes: one per line in a file (or one in $ENROL_CODE), at least 16
 * characters, each good for one certificate; compared in constant time.
 * Spent codes are recorded, as SHA-256 hashes, in FILE.spent beside the
 * codes file (PKI/enrol.spent for $ENROL_CODE), so a code stays spent after
 * a restart.
 */
#ifndef ENROL_H
#define ENROL_H

#include <civetweb.h>

/* Server side. pki_dir: the folder `make pki` made (intermediate/ signs,
 * ca-pass opens its key, root.crt and crl.pem are served). codes_file may be
 * NULL: then $ENROL_CODE, else enrolment is closed (503). Opens and locks the
 * record of spent codes and says on stderr how many are spent and left.
 * 0, or -1 after an error (the record cannot be written, is damaged, or
 * another server holds it). */
int enrol_setup(const char *pki_dir, const char *codes_file, int days);
void enrol_teardown(void);
int enrol_get_ca(struct mg_connection *conn, void *arg);
int enrol_get_crl(struct mg_connection *conn, void *arg);
int enrol_post(struct mg_connection *conn, void *arg);

/* Client side: make a key and CSR for cn, enrol with the code at base_url,
 * save DIR/client.key (0600), DIR/client.crt, DIR/client-chain.crt, and
 * verify the result against the trusted root ca_file (and the served CRL).
 * Returns the exit status. */
int enrol_client(const char *base_url, const char *code, const char *cn, const char *dir,
                 const char *ca_file);

#endif
