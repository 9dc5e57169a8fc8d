#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tests/helpers/sheet.py - run a lab sheet (a chapter README.md) and check it.

usage: sheet.py [--root DIR] [--list] [--only K[,K-K]] [--keep] [--keep-going]
                SHEET.md...

For each sheet:
  1. the structure: the title line, then the template's `## ` headings in
     order (docs/LAB-TEMPLATE.md), the core path's table adds up, every
     exercise names its `make check-NN-K` and its checker exists;
  2. the markup: every sh/bash/console/shell block is marked run or norun,
     every ```text from-run block follows a run block;
  3. the run: on a scratch copy of DIR (its tracked and untracked-but-not-
     ignored files, plus build/ copied with cp -a) inside its own network
     namespace (unshare -n), each ```sh run block runs in bash (errexit,
     pipefail) from the copy's root; variables, functions and the current
     folder carry over to the next block, as in one terminal. Each output
     block is compared with what its command printed.

Markup (docs/LAB-TEMPLATE.md says more):
  ```sh run                 must exit 0           (run timeout=S: its own limit)
  ```sh run status=N        must exit N
  ```sh run=server          background; waits for "listening on"; stopped at
                            <!-- sheet: stop --> or at the end of the sheet
  ```sh norun REASON        shown, not run
  ```text from-run          output of the nearest command block (a run block)
  ```text from-run=server   output of the newest server so far
  ```text norun REASON      not compared
  <!-- sheet: run CMD -->   a hidden command (must exit 0)
  <!-- sheet: stop -->      stop the servers
In an output block: a line that is only [...] matches any lines (zero or
more), ‹words› matches any text within one line, lines starting with "$ "
are skipped; trailing spaces and ANSI colours are ignored.

Options:
  --root DIR      the tree to copy (default: the git top level of the sheet)
  --list          print the blocks and what the runner does with each; no run
  --only LIST     run only the command blocks numbered so (--list shows the
                  numbers), e.g. --only 3,5-7; others are not run
  --keep          keep the scratch folder and print where it is
  --keep-going    go on after a command block fails (default: stop there)
  --no-run        check structure and markup only

Output: one line per block, "PASS: sheet NN: block K (line L): ..." or
"FAIL: ...", with a diff for an output that does not match; "TIME:" lines give
the seconds each ### step of ## Steps took. Exit status 0 when all pass, 1
when something fails, 77 when no network namespace can be made (not root).
Environment: COURSE_TIME_SCALE multiplies every limit (block: 120 s, server
start: 60 s); SAN, COURSE_BIN and BIN reach the commands (a path inside DIR
is moved to the copy); under SAN=1 the output's build/san/ reads as build/.
"""
import argparse
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TEMPLATE = [
    "Objectives", "Prerequisites", "Core path (about N minutes)", "Background",
    "Steps", "Questions", "Deliverables", "Break it", "Exercises in C",
    "Recompute it yourself", "Optional extensions", "Read the code",
    "Troubleshooting",
]
CORE_RE = re.compile(r"^Core path \(about (\d+) minutes\)$")
CMD_LANGS = {"sh", "bash", "console", "shell"}
FENCE_RE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^`]*)$")
HIDDEN_RE = re.compile(r"^\s*<!--\s*sheet:\s*(run|stop)\b(.*?)-->\s*$")
ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07")
MASK_RE = re.compile("\u2039[^\u203a]*\u203a")
CUT = "[...]"
MARK = "COURSE_SHEET_BLOCK"
LISTENING = "listening on"
# a sanitizer's report (make test SAN=1): a failure whatever the exit status
SANITIZER_RE = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|: runtime error: ")
# bash's own variables: not carried from one block to the next
NOSAVE = (r"BASH.*|EUID|UID|PPID|SHELLOPTS|FUNCNAME|GROUPS|HISTCMD|LINENO|"
          r"PIPESTATUS|S?RANDOM|SECONDS|EPOCH.*|SHLVL|PWD|OLDPWD|_|__sheet.*|"
          r"DIRSTACK|COMP_WORDBREAKS|OPTIND|OPTERR|HOSTNAME|HOSTTYPE|MACHTYPE|"
          r"OSTYPE|COLUMNS|LINES|COURSE_SHEET_.*|MAKEFLAGS|MFLAGS|MAKELEVEL|"
          r"MAKEOVERRIDES")


