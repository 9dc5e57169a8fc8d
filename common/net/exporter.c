/* SPDX-License-Identifier: MIT */
/* exporter.c - see exporter.h */
#include "net/exporter.h"

#include <openssl/crypto.h>
#include <string.h>

int net_tls_exporter(const SSL *ssl, uint8_t out[NET_EXPORTER_LEN])
{
    /* OpenSSL's signature takes a non-const SSL; exporting changes nothing */
    SSL *s = (SSL *)ssl;
    int version;

    memset(out, 0, NET_EXPORTER_LEN);
    if (!ssl || !SSL_is_init_finished(s))
        return -1;
    version = SSL_version(s);
    if (version != TLS1_3_VERSION && !(version == TLS1_2_VERSION && SSL_get_extms_support(s) == 1))
        return -1;
    if (SSL_export_keying_material(s, out, NET_EXPORTER_LEN, NET_EXPORTER_LABEL,
                                   strlen(NET_EXPORTER_LABEL), NULL, 0, 0) != 1) {
        OPENSSL_cleanse(out, NET_EXPORTER_LEN);
        return -1;
    }
    return 0;
}
