#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/fuzz/seeds.sh DIR - placeholder, replaced below
mkdir -p "$1"
