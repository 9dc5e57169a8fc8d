#!/bin/sh
# SPDX-License-Identifier: MIT
# start-client.sh HOST PORT [06-client options...] - R4's startClient.sh, for chapter 06.
#
# R4's script ran the interactive client against HOST:PORT: create an account
# or log in with a password, then compose, read, view receipts, exit. This
# one runs 06-client's menu, the same choices, with the course CA
# (build/pki/root.crt) as the only one the server's certificate may chain
# to, and the device in build/06-home (or --home DIR). What it adds over
# R4's: "logging in" is a HELLO signed by a device key that never leaves
# this machine (no password travels after enrolment), so when no device is
# enrolled yet it registers the account (if you say it is new) and enrols
# one first; and each message read is checked against its sender's device
# signature here, not taken on the server's word.
set -eu
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then
  echo "usage: $0 HOST PORT [06-client options...]" >&2
  exit 2
fi
host=$1 port=$2
shift 2
if [ ! -x build/bin/06-client ]; then
  echo "$0: build/bin/06-client is not built: run make" >&2
  exit 1
fi
home=build/06-home
prev=
for a in "$@"; do
  [ "$prev" = --home ] && home=$a
  prev=$a
done
client() { build/bin/06-client --url "https://$host:$port" "$@"; }
if [ ! -f "$home/device.crt" ]; then
  printf 'no device is enrolled in %s yet.\nuser name: ' "$home"
  read -r user
  printf 'is %s a new account (register it first)? [y/N] ' "$user"
  read -r new
  case $new in y | Y | yes) client "$@" --user "$user" register ;; esac
  client "$@" --user "$user" enrol
fi
exec build/bin/06-client --url "https://$host:$port" "$@" menu
