#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Chapter 04 under hostile input: each check here is a finding of a probe that
# once got through, reproduced and now refused. One-time enrolment codes stay
# spent across a restart; the signing policy refuses absurd names; inspect
# does not call junk a key; key files hold a key and nothing after it;
# make-pki.sh renews a CRL before it runs out; minica's words are grammatical.
source "$(dirname "$0")/../lib.sh"
t=$(course_tmpdir)
M=$BIN/minica
PY=/usr/bin/python3
cd "$t" || exit 1

if ! "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$t/pki" >"$t/pki.log" 2>&1; then
  t_fail "04 hardening: make-pki.sh" "$(cat "$t/pki.log")"
  exit 0
fi
# make pki makes chapter 04's enrolment codes, readable by their owner only
t_true "04 hardening: make-pki.sh writes 10 enrolment codes of 32 hex characters to PKI/codes" "$(head -c 200 "$t/pki/codes" 2>&1)" \
  test "$(grep -cE '^[0-9a-f]{32}$' "$t/pki/codes" 2>/dev/null)" = 10
t_true "04 hardening: ...mode 0600" "$(stat -c %a "$t/pki/codes" 2>&1)" test "$(stat -c %a "$t/pki/codes")" = 600
pass=$t/pki/ca-pass

# ---- enrolment codes are good once, across restarts -------------------------------
(umask 077 && printf '%s\n%s\n' "once-code-0123456789abcdef" "other-code-0123456789abcdef" >codes)
echo "once-code-0123456789abcdef" >code1
echo "other-code-0123456789abcdef" >code2
enrol() { # enrol CODE-FILE DIR -> 04-client's exit status, output in T_OUT/T_ERR
  t_run "$BIN/04-client" --enrol --url "$URL" --ca "$t/pki/root.crt" --code-file "$1" \
    --cn "who-$(basename "$2")" --out-dir "$2"
}
if start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes; then
  URL=$SERVER_URL
  t_true "04 hardening: the server says how many codes are spent and left" "$(cat "$SERVER_LOG")" \
    grep -q "enrolment: 2 codes, 0 spent, 2 left (spent codes are recorded in .*/codes.spent)" "$SERVER_LOG"
  enrol code1 first
  t_true "04 hardening: the first use of a code enrols" "rc $T_RC: $T_ERR" test "$T_RC" = 0
  stop_server "$SERVER_PID"
else
  t_fail "04 hardening: 04-server starts with a codes file" "see above"
fi
t_run stat -c %a codes.spent
t_true "04 hardening: the record of spent codes is 0600" "mode $T_OUT" test "$T_OUT" = 600
want=$(printf %s "once-code-0123456789abcdef" | sha256sum | cut -d' ' -f1)
t_true "04 hardening: it holds the SHA-256 of the spent code, not the code" "$(cat codes.spent)" \
  eval '[[ "$(cat codes.spent)" == "$want" ]] && ! grep -q once-code codes.spent'
# the restart: same codes file, the spent code must stay spent
if start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes; then
  URL=$SERVER_URL
  t_true "04 hardening: after a restart the server counts the spent code" "$(cat "$SERVER_LOG")" \
    grep -q "enrolment: 2 codes, 1 spent, 1 left" "$SERVER_LOG"
  enrol code1 again
  t_true "04 hardening: after a restart a spent code is still refused" "rc $T_RC: $T_ERR" \
    eval '[[ $T_RC == 1 && "$T_ERR" == *"this enrolment code was already used"* ]]'
  t_true "04 hardening: ... and nothing was saved" "files exist" test ! -e again/client.crt
  enrol code2 second
  t_true "04 hardening: ... while an unspent code still enrols" "rc $T_RC: $T_ERR" test "$T_RC" = 0
  # the same file under another name (a symlink) finds the same record
  ln -s codes codes-alias
  t_expect "04 hardening: a symlink to the codes file is the same codes file (locked, same record)" 1 \
    --err "another 04-server is using these enrolment codes" \
    -- "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes-alias
  # a second server on the same codes file would spend each code once more
  t_expect "04 hardening: a second server on the same codes file is refused" 1 \
    --err "another 04-server is using these enrolment codes" \
    -- "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes
  stop_server "$SERVER_PID"
else
  t_fail "04 hardening: 04-server restarts with the same codes file" "see above"
