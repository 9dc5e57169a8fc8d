# SPDX-License-Identifier: MIT
# Chapter 02's pair, for `make 02`, `make 02-capture` and `make demo`.
# demo: the secret travels as a Fernet token; a wrong key is refused by the MAC
# Sourced by scripts/run-chapter.sh after scripts/lib.sh.
#
# Both sides get the key from SECRET_KEY, as in the reference course. The key
# is made fresh for each run, in a private temp dir, and never printed.
servers() {
  local dir
  dir=$(course_tmpdir)
  "$BIN/fernet" genkey --out "$dir/02.key" || return 1
  SECRET_KEY=$(cat "$dir/02.key")
  export SECRET_KEY
  start_server 02-server "$BIN/02-server" --port 0
}
clients() {
  "$BIN/02-client" --url "$SERVER_URL" &&
    "$BIN/02-client" --url "$SERVER_URL" --send 'pay Bob 10 EUR' || return 1
  echo
  echo "== the same client with another key: the MAC check refuses the token"
  # a key the server never saw; the client must fail, so success here is the error
  if SECRET_KEY=$("$BIN/fernet" genkey) "$BIN/02-client" --url "$SERVER_URL"; then
    return 1
  fi
  return 0
}
