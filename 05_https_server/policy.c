/* SPDX-License-Identifier: MIT */
/*
 * policy.c - the TLS policy of 05-server: what the server agrees to speak.
 * civetweb hands over its fresh SSL_CTX (server.c's init_ssl) and this
 * decides, before any client connects:
 *
 *   which versions     TLS 1.2 and 1.3 (1.0 and 1.1 are deprecated, RFC 8996)
 *   which suites       TLS 1.2: ECDHE (forward secrecy) + AEAD only;
 *                      TLS 1.3: its three suites, all AEAD with (EC)DHE
 *   which groups       X25519, P-256, P-384 for the key exchange
 *   whose preference   the server's: a client cannot talk it down
 *   resumption         TLS 1.3 session tickets, a TLS 1.2 session cache
 *
 * The names of the suites and groups are in common/tls/tls.h, which the tests
 * (tests/unit/test_tls.c) check against.
 */
#include "policy.h"

#include "core/narrate.h"

int policy_apply(SSL_CTX *ctx, const tls_server_policy *pol)
{
    /* The floor is set here, on the context itself: civetweb's
     * ssl_protocol_version option says the same, but the policy must not
     * depend on another layer's option. */
    int floor = pol->tls13_only ? TLS1_3_VERSION : TLS1_2_VERSION;
    if (SSL_CTX_set_min_proto_version(ctx, floor) != 1 ||
        SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1 ||
        SSL_CTX_set_ciphersuites(ctx, TLS13_CIPHERSUITES) != 1 ||
        SSL_CTX_set1_groups_list(ctx, TLS_GROUPS) != 1) {
        errorf("TLS", "cannot apply the course's TLS policy");
        return -1;
    }
    /* Our preference order, not the client's; renegotiation is an old attack
     * surface (and a denial of service); compression leaks secrets (CRIME). */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_NO_COMPRESSION);
    /* Resumption: a returning client skips the certificate and the signature.
     * TLS 1.3 by stateless tickets (OpenSSL sends 2 per handshake), TLS 1.2
     * by the server's session cache. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    if (pol->num_tickets >= 0)
        SSL_CTX_set_num_tickets(ctx, (size_t)pol->num_tickets);
    return 0;
}