fi
t_true "04 hardening: the record lists both spent codes" "$(cat codes.spent)" \
  eval '[[ $(wc -l <codes.spent) == 2 ]]'
# the code from $ENROL_CODE has its record in the PKI folder
if ENROL_CODE=env-code-0123456789abcdef start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki"; then
  URL=$SERVER_URL
  echo env-code-0123456789abcdef >code3
  enrol code3 env1
  stop_server "$SERVER_PID"
  t_true "04 hardening: a code from ENROL_CODE is recorded in PKI/enrol.spent" "rc $T_RC" \
    eval '[[ $T_RC == 0 && $(wc -l <"$t/pki/enrol.spent") == 1 ]]'
  if ENROL_CODE=env-code-0123456789abcdef start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki"; then
    URL=$SERVER_URL
    enrol code3 env2
    t_true "04 hardening: ... and stays spent after a restart" "rc $T_RC: $T_ERR" \
      eval '[[ $T_RC == 1 && "$T_ERR" == *"already used"* ]]'
    stop_server "$SERVER_PID"
  else
    t_fail "04 hardening: 04-server restarts with ENROL_CODE" "see above"
  fi
else
  t_fail "04 hardening: 04-server starts with ENROL_CODE" "see above"
fi
# fail closed: no record that can be written, or a damaged one, no server
cp codes codes-dir && mkdir codes-dir.spent
t_expect "04 hardening: a record that cannot be written stops the server" 1 \
  --err "cannot open the record of spent enrolment codes" --err "hint:" --not "listening on" \
  -- "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes-dir
cp codes codes-bad && { cat codes.spent; echo "not a hash"; } >codes-bad.spent
t_expect "04 hardening: a damaged record stops the server" 1 --err "the record of spent codes is damaged" \
  --not "listening on" -- "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes-bad
cp codes codes-cut && head -c 100 codes.spent >codes-cut.spent
t_expect "04 hardening: a record with a line cut short stops the server" 1 --err "cut short" \
  --not "listening on" -- "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes-cut
# the codes are secrets: a codes file others can read is warned about, like a
# key file; the missing file of the sheet's first try names `make pki`
cp codes codes-open && chmod 644 codes-open
if start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes-open; then
  t_true "04 hardening: a codes file others can read: a warning naming chmod 600" "$(cat "$SERVER_LOG")" \
    grep -q "04-server: warning: enrolment codes file codes-open can be read by other users; run: chmod 600 codes-open" "$SERVER_LOG"
  stop_server "$SERVER_PID"
else
  t_fail "04 hardening: 04-server starts with a codes file others can read" "see above"
fi
cp codes codes-closed && chmod 600 codes-closed
if start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes-closed; then
  t_true "04 hardening: ... and no warning for a 0600 codes file" "$(cat "$SERVER_LOG")" \
    eval '! grep -q "warning" "$SERVER_LOG"'
  stop_server "$SERVER_PID"
else
  t_fail "04 hardening: 04-server starts with a 0600 codes file" "see above"
fi
t_expect "04 hardening: a missing codes file: the error, and a hint naming make pki" 1 \
  --err "04-server: error: no-such-codes: No such file or directory" --err "hint: make pki writes" \
  --err "build/pki/codes" --not "listening on" \
  -- "$BIN/04-server" --port 0 --pki "$t/pki" --codes no-such-codes

# ---- the signing policy refuses absurd names --------------------------------------
# Python's cryptography builds the requests a hostile client would send
# (_validate=False: it would refuse some of them itself)
cat >mkcsr.py <<'PYEOF'
import sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
out, kind, nsans = sys.argv[1], sys.argv[2], int(sys.argv[3])
CN = lambda v: x509.NameAttribute(NameOID.COMMON_NAME, v, _validate=False)
subjects = {
    "cn5000": [CN("a" * 5000)], "cn65": [CN("b" * 65)], "cn64": [CN("c" * 64)],
    "cn2000": [CN("x%d" % i) for i in range(2000)], "twocn": [CN("alice"), CN("root")],
    "empty": [], "nocn": [x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Course")],
    "nul": [CN("good\0evil")], "crlf": [CN("alice\r\nInjected: yes")],
    "script": [CN("<script>alert(1)</script>")], "ok": [CN("plain")],
}
b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subjects[kind]))
if nsans:
    b = b.add_extension(x509.SubjectAlternativeName(
        [x509.DNSName("n%d.example" % i) for i in range(nsans)]), critical=False)
