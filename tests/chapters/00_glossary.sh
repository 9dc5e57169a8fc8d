#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The glossary and the sheets' links to it: docs/GLOSSARY.md is one table whose
# rows each carry an anchor (<a id="..."></a>) and come in alphabetical order;
# every chapter sheet links the glossary and some of its terms, and every
# GLOSSARY.md#id link names an anchor that exists. Every sheet that tells the
# reader to open a capture in Wireshark (`wireshark -r`) also runs tshark on it
# (a ```sh run block with `tshark -r`), so each GUI step can be done, and is
# checked, without a window. Each check names what it found wrong.
source "$(dirname "$0")/../lib.sh"
cd "$COURSE_ROOT" || exit 1
GLOSSARY=docs/GLOSSARY.md
SHEETS=()
for f in [0-9][0-9]_*/README.md; do [[ -f $f ]] && SHEETS+=("$f"); done

# the Term cell of every table row after the header, one a line
glossary_terms() { grep '^| ' "$GLOSSARY" | tail -n +2 | cut -d'|' -f2 | sed 's/^ //; s/ $//'; }
# the anchors the glossary defines, one a line
glossary_ids() { grep -o '<a id="[^"]*"></a>' "$GLOSSARY" | sed 's/<a id="//; s/"><\/a>//'; }

# rows without an anchor at the start of their Term cell
rows_without_anchor() { glossary_terms | grep -v '^<a id="[a-z0-9-]*"></a>' || true; }
# anchors defined more than once
duplicate_ids() { glossary_ids | sort | uniq -d; }

# the terms as a reader sees them, lower case: out of order if sort -c objects
terms_out_of_order() {
  glossary_terms | sed 's/<a id="[^"]*"><\/a>//; s/`//g' | tr '[:upper:]' '[:lower:]' |
    LC_ALL=C sort -c 2>&1 | sed 's/^sort: -:[0-9]*: disorder: /out of place: /'
}

# sheet:id for every GLOSSARY.md#id link whose id the glossary lacks
broken_links() {
  local ids f id
  ids=$(glossary_ids)
  for f in "${SHEETS[@]}"; do
    while read -r id; do
      [[ -z $id ]] && continue
      grep -qxF "$id" <<<"$ids" || echo "$f: #$id"
    done < <(grep -o 'GLOSSARY\.md#[^)]*' "$f" | sed 's/^GLOSSARY\.md#//')
  done
}

# sheets whose Prerequisites do not link ../docs/GLOSSARY.md
sheets_without_glossary() {
  local f
  for f in "${SHEETS[@]}"; do
    sed -n '/^## Prerequisites/,/^## /p' "$f" | grep -qF '](../docs/GLOSSARY.md)' || echo "$f"
  done
}

# sheets with fewer than 5 different term links
sheets_with_few_terms() {
  local f n
  for f in "${SHEETS[@]}"; do
    n=$(grep -o '](../docs/GLOSSARY\.md#[^)]*)' "$f" | sort -u | wc -l)
    ((n >= 5)) || echo "$f ($n)"
  done
}

# does sheet $1 have a ```sh run block (any indentation) that runs tshark -r?
has_tshark_run_block() {
  awk '/^ *```sh run( |=|$)/ { inrun = 1; next }
       /^ *```/ { inrun = 0; next }
       inrun && /tshark -r/ { found = 1 }
       END { exit !found }' "$1"
}
# sheets that mention wireshark -r but run no tshark -r
sheets_without_tshark() {
  local f
  for f in "${SHEETS[@]}"; do
    grep -q 'wireshark -r' "$f" && ! has_tshark_run_block "$f" && echo "$f"
  done
}

# check NAME FUNCTION: passes if FUNCTION prints nothing, else fails with its lines
check() {
  local out
  out=$("$2")
  if [[ -z $out ]]; then t_pass "$1"; else t_fail "$1" "$(tr '\n' ';' <<<"$out" | sed 's/;$//; s/;/; /g')"; fi
}

t_true "glossary: $GLOSSARY has a Term | What it means | First in table" "no such table" \
  grep -q '^| Term | What it means | First in |$' "$GLOSSARY"
t_true "glossary: the chapter sheets are there to check" "no NN_*/README.md" test "${#SHEETS[@]}" -ge 6
check "glossary: every row's Term cell starts with an anchor <a id=\"...\"></a>" rows_without_anchor
check "glossary: no anchor is defined twice" duplicate_ids
check "glossary: the terms are in alphabetical order" terms_out_of_order
check "glossary: every sheet links docs/GLOSSARY.md in its Prerequisites" sheets_without_glossary
check "glossary: every GLOSSARY.md#id link in a sheet names an anchor that exists" broken_links
check "glossary: every sheet links at least 5 terms" sheets_with_few_terms
check "glossary: every sheet that says wireshark -r also runs tshark -r in a sh run block" sheets_without_tshark
