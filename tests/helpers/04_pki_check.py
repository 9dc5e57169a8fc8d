# SPDX-License-Identifier: MIT
"""Chapter 04: Python's cryptography as an independent reader of minica's files.

Usage: 04_pki_check.py DIR   (the folder tests/chapters/04_pki_ca.sh works in)
Prints one line per failed check and "all checks passed" when there is none.
"""
import ipaddress
import os
import sys

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

d = sys.argv[1]
bad = []


def check(cond, what):
    if not cond:
        bad.append(what)


def cert(name):
    with open(os.path.join(d, name), "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def ext(c, oid):
    return c.extensions.get_extension_for_oid(oid)


root, inter = cert("root/ca.crt"), cert("inter/ca.crt")
server, client, evil = cert("server.crt"), cert("client.crt"), cert("evil.crt")

bc = ext(root, ExtensionOID.BASIC_CONSTRAINTS)
check(bc.critical and bc.value.ca and bc.value.path_length is None, "root BasicConstraints")
ku = ext(root, ExtensionOID.KEY_USAGE)
check(ku.critical and ku.value.key_cert_sign and ku.value.crl_sign and not ku.value.digital_signature,
      "root KeyUsage")
check(root.issuer == root.subject, "root is self-issued")
bc = ext(inter, ExtensionOID.BASIC_CONSTRAINTS)
check(bc.value.ca and bc.value.path_length == 0, "intermediate pathlen 0")
check(inter.issuer == root.subject, "intermediate issued by the root")

for leaf, purpose in ((server, ExtendedKeyUsageOID.SERVER_AUTH), (client, ExtendedKeyUsageOID.CLIENT_AUTH),
                      (evil, ExtendedKeyUsageOID.SERVER_AUTH)):
    name = leaf.subject.rfc4514_string()
    bc = ext(leaf, ExtensionOID.BASIC_CONSTRAINTS)
    check(bc.critical and not bc.value.ca, f"{name}: leaf is not a CA")
    ku = ext(leaf, ExtensionOID.KEY_USAGE).value
    check(ku.digital_signature and not ku.key_cert_sign and not ku.crl_sign, f"{name}: KeyUsage")
    eku = ext(leaf, ExtensionOID.EXTENDED_KEY_USAGE).value
    check(list(eku) == [purpose], f"{name}: EKU is exactly {purpose._name}")
    aki = ext(leaf, ExtensionOID.AUTHORITY_KEY_IDENTIFIER).value.key_identifier
    ski = ext(inter, ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest
    check(aki == ski, f"{name}: AKI is the intermediate's SKI")
    check(ext(leaf, ExtensionOID.SUBJECT_KEY_IDENTIFIER).value.digest ==
          x509.SubjectKeyIdentifier.from_public_key(leaf.public_key()).digest, f"{name}: SKI")
    check(0 < leaf.serial_number < 2 ** 128, f"{name}: serial is positive and at most 128 bits")
    check(leaf.not_valid_after <= inter.not_valid_after, f"{name}: does not outlive its issuer")

san = ext(server, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
check(san.get_values_for_type(x509.DNSName) == ["localhost"], "server DNS SAN")
check(san.get_values_for_type(x509.IPAddress) ==
      [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")], "server IP SANs are iPAddress")
check("127.0.0.1" not in san.get_values_for_type(x509.DNSName), "no IP written as a DNS name")
san = ext(client, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
check(san.get_values_for_type(x509.RFC822Name) == ["alice@example.org"], "client email SAN")
serials = {c.serial_number for c in (server, client, evil, inter)}
check(len(serials) == 4, "serials are all different")

with open(os.path.join(d, "c-ec.csr"), "rb") as f:
    csr = x509.load_pem_x509_csr(f.read())
check(csr.is_signature_valid, "CSR signature valid")
san = ext(csr, ExtensionOID.SUBJECT_ALTERNATIVE_NAME).value
check(san.get_values_for_type(x509.IPAddress) ==
      [ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("2001:db8::1")], "CSR IP SANs")
check(san.get_values_for_type(x509.UniformResourceIdentifier) == ["https://svc.example/id"], "CSR URI SAN")
check(san.get_values_for_type(x509.RFC822Name) == ["ops@example.org"], "CSR email SAN")
check(csr.subject.rfc4514_string() == "CN=svc.example,OU=Lab,O=Course,L=Toulouse,ST=Occitanie,C=FR",
      "CSR subject fields: " + csr.subject.rfc4514_string())
with open(os.path.join(d, "tampered.csr"), "rb") as f:
    check(not x509.load_pem_x509_csr(f.read()).is_signature_valid, "tampered CSR is invalid")

for name in ("crl0.pem",):
    with open(os.path.join(d, name), "rb") as f:
        crl = x509.load_pem_x509_crl(f.read())
    check(crl.is_signature_valid(inter.public_key()), "CRL signed by the intermediate")
    check(crl.issuer == inter.subject, "CRL issuer")
    check(ext(crl, ExtensionOID.CRL_NUMBER).value.crl_number == 1, "first CRL number is 1")

for f in ("server.key", "client.key", "root/ca.key", "inter/ca.key"):
    check(oct(os.stat(os.path.join(d, f)).st_mode & 0o777) == "0o600", f"{f} mode 0600")

for b in bad:
    print("check failed:", b)
if not bad:
    print("all checks passed")
sys.exit(1 if bad else 0)