def scale():
    s = os.environ.get("COURSE_TIME_SCALE", "1")
    return int(s) if s.isdigit() and int(s) > 0 else 1


class Block:
    """One fenced block or hidden command of a sheet."""

    def __init__(self, num, line, lang, info, text):
        self.num, self.line, self.lang, self.info = num, line, lang, info
        self.text = text
        self.kind = None      # run, server, norun, out, outserver, textnorun, hidden, stop, other
        self.status = 0
        self.timeout = 120
        self.reason = ""
        self.ref = None       # an output block: the command block it shows
        self.step = None      # the ### step of ## Steps it sits in

    def first_line(self):
        for ln in self.text.splitlines():
            if ln.strip():
                return ln.strip() if len(ln.strip()) <= 60 else ln.strip()[:57] + "..."
        return "(empty)"


def parse(path):
    """The blocks, the headings and the problems of a sheet."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, heads, problems = [], [], []
    i, num = 0, 0
    section, step = None, None
    while i < len(lines):
        ln = lines[i]
        m = FENCE_RE.match(ln)
        if m:
            indent, fence, info = len(m.group(1)), m.group(2), m.group(3).strip()
            start = i + 1
            body = []
            i += 1
            while i < len(lines):
                c = lines[i].strip()
                if c.startswith(fence[0] * len(fence)) and set(c) == {fence[0]}:
                    break
                ln = lines[i]
                body.append(ln[min(indent, len(ln) - len(ln.lstrip(" "))):])
                i += 1
            if i >= len(lines):
                problems.append((start, "block not closed: a fence opened here has no end"))
            num += 1
            words = info.split(None, 1)
            lang = words[0] if words else ""
            b = Block(num, start, lang, words[1] if len(words) > 1 else "", "\n".join(body))
            b.step = step if section == "Steps" else None
            classify(b, problems)
            blocks.append(b)
            i += 1
            continue
        h = HIDDEN_RE.match(ln)
        if h:
            b = Block(0, i + 1, "", "", h.group(2).strip())
            b.kind = "hidden" if h.group(1) == "run" else "stop"
            b.step = step if section == "Steps" else None
            if b.kind == "hidden" and not b.text:
                problems.append((i + 1, "<!-- sheet: run --> without a command"))
            blocks.append(b)
        elif ln.startswith("#"):
            hm = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", ln)
            if hm:
                level, title = len(hm.group(1)), hm.group(2)
                heads.append((level, title, i + 1))
                if level == 2:
                    section, step = title, None
                elif level == 3 and section == "Steps":
                    step = title
        i += 1
    link_outputs(blocks, problems)
    return lines, blocks, heads, problems


def classify(b, problems):
    info = b.info
    if b.lang in CMD_LANGS:
        m = re.match(r"^run(=server)?(?:\s+(.*))?$", info)
        if m:
            b.kind = "server" if m.group(1) else "run"
            if m.group(1):
                b.timeout = 60
            for opt in (m.group(2) or "").split():
                o = re.match(r"^(status|timeout)=(\d+)$", opt)
                if not o or (m.group(1) and o.group(1) == "status"):
                    b.kind = "bad"
                    problems.append((b.line, f"block {b.num}: unknown option '{opt}' after {info.split()[0]} "
                                     "(run, run status=N, run timeout=S, run=server, run=server timeout=S)"))
                elif o.group(1) == "status":
                    b.status = int(o.group(2))
                else:
                    b.timeout = int(o.group(2))
        elif re.match(r"^norun\s+\S", info):
            b.kind, b.reason = "norun", info.split(None, 1)[1]
        elif info == "norun":
            b.kind = "norun"
            problems.append((b.line, f"block {b.num}: norun without a reason (```{b.lang} norun REASON)"))
        else:
            b.kind = "unmarked"
            problems.append((b.line, f"block {b.num}: ```{b.lang} {info}".rstrip() +
                             " is not marked: write ```sh run, run status=N, run=server or norun REASON"))
    elif b.lang == "text" and info:
        if info == "from-run":
            b.kind = "out"
        elif info == "from-run=server":
            b.kind = "outserver"
        elif re.match(r"^norun\s+\S", info):
            b.kind, b.reason = "textnorun", info.split(None, 1)[1]
        else:
            b.kind = "other"
            problems.append((b.line, f"block {b.num}: ```text {info}: unknown marker "
                             "(from-run, from-run=server, norun REASON)"))
    else:
        b.kind = "other"


def link_outputs(blocks, problems):
    last_cmd, last_server = None, None
    for b in blocks:
        if b.kind in ("run", "norun", "unmarked", "bad"):
            last_cmd = b
        elif b.kind == "server":
            last_cmd = last_server = b
        elif b.kind == "out":
            if last_cmd is None:
                problems.append((b.line, f"block {b.num}: ```text from-run with no command block before it"))
            elif last_cmd.kind == "server":
                problems.append((b.line, f"block {b.num}: ```text from-run after a run=server block "
                                 f"(block {last_cmd.num}): write from-run=server"))
            elif last_cmd.kind != "run":
                problems.append((b.line, f"block {b.num}: ```text from-run: the command block before it "
                                 f"(block {last_cmd.num}, line {last_cmd.line}) is not a run block"))
            else:
                b.ref = last_cmd
        elif b.kind == "outserver":
            if last_server is None:
                problems.append((b.line, f"block {b.num}: ```text from-run=server with no run=server block before it"))
            else:
                b.ref = last_server


def check_structure(lines, heads, sheet, root):
    """Problems with the headings, the core path table, the exercises."""
    problems = []
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None or not re.match(r"^# \S", lines[first]):
        problems.append((1, "the sheet must start with its title line (# NN · Title)"))
    h1 = [h for h in heads if h[0] == 1]
    if len(h1) > 1:
        for h in h1[1:]:
            problems.append((h[2], f"a second title line '# {h[1]}': only one # heading"))
    h2 = [h for h in heads if h[0] == 2]

    def tindex(title):
        if CORE_RE.match(title):
            return TEMPLATE.index("Core path (about N minutes)")
        return TEMPLATE.index(title) if title in TEMPLATE else None
    seen = {}
    known = []
    for level, title, ln in h2:
        k = tindex(title)
        if k is None:
            hint = ""
            if title.startswith("Core path"):
                hint = " (write: ## Core path (about N minutes))"
            problems.append((ln, f"extra heading '## {title}': not a template heading{hint}; "
                             "use ### inside a template section"))
        elif k in seen:
            problems.append((ln, f"heading '## {title}' again (first at line {seen[k]})"))
        else:
            seen[k] = ln
            known.append((k, title, ln))
    # the longest run in template order; the others are out of order
    n = len(known)
    best = [1] * n
    prev = [-1] * n
    for a in range(n):
        for b in range(a):
            if known[b][0] < known[a][0] and best[b] + 1 > best[a]:
                best[a], prev[a] = best[b] + 1, b
    keep = set()
    if n:
        a = max(range(n), key=lambda x: best[x])
        while a >= 0:
            keep.add(a)
            a = prev[a]
    for a in range(n):
        if a not in keep:
            k, title, ln = known[a]
            want = TEMPLATE[k - 1] if k > 0 else None
            where = f"after '## {want}'" if want else "first"
            problems.append((ln, f"heading '## {title}' out of order: it comes {where} in the template"))
    for k, t in enumerate(TEMPLATE):
        if k not in seen:
            problems.append((0, f"missing heading '## {t}'"))
    # the core path: its table's minutes add up to N, N <= 120
    core = next((h for h in h2 if CORE_RE.match(h[1])), None)
    if core:
        total = int(CORE_RE.match(core[1]).group(1))
        if total > 120:
            problems.append((core[2], f"core path of {total} minutes: at most 120"))
        nxt = next((h[2] for h in h2 if h[2] > core[2]), len(lines) + 1)
        mins, said, rows = 0, None, 0
        for ln in lines[core[2]:nxt - 1]:
            cells = [c.strip() for c in ln.strip().strip("|").split("|")] if ln.strip().startswith("|") else []
            if len(cells) < 2 or re.match(r"^:?-+:?$", cells[0]):
                continue
            num = re.sub(r"[*_]", "", cells[1])
            if not num.isdigit():
                continue
            if "total" in cells[0].lower():
                said = int(num)
            else:
                mins += int(num)
                rows += 1
        if rows == 0:
            problems.append((core[2], "core path: no table rows with minutes (| step | minutes | what you do |)"))
        elif mins != total:
            problems.append((core[2], f"core path: the steps' minutes add up to {mins}, the heading says {total}"))
        if said is not None and said != mins:
            problems.append((core[2], f"core path: the total row says {said}, the steps add up to {mins}"))
    # exercises: ### NN-K, each names make check-NN-K, its checker exists
    ex = next((h for h in h2 if h[1] == "Exercises in C"), None)
    if ex:
        nxt = next((h[2] for h in h2 if h[2] > ex[2]), len(lines) + 1)
        subs = [h for h in heads if h[0] == 3 and ex[2] < h[2] < nxt]
        for idx, (level, title, ln) in enumerate(subs):
            m = re.match(r"^(\d\d-\d+)\b", title)
            if not m:
                problems.append((ln, f"exercise '### {title}': start with its name, ### NN-K title"))
                continue
            name = m.group(1)
            end = subs[idx + 1][2] if idx + 1 < len(subs) else nxt
            body = "\n".join(lines[ln:end - 1])
            if f"make check-{name}" not in body:
                problems.append((ln, f"exercise {name}: its text does not say `make check-{name}`"))
            if root and not os.path.isfile(os.path.join(root, "tests", "exercises", f"{name}.sh")):
                problems.append((ln, f"exercise {name}: no checker tests/exercises/{name}.sh"))
    return problems


# ---- matching -----------------------------------------------------------------

def line_re(exp):
    parts = MASK_RE.split(exp)
    return re.compile(".*".join(re.escape(p) for p in parts) + r"\Z", re.S)


def clean_actual(text, san):
    out = ANSI_RE.sub("", text).replace("\r", "")
    if san:
        out = out.replace("build/san/", "build/")
    lines = [ln.rstrip() for ln in out.split("\n")]
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def clean_expected(text):
    lines = [ln.rstrip() for ln in text.split("\n")]
    lines = [ln for ln in lines if not (ln.startswith("$ ") or ln == "$")]
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def match(expected, actual):
    """None when they match, else a few lines saying where they part."""
    ne, na = len(expected), len(actual)
    regs = [None if e.strip() == CUT else line_re(e) for e in expected]
    # reach[i]: the set of j such that expected[:i] matches actual[:j]
    reach = [set() for _ in range(ne + 1)]
    reach[0].add(0)
    for i in range(ne):
        if not reach[i]:
            break
        if regs[i] is None:
            lo = min(reach[i])
            reach[i + 1].update(range(lo, na + 1))
        else:
            for j in reach[i]:
                if j < na and regs[i].match(actual[j]):
                    reach[i + 1].add(j + 1)
    if na in reach[ne]:
        return None
    i = max(k for k in range(ne + 1) if reach[k])
    j = max(reach[i])
    out = []
    if i == ne:
        out.append(f"  the output has {na - j} more line(s) than the block, from output line {j + 1}:")
    else:
        out.append(f"  block line {i + 1} does not match output line {j + 1}" if j < na else
                   f"  block line {i + 1} is missing: the output ends after {na} line(s)")
    for k in range(max(0, i - 2), min(ne, i + 3)):
        out.append(f"  {'>' if k == i else ' '} want {k + 1:3}: {expected[k]}")
    for k in range(max(0, j - 2), min(na, j + 3)):
        out.append(f"  {'>' if k == j else ' '} got  {k + 1:3}: {actual[k]}")
    return "\n".join(out)


# ---- running ------------------------------------------------------------------

def copy_tree(root, dest):
    """The tracked and untracked-not-ignored files of root, and its build/."""
    files = None
    if shutil.which("git"):
        r = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                           capture_output=True)
        if r.returncode == 0:
            files = [f for f in r.stdout.decode().split("\0") if f]
    if files is None:
        shutil.copytree(root, dest, symlinks=True, ignore=shutil.ignore_patterns("build"))
    else:
        os.makedirs(dest)
        files = sorted({f for f in files if os.path.lexists(os.path.join(root, f))
                        and not f.startswith("build/")})
        lst = os.path.join(os.path.dirname(dest), "files")
        with open(lst, "wb") as f:
            f.write(b"\0".join(x.encode() for x in files))
        subprocess.run(f"tar -C {sh_q(root)} --null -T {sh_q(lst)} -cf - | tar -C {sh_q(dest)} -xf -",
                       shell=True, check=True)
    build = os.path.join(root, "build")
    if os.path.isdir(build):
        # what a sheet cannot need: the fuzzers (73 MB), the mutation copy, benchmarks, captures
        # made before, and the other lane's build (build/san/ only under SAN=1)
        skip = {"fuzz", "bench", "captures", "instructor", "mutate"}
        if os.environ.get("SAN", "0") != "1":
            skip.add("san")
        os.makedirs(os.path.join(dest, "build"))
        keep = [os.path.join(build, e) for e in sorted(os.listdir(build)) if e not in skip]
        if keep:
            subprocess.run(["cp", "-a", *keep, os.path.join(dest, "build")], check=True)


def files_outside_build(tree):
    """Every file under tree but build/ (and Python's __pycache__), relative."""
    found = set()
    for d, dirs, files in os.walk(tree):
        rel = os.path.relpath(d, tree)
        if rel == ".":
            dirs[:] = [x for x in dirs if x != "build"]
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in files:
            found.add(os.path.normpath(os.path.join(rel, f)))
    return found


def sh_q(s):
    return "'" + s.replace("'", "'\\''") + "'"


def marked_pids(prefix):
    """Processes whose environment carries MARK=prefix... (pid, cmdline)."""
    found = []
    want = f"{MARK}={prefix}".encode()
    me = os.getpid()
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read().split(b"\0")
            if not any(e.startswith(want) for e in env):
                continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append((int(d), cmd or "?"))
        except OSError:
            continue
    return found


def kill_group(p, grace=5.0):
    """SIGTERM to the process group of Popen p (its leader), SIGKILL after grace."""
    def alive():
        p.poll()
        try:
            os.killpg(p.pid, 0)
            return True
        except ProcessLookupError:
            return False
    if not alive():
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            return
        end = time.time() + wait
        while time.time() < end:
            if not alive():
                return
            time.sleep(0.05)


def kill_marked(prefix):
    """Stop every process carrying the marker; returns those found."""
    left = marked_pids(prefix)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in marked_pids(prefix):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        end = time.time() + 2
        while time.time() < end and marked_pids(prefix):
            time.sleep(0.05)
    return left


class Runner:
    def __init__(self, name, tree, work, san, keep_going):
        self.name, self.tree, self.work = name, tree, work
        self.san, self.keep_going = san, keep_going
        self.state = os.path.join(work, "state.sh")
        self.runid = secrets.token_hex(6)
        self.servers = []      # (block, Popen, log path, marker), stopped ones too
        self.stopped_tags = set()
        self.outputs = {}      # block number -> output lines
        self.failed = False
        self.stopped = False   # a command block failed: the rest is not run
        self.env = self.make_env()

    def make_env(self):
        env = dict(os.environ)
        for k in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
            env.pop(k, None)
        root = os.environ.get("SHEET_ROOT_REAL", "")
        for k in ("COURSE_BIN", "BIN", "COURSE_ROOT"):
            v = env.get(k)
            if v and root and (v == root or v.startswith(root + "/")):
                env[k] = self.tree + v[len(root):]
        return env

    def script(self, b, save):
        path = os.path.join(self.work, f"block{b.num or 'h'}-{b.line}.sh")
        with open(path, "w") as f:
            f.write(f"cd {sh_q(self.tree)}\n")
            f.write(f"[[ -f {sh_q(self.state)} ]] && source {sh_q(self.state)}\n")
            if save:
                f.write("__sheet_save() {\n  local __sheet_rc=$1\n  set +e\n"
                        "  { declare -p $(compgen -v | grep -vxE '" + NOSAVE + "') 2>/dev/null\n"
                        "    declare -f\n    printf 'cd %q\\n' \"$PWD\"\n"
                        f"  }} >{sh_q(self.state)}.new && mv {sh_q(self.state)}.new {sh_q(self.state)}\n"
                        "  exit \"$__sheet_rc\"\n}\n"
                        "trap '__sheet_save $?' EXIT\n")
            f.write("set -eo pipefail\n")
            f.write(b.text + "\n")
        return path

    def say(self, ok, b, what, detail=None):
        where = f"block {b.num} (line {b.line})" if b.num else f"hidden command (line {b.line})"
        print(f"{'PASS' if ok else 'FAIL'}: sheet {self.name}: {where}: {what}", flush=True)
        if detail:
            print(detail, flush=True)
        if not ok:
            self.failed = True

    def spawn(self, b, what):
        """Start block b in bash, in its own session, its output to a file."""
        tag = f"{self.runid}:{b.num}:{b.line}:"
        log = os.path.join(self.work, f"{what}{b.num}-{b.line}.log")
        with open(log, "wb") as out:
            p = subprocess.Popen(["bash", "--noprofile", "--norc", self.script(b, what == "out")],
                                 cwd=self.tree, stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, env=dict(self.env, **{MARK: tag}),
                                 start_new_session=True)
        return p, log, tag, b.timeout * scale()

    def run_cmd(self, b):
        t0 = time.time()
        p, log, tag, limit = self.spawn(b, "out")
        try:
            rc = p.wait(timeout=limit)
            timed_out = False
        except subprocess.TimeoutExpired:
            kill_group(p)
            rc = p.wait()
            timed_out = True
        secs = time.time() - t0
        with open(log, "rb") as f:
            text = f.read().decode(errors="replace")
        self.outputs[b.num] = clean_actual(text, self.san)
        what = f"`{b.first_line()}`"
        tail = "\n".join("  | " + ln for ln in self.outputs[b.num][-15:])
        # what the block started and left behind (a stray): a fail, and stopped
        stray = marked_pids(tag)
        if stray:
            time.sleep(0.5)
            stray = marked_pids(tag)
        if stray:
            kill_group(p, 1)
            kill_marked(tag)
        report = next((ln for ln in self.outputs[b.num] if SANITIZER_RE.search(ln)), None)
        if timed_out:
            self.say(False, b, f"{what} timed out after {limit} s (run timeout=S for a longer limit)", tail)
        elif report:
            self.say(False, b, f"{what}: a sanitizer report: {report.strip()[:120]}", tail)
        elif rc != b.status:
            self.say(False, b, f"{what} exited with status {rc}, expected {b.status}", tail)
        elif stray:
            self.say(False, b, f"{what} left processes running (start a server with ```sh run=server): " +
                     "; ".join(f"{pid} {cmd[:60]}" for pid, cmd in stray))
        else:
            self.say(True, b, f"{what} exit {rc} ({secs:.1f} s)")
            return secs
        if not self.keep_going:
            self.stopped = True
        return secs

    def start_server(self, b):
        t0 = time.time()
        p, log, tag, limit = self.spawn(b, "server")
        self.servers.append((b, p, log, tag))
        what = f"server `{b.first_line()}`"
        while True:
            with open(log, "rb") as f:
                text = f.read().decode(errors="replace")
            if LISTENING in ANSI_RE.sub("", text):
                self.say(True, b, f"{what} is listening ({time.time() - t0:.1f} s)")
                return time.time() - t0
            if p.poll() is not None:
                tail = "\n".join("  | " + ln for ln in clean_actual(text, self.san)[-15:])
                self.say(False, b, f"{what} exited with status {p.returncode} before it said '{LISTENING}'", tail)
                break
            if time.time() - t0 > limit:
                tail = "\n".join("  | " + ln for ln in clean_actual(text, self.san)[-15:])
                self.say(False, b, f"{what} did not say '{LISTENING}' within {limit} s", tail)
                break
            time.sleep(0.05)
        if not self.keep_going:
            self.stopped = True
        return time.time() - t0

    def server_output(self, ref):
        for b, p, log, tag in self.servers:
            if b is ref:
                with open(log, "rb") as f:
                    return clean_actual(f.read().decode(errors="replace"), self.san)
        return None

    def stop_servers(self):
        for b, p, log, tag in self.servers:
            if tag in self.stopped_tags:
                continue
            self.stopped_tags.add(tag)
            if p.poll() is None:
                kill_group(p)
            p.wait()
            left = kill_marked(tag)
            if left:
                self.say(False, b, "processes outlived the server's process group: " +
                         "; ".join(f"{pid} {cmd[:60]}" for pid, cmd in left))
            report = next((ln for ln in self.server_output(b) if SANITIZER_RE.search(ln)), None)
            if report:
                self.say(False, b, f"the server's output has a sanitizer report: {report.strip()[:120]}")

    def compare(self, b, expected_text):
        exp = clean_expected(expected_text)
        if b.kind == "out":
            act = self.outputs.get(b.ref.num)
            src = f"block {b.ref.num}"
            if act is None:
                self.say(False, b, f"output of {src}: that block did not run")
                return
            diff = match(exp, act)
        else:
            src = f"server block {b.ref.num}"
            # the server may write its line a moment after the client is done
            end = time.time() + 5 * scale()
            while True:
                act = self.server_output(b.ref)
                if act is None:
                    self.say(False, b, f"output of {src}: that server did not start")
                    return
                diff = match(exp, act)
                if diff is None or time.time() > end:
                    break
                time.sleep(0.1)
        if diff is None:
            self.say(True, b, f"output of {src} matches ({len(exp)} line(s))")
        else:
            self.say(False, b, f"output of {src} does not match", diff)


def in_namespace_run(args, sheet, name, blocks, only):
    """Run the blocks of one sheet (we are in its network namespace)."""
    root = os.environ["SHEET_ROOT_REAL"]
    base = tempfile.mkdtemp(prefix=f"sheet-{name}.")
    tree = os.path.join(base, "tree")
    work = os.path.join(base, "work")
    os.makedirs(work)
    t0 = time.time()
    try:
        copy_tree(root, tree)
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise
    copy_secs = time.time() - t0
    print(f"TIME: sheet {name}: scratch copy of {root} (files and build/): {copy_secs:.1f} s", flush=True)
    before = files_outside_build(tree)
    san = os.environ.get("SAN", "0") == "1"
    r = Runner(name, tree, work, san, args.keep_going)
    steps = {}
    order = []
    t_all = time.time()
    try:
        for b in blocks:
            if r.stopped:
                if b.kind in ("run", "server", "hidden", "out", "outserver"):
                    where = f"block {b.num}" if b.num else "hidden command"
                    print(f"INFO: sheet {name}: {where} (line {b.line}): not run after the failure above")
                continue
            t = 0.0
            chosen = only is None or b.num in only
            if b.kind == "run" and chosen:
                t = r.run_cmd(b)
            elif b.kind == "hidden" and only is None:
                t = r.run_cmd(b)
            elif b.kind == "server" and chosen:
                t = r.start_server(b)
            elif b.kind == "stop":
                r.stop_servers()
            elif b.kind in ("out", "outserver") and b.ref is not None:
                if only is None or b.ref.num in only:
                    t0 = time.time()
                    r.compare(b, b.text)
                    t = time.time() - t0
            if b.step is not None:
                if b.step not in steps:
                    steps[b.step] = 0.0
                    order.append(b.step)
                steps[b.step] += t
    finally:
        r.stop_servers()
        left = kill_marked(r.runid)
        if left:
            r.failed = True
            print(f"FAIL: sheet {name}: processes outlived the sheet: " +
                  "; ".join(f"{pid} {cmd[:60]}" for pid, cmd in left), flush=True)
        # a student's scratch files go under build/, never among the course's files
        strays = sorted(files_outside_build(tree) - before)
        if strays:
            r.failed = True
            print(f"FAIL: sheet {name}: the sheet left files outside build/ (scratch files go under build/): " +
                  ", ".join(strays[:8]) + (f" and {len(strays) - 8} more" if len(strays) > 8 else ""),
                  flush=True)
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    for s in order:
        print(f"TIME: sheet {name}: step '{s}': {steps[s]:.1f} s", flush=True)
    print(f"TIME: sheet {name}: all blocks: {time.time() - t_all:.1f} s", flush=True)
    if args.keep:
        print(f"INFO: sheet {name}: the scratch copy is kept in {tree}", flush=True)
    return 1 if r.failed else 0


def sheet_name(path):
    d = os.path.basename(os.path.dirname(os.path.abspath(path)))
    m = re.match(r"^(\d\d)_", d)
    if m and os.path.basename(path) == "README.md":
        return m.group(1)
    return os.path.splitext(os.path.basename(path))[0]


def parse_only(s):
    if s is None:
        return None
    out = set()
    for part in s.split(","):
        m = re.match(r"^(\d+)(?:-(\d+))?$", part.strip())
        if not m:
            sys.exit(f"sheet.py: error: --only {s}: write numbers and ranges, e.g. 3,5-7")
        a = int(m.group(1))
        out.update(range(a, int(m.group(2) or a) + 1))
    return out


def list_blocks(name, blocks):
    for b in blocks:
        where = f"block {b.num:3} line {b.line:4}" if b.num else f"hidden    line {b.line:4}"
        what = {
            "run": f"run (status {b.status}, limit {b.timeout} s): {b.first_line()}",
            "server": f"server (waits for '{LISTENING}'): {b.first_line()}",
            "norun": f"not run ({b.reason}): {b.first_line()}",
            "unmarked": f"UNMARKED ```{b.lang} {b.info}".rstrip(),
            "bad": f"NOT RUN, bad marker ```{b.lang} {b.info}",
            "out": f"output of block {b.ref.num if b.ref else '?'}",
            "outserver": f"output of server block {b.ref.num if b.ref else '?'}",
            "textnorun": f"output, not compared ({b.reason})",
            "hidden": f"hidden command: {b.first_line()}",
            "stop": "stop the servers",
            "other": f"```{b.lang}: shown only",
        }[b.kind]
        step = f"  [step {b.step}]" if b.step else ""
        print(f"{name}: {where}: {what}{step}")


def netns_ok():
    if os.geteuid() != 0:
        return "not root: unshare -n needs root"
    r = subprocess.run(["unshare", "-n", "true"], capture_output=True, text=True)
    if r.returncode != 0:
        return f"unshare -n failed: {r.stderr.strip()}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 usage=argparse.SUPPRESS)
    ap.add_argument("--root", help="the tree to copy (default: the git top level of the sheet)")
    ap.add_argument("--list", action="store_true", help="print the blocks, run nothing")
    ap.add_argument("--only", help="run only these command blocks: 3,5-7")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    ap.add_argument("--keep-going", action="store_true", help="go on after a failed command block")
    ap.add_argument("--no-run", action="store_true", help="check structure and markup only")
    ap.add_argument("--in-netns", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("sheets", nargs="+", metavar="SHEET.md")
    args = ap.parse_args()
    only = parse_only(args.only)
    # stopped (timeout, Ctrl-C): the finally blocks stop what the sheet started
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *a: sys.exit(130))

    if args.in_netns:
        # the child: one sheet, in its own network namespace
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
        sheet = args.sheets[0]
        lines, blocks, heads, problems = parse(sheet)
        return in_namespace_run(args, sheet, sheet_name(sheet), blocks, only)

    rc = 0
    why = None if args.list or args.no_run else netns_ok()
    for sheet in args.sheets:
        name = sheet_name(sheet)
        if not os.path.isfile(sheet):
            print(f"FAIL: sheet {name}: no such file: {sheet}")
            rc = 1
            continue
        root = args.root
        if root is None:
            g = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(sheet)), "rev-parse",
                                "--show-toplevel"], capture_output=True, text=True)
            root = g.stdout.strip() if g.returncode == 0 else os.getcwd()
        root = os.path.abspath(root)
        lines, blocks, heads, problems = parse(sheet)
        if args.list:
            list_blocks(name, blocks)
            continue
        problems = check_structure(lines, heads, sheet, root) + problems
        if problems:
            for ln, msg in sorted(problems, key=lambda x: x[0]):
                print(f"FAIL: sheet {name}: {'line %d: ' % ln if ln else ''}{msg}", flush=True)
            rc = 1
        else:
            print(f"PASS: sheet {name}: headings, core path, exercises and markup follow the template", flush=True)
        if args.no_run:
            continue
        if why:
            print(f"SKIP: sheet {name}: cannot run the sheet in its own network namespace: {why}")
            return 77
        if os.path.isfile(os.path.join(root, "Makefile")) and os.path.isdir(os.path.join(root, "build")):
            q = subprocess.run(["make", "-q", "-C", root, "all"], capture_output=True,
                               env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")})
            if q.returncode != 0:
                print(f"INFO: sheet {name}: the build in {root} is not up to date, so a `make` in the "
                      f"sheet rebuilds it in the copy (slow): run `make -j2` in {root} first", flush=True)
        cmd = ["unshare", "-n", "--", sys.executable, os.path.abspath(__file__), "--in-netns"]
        if args.only:
            cmd += ["--only", args.only]
        if args.keep:
            cmd.append("--keep")
        if args.keep_going:
            cmd.append("--keep-going")
        cmd.append(os.path.abspath(sheet))
        env = dict(os.environ, SHEET_ROOT_REAL=root)
        child = subprocess.Popen(cmd, env=env, cwd=root)
        try:
            code = child.wait()
        finally:
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    child.kill()
        if code != 0:
            if code != 1:
                print(f"FAIL: sheet {name}: the runner stopped with status {code}")
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
