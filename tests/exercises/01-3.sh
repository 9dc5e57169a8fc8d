#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make check-01-3: exercise 01-3, 01-client --login USER posts the login form with the
# password read from standard input (01_plain_http/README.md, "Exercises in C").
# Runs the client against 01-server and against a small recording server (Python's
# http.server) that keeps each request's body; prints one verdict line.
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=lib.bash
source tests/exercises/lib.bash
exercise 01-3

limit=$(course_limit 10)
start_server 01-server "$BIN/01-server" --port 0 2>/dev/null ||
  fail "01-server did not start (run 'make 01-server' to see why)"
real=$SERVER_URL

# the recording server: one JSON line per POST (path, Content-Type, body)
cat >"$tmp/rec.py" <<'EOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(sys.argv[1], "a") as f:
            f.write(json.dumps({"path": self.path, "type": self.headers.get("Content-Type", ""),
                                "body": body.decode("latin-1")}) + "\n")
        reply = b"welcome, recorded\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)
    def log_message(self, *args):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("listening on http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
EOF
: >"$tmp/rec.jsonl"
start_server recorder /usr/bin/python3 "$tmp/rec.py" "$tmp/rec.jsonl" 2>/dev/null ||
  fail "the checker's recording server did not start (needs /usr/bin/python3)"
rec=$SERVER_URL

# login URL USER PASSWORD-INPUT [options...]: sets RC and OUT (stdout and stderr)
login() {
  OUT=$(printf '%s' "$3" | timeout "$limit" "$BIN/01-client" --url "$1" --login "$2" "${@:4}" 2>&1)
  RC=$?
}

login "$real" alice $'wonderland\n' --quiet
[[ $RC == 2 && $OUT == *unrecognized* ]] &&
  fail "01-client does not know --login yet: add it to its cli_program (options, short_options, option)"
[[ $RC == 0 && $OUT == *"welcome, alice"* ]] ||
  fail "'echo wonderland | 01-client --login alice' against 01-server exited $RC: $(head -n 3 <<<"$OUT")"

user="o'brien & co" password='p&ss= w%rd+1'
login "$rec" "$user" "$password"$'\r\n' --verbose
[[ $RC == 0 ]] || fail "--login against a server that answers 200 exited $RC: $(head -n 3 <<<"$OUT")"
verdict=$(/usr/bin/python3 - "$tmp/rec.jsonl" "$user" "$password" <<'EOF'
import json, sys, urllib.parse
def no(why):
    print(why)
    sys.exit(1)
reqs = [json.loads(l) for l in open(sys.argv[1])]
if len(reqs) != 1:
    no(f"the server received {len(reqs)} requests, expected one")
r = reqs[0]
if r["path"] != "/login":
    no(f"the form went to {r['path']}, expected /login")
if r["type"].split(";")[0].strip() != "application/x-www-form-urlencoded":
    no(f"Content-Type was '{r['type']}', expected application/x-www-form-urlencoded")
try:
    form = urllib.parse.parse_qs(r["body"], keep_blank_values=True, strict_parsing=True)
except ValueError as e:
    no(f"the body '{r['body']}' is not a form: {e}")
want = {"user": [sys.argv[2]], "password": [sys.argv[3]]}
if form != want:
    no(f"the body '{r['body']}' reads as {form}, expected {want}: "
             "percent-encode each value (curl_easy_escape) and drop the line break")
EOF
) || fail "${verdict:-the recorded request could not be read}"
for s in "$password" 'p%26ss' 'w%25rd' 'p&ss'; do
  [[ $OUT != *"$s"* ]] || fail "the client's narration shows the password ('$s' with --verbose): set req.secret_body"
done

login "$rec" alice ""
[[ $RC != 0 ]] || fail "with nothing on standard input the client exited 0: refuse an empty password"
[[ $(wc -l <"$tmp/rec.jsonl") == 1 ]] || fail "with nothing on standard input the client still sent a request"
pass "01-client --login USER posts user and password percent-encoded, the password from stdin and never narrated"