csr = b.sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
open(out, "wb").write(csr.public_bytes(Encoding.PEM))
PYEOF
sign() { # sign KIND NSANS PROFILE -> minica sign's result in T_*
  rm -f "p-$1.crt"
  "$PY" mkcsr.py "p-$1.csr" "$1" "$2" &&
    t_run "$M" sign --dir "$t/pki/intermediate" --pass-file "$pass" --csr "p-$1.csr" \
      --profile "$3" --out "p-$1.crt"
}
refused() { # refused NAME KIND NSANS PROFILE REASON
  sign "$2" "$3" "$4"
  t_true "04 hardening: policy refuses $1 ($4 profile)" "rc $T_RC: $T_ERR" \
    eval '[[ $T_RC == 1 && "$T_ERR" == *"$5"* && ! -e p-$2.crt ]]'
}
refused "a 5,000-character CN" cn5000 0 client "CN has 5000 characters; at most 64"
refused "a 65-character CN" cn65 0 client "CN has 65 characters; at most 64"
refused "2,000 CN entries" cn2000 0 client "has 2000 fields; this CA signs at most 16"
refused "two CNs" twocn 0 client "has 2 CNs; exactly one is signed"
refused "an empty subject" empty 1 client "subject is empty"
refused "an empty subject" empty 1 server "subject is empty"
refused "a subject without CN" nocn 0 client "subject has no CN"
refused "a NUL in the CN" nul 0 client "CN holds a control character"
refused "CR LF in the CN" crlf 0 client "CN holds a control character"
refused "markup in the CN" script 0 client "CN holds '<' or '>' (markup)"
refused "10,000 SANs" ok 10000 client "asks for 10000 subject alternative names; this CA signs at most 100"
refused "10,000 SANs" ok 10000 server "asks for 10000 subject alternative names"
refused "101 SANs" ok 101 server "asks for 101 subject alternative names"
sign cn64 100 server
t_true "04 hardening: ... while a 64-character CN with 100 SANs is signed" "rc $T_RC: $T_ERR" \
  eval '[[ $T_RC == 0 && -s p-cn64.crt ]]'
# the same policy behind /enrol: the refusal reaches the client and costs no code
(umask 077 && echo "policy-code-0123456789abcdef" >codes-policy)
if start_server 04-server "$BIN/04-server" --port 0 --pki "$t/pki" --codes codes-policy; then
  for kind in empty cn5000; do
    "$PY" mkcsr.py "e-$kind.csr" "$kind" 1
    body=$(sed 's/$/\\n/' "e-$kind.csr" | tr -d '\n')
    t_run curl -s -w '\n%{http_code}' -H 'Content-Type: application/json' \
      -d "{\"code\":\"policy-code-0123456789abcdef\",\"csr\":\"$body\"}" "$SERVER_URL/enrol"
    t_true "04 hardening: /enrol refuses a CSR with $kind subject (400, with the reason)" "$T_OUT" \
      eval 'grep -q "^400$" <<<"$T_OUT" && grep -q "not signed: the request.s subject\|not signed: the subject" <<<"$T_OUT"'
  done
  t_true "04 hardening: ... and the code is not spent" "$(cat codes-policy.spent 2>&1)" \
    test ! -s codes-policy.spent
  stop_server "$SERVER_PID"
else
  t_fail "04 hardening: 04-server starts for the policy checks" "see above"
fi

# ---- inspect reads a key before it describes one ------------------------------------
# built here, at run time: a BEGIN/END pair around junk, and around an ASN.1
# bomb (SEQUENCEs nested 10,000 deep), in every key armour inspect knows
"$PY" - <<'PYEOF'
import base64
def pem(label, der):
    b = base64.b64encode(der).decode()
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (
        label, "\n".join(b[i:i + 64] for i in range(0, len(b), 64)), label)
def seq(body):
    n = len(body)
    ln = bytes([n]) if n < 128 else bytes([0x80 | ((n.bit_length() + 7) // 8)]) + n.to_bytes((n.bit_length() + 7) // 8, "big")
    return b"\x30" + ln + body
bomb = b""
for _ in range(10000):
    bomb = seq(bomb)
for label in ("PRIVATE KEY", "ENCRYPTED PRIVATE KEY", "EC PRIVATE KEY"):
    name = label.lower().replace(" ", "-")
    open("junk-%s.key" % name, "w").write(pem(label, b"AAA"))
    open("bomb-%s.key" % name, "w").write(pem(label, bomb))
PYEOF
for f in junk-private-key junk-encrypted-private-key junk-ec-private-key \
  bomb-private-key bomb-encrypted-private-key bomb-ec-private-key; do
  t_expect "04 hardening: inspect refuses $f (exit 1, not described as a key)" 1 \
    --err "error:" --not "NOT encrypted" --not "contents not shown" -- "$M" inspect "$f.key"
done
"$M" key -q --encrypt --pass-file "$pass" --out enc.key >/dev/null
echo "not the passphrase at all" >wrong-pass
t_expect "04 hardening: inspect with a wrong passphrase fails" 1 --err "wrong or missing passphrase" \
  -- "$M" inspect --pass-file wrong-pass enc.key
t_expect "04 hardening: ... with the right one it describes the key" 0 --out "EC P-256" \
  --out "encrypted (PBES2" -- "$M" inspect --pass-file "$pass" enc.key
t_expect "04 hardening: ... and without one it still describes an encrypted key" 0 \
  --out "give --pass-file to see its type" -- "$M" inspect enc.key
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out p8.key 2>/dev/null &&
  openssl pkey -in p8.key -traditional -out trad.key 2>/dev/null
t_expect "04 hardening: inspect names a traditional (not PKCS#8) key for what it is" 0 \
  --out "traditional PEM (not PKCS#8), NOT encrypted" -- "$M" inspect trad.key
t_expect "04 hardening: one bad file among good ones: exit 1, the good ones described" 1 \
  --out "EC P-256" --err "junk-private-key.key" -- "$M" inspect enc.key junk-private-key.key trad.key

# ---- key files hold a key and nothing after it (chapters 02 and 03) -----------------
"$BIN/fernet" genkey --out fk >/dev/null 2>&1
chmod 600 fk
{ cat fk; printf '\0ignored until now'; } >fk-nul
{ cat fk; echo "a second line"; } >fk-two
chmod 600 fk-nul fk-two
t_expect "04 hardening: a Fernet key file works as made" 0 -- \
  bash -c "printf hi | '$BIN/fernet' encrypt --key-file fk"
t_expect "04 hardening: a Fernet key file with bytes after a NUL is refused" 1 \
  --err "holds a NUL byte" -- bash -c "printf hi | '$BIN/fernet' encrypt --key-file fk-nul"
t_expect "04 hardening: ... as a second line already was" 1 --err "does not hold a Fernet key" \
  -- bash -c "printf hi | '$BIN/fernet' encrypt --key-file fk-two"
openssl genpkey -algorithm X25519 -out xa.pem 2>/dev/null
openssl genpkey -algorithm X25519 -out xb.pem 2>/dev/null
openssl pkey -in xb.pem -pubout -out xb.pub 2>/dev/null
{ cat xa.pem; printf '\0ignored until now'; } >xa-nul.pem
{ cat xa.pem; echo "ignored until now"; } >xa-text.pem
{ cat xb.pub; cat xa.pem; } >xb-two.pub
chmod 600 xa-nul.pem xa-text.pem
t_expect "04 hardening: a kex key file works as made" 0 --out "shared: " \
  -- "$BIN/dh" x25519 -q --key xa.pem --peer-key xb.pub
t_expect "04 hardening: a kex key file with bytes after a NUL is refused" 1 --err "holds a NUL byte" \
  -- "$BIN/dh" x25519 -q --key xa-nul.pem --peer-key xb.pub
t_expect "04 hardening: a kex key file with text after its END line is refused" 1 \
  --err "there is more after its END line" -- "$BIN/dh" x25519 -q --key xa-text.pem --peer-key xb.pub
t_expect "04 hardening: a peer key file with a second PEM block is refused" 1 \
  --err "more than one PEM block" -- "$BIN/dh" x25519 -q --key xa.pem --peer-key xb-two.pub

# ---- make-pki.sh renews a CRL that is out of date or nearly (issue 15) -------------
mkpki() { t_run "$COURSE_ROOT/04_pki_ca/make-pki.sh" "$BIN" "$t/pki"; }
crl_days() { "$M" inspect "$t/pki/crl.pem" | sed -n 's/.*next update:.*(in \([0-9]*\) days*)/\1/p'; }
"$M" crl -q --dir "$t/pki/intermediate" --pass-file "$pass" --not-before -40d --not-after -10d \
  --out "$t/pki/crl.pem" >/dev/null 2>&1
t_expect "04 hardening: (an out-of-date CRL fails verification, as it should)" 1 --err "verify" \
  -- "$M" verify --ca "$t/pki/root.crt" --ip 127.0.0.1 --crl "$t/pki/crl.pem" "$t/pki/server-chain.crt"
mkpki
t_true "04 hardening: make-pki.sh renews a CRL whose next update is past" "rc $T_RC: $T_OUT $T_ERR" \
  eval '[[ $T_RC == 0 && "$T_OUT" == *"wrote $t/pki/crl.pem"* && $(crl_days) -ge 29 ]]'
t_expect "04 hardening: ... and the chain verifies with it again" 0 --out "OK" \
  -- "$M" verify --ca "$t/pki/root.crt" --ip 127.0.0.1 --crl "$t/pki/crl.pem" "$t/pki/server-chain.crt"
"$M" crl -q --dir "$t/pki/intermediate" --pass-file "$pass" --days 3 --out "$t/pki/crl.pem" >/dev/null 2>&1
mkpki
t_true "04 hardening: make-pki.sh renews a CRL due within 7 days" "rc $T_RC: $T_OUT $T_ERR" \
  eval '[[ $T_RC == 0 && "$T_OUT" == *"wrote $t/pki/crl.pem"* && $(crl_days) -ge 29 ]]'
"$M" crl -q --dir "$t/pki/intermediate" --pass-file "$pass" --days 10 --out "$t/pki/crl.pem" >/dev/null 2>&1
mkpki
t_true "04 hardening: ... and keeps one with more than a week left" "rc $T_RC: $T_OUT" \
  eval '[[ $T_RC == 0 && "$T_OUT" != *"wrote"* && $(crl_days) == 10 ]]'
"$M" init -q --dir other --pass-file "$pass" --cn "Someone Else" >/dev/null 2>&1
"$M" crl -q --dir other --pass-file "$pass" --days 30 --out "$t/pki/crl.pem" >/dev/null 2>&1
mkpki
t_true "04 hardening: make-pki.sh replaces a CRL the intermediate did not sign" "rc $T_RC: $T_OUT" \
  eval '[[ $T_RC == 0 && "$T_OUT" == *"wrote $t/pki/crl.pem"* ]] &&
    openssl crl -in "$t/pki/crl.pem" -CAfile "$t/pki/intermediate.crt" -noout 2>/dev/null'
t_expect "04 hardening: minica crl --not-after in the past says the CRL is out of date" 0 \
  --out "OUT OF DATE since" --err "warning: lab option" \
  -- "$M" crl --dir "$t/pki/intermediate" --pass-file "$pass" --not-before -3d --not-after -1d --out late.pem
t_expect "04 hardening: a CRL window that ends before it starts is refused" 1 --err "next update comes after" \
  -- "$M" crl --dir "$t/pki/intermediate" --pass-file "$pass" --not-before -1d --not-after -3d --out bad.pem

# ---- minica's words -------------------------------------------------------------------
t_expect "04 hardening: one day is '1 day'" 0 --out "in 1 day)" --not "1 days" \
  -- "$M" crl --dir "$t/pki/intermediate" --pass-file "$pass" --days 1 --out one.pem
t_expect "04 hardening: no 'a ec' key, one name is '1 name'" 0 \
  --out "generating the key (ec) and a request for 1 name" --out "in 1 day)" --not "a ec" --not "1 days" \
  -- "$M" issue --dir "$t/pki/intermediate" --pass-file "$pass" --profile server --key-type ec \
  --name words --not-after +1d words.example
t_expect "04 hardening: inspect says 'expires in 1 day'" 0 --out "expires in 1 day" --not "1 days" \
  -- "$M" inspect words.crt
t_expect "04 hardening: a root for one day says '1 day'" 0 --out ", 1 day" --not "1 days" \
  -- "$M" init --dir oneday --pass-file "$pass" --days 1
