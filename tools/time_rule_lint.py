#!/usr/bin/python3
"""Lint for Sallyport's rule for time (docs/architecture.md, "Time").

A thread that waits with a timeout waits on base::SteadyMutex, not on
absl::Mutex, absl::CondVar or absl::Notification: Debian's Abseil 20220623
sleeps until an absolute CLOCK_REALTIME deadline, so a step of the wall
clock stretches the wait. Nor does it wait on a std::chrono::system_clock
deadline (std::condition_variable and the like), which a step moves too.

Usage:
  time_rule_lint.py [--root DIR]          the product sources under DIR
  time_rule_lint.py [--root DIR] FILE...  just these files (relative to DIR)

DIR is the repository holding this script unless given.

The product sources are the .cc and .h files under base/ ssh/ ca/ gateway/
audit/ storage/ cli/, except tests and what only tests build (a file whose
name, split at "_", has the word test, tests, testing, fuzz or bench:
foo_test.cc, foo_test_util.h, test_peer.cc, foo_fuzz.cc, fuzz_input.h,
foo_bench.cc; anything under a tests/ or testdata/ directory) and
base/steady_mutex.*, where the control lives.

It fails, naming FILE:LINE and the rule, on:
  - any use of absl's timed waits: {Await,LockWhen,ReaderLockWhen,
    WriterLockWhen,WaitForNotification,Wait}With{Timeout,Deadline}, except
    AwaitWithTimeout/AwaitWithDeadline called on an object declared as a
    base::SteadyMutex (looked up in the file and the project headers it
    includes, in the enclosing function, then the enclosing class);
  - a wait_until/wait_for/try_lock_until/try_lock_for/sleep_until call
    given a system_clock (or absl::ToChronoTime) time, written in the call
    or held in a variable the file sets from one.

Opt-out, when the wall clock is truly intended: a comment on a line of the
wait's statement, or in the block of // comment lines right above it,
  // time-rule: wall clock intended because <the reason, three words or more>
A marker without a reason, or one with nothing to opt out, fails too.
"""

import argparse
import os
import re
import sys

PRODUCT_DIRS = ("base", "ssh", "ca", "gateway", "audit", "storage", "cli")
CONTROL = ("base/steady_mutex.h", "base/steady_mutex.cc")
TEST_WORDS = {"test", "tests", "testing", "fuzz", "bench"}
TEST_DIRS = {"tests", "testdata"}

RULE_ABSL = (
    "[absl-timed-wait] {name} waits until a wall-clock deadline (Debian's "
    "Abseil 20220623 sleeps on CLOCK_REALTIME, so a clock step stretches "
    "the wait): wait on base::SteadyMutex (base/steady_mutex.h); "
    "docs/architecture.md, Time")
RULE_UNKNOWN = (
    "[unknown-receiver] {name} on '{recv}', which is not declared as a "
    "base::SteadyMutex here or in the headers this file includes ({why}): "
    "an absl::Mutex waits until a wall-clock deadline; "
    "docs/architecture.md, Time")
RULE_CHRONO = (
    "[wall-clock-chrono] {name} with a system_clock time waits on the wall "
    "clock, which a clock step moves: use std::chrono::steady_clock or "
    "base::SteadyMutex; docs/architecture.md, Time")
RULE_MARKER = (
    "[marker-no-reason] a time-rule opt-out needs the form 'time-rule: wall "
    "clock intended because <reason>', the reason three words or more")
RULE_STALE = (
    "[marker-unused] a time-rule opt-out with no timed wait to opt out in "
    "its statement or the one below its comment")

ABSL_TIMED = re.compile(
    r"\b((?:Await|LockWhen|ReaderLockWhen|WriterLockWhen|WaitForNotification"
    r"|Wait)With(?:Timeout|Deadline))\b")
STEADY_OK = {"AwaitWithTimeout", "AwaitWithDeadline"}
CHRONO_WAIT = re.compile(
    r"(?:\.|->|::)\s*(wait_until|wait_for|try_lock_until|try_lock_for"
    r"|sleep_until)\s*\(")
WALL_TIME = re.compile(r"\bsystem_clock\b|\bhigh_resolution_clock\b"
                       r"|\bToChronoTime\b")
MARKER = re.compile(r"time-rule\b")
MARKER_FULL = re.compile(
    r"time-rule:\s*wall clock intended because\s+(.*)$")
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"', re.M)
CLASS = re.compile(
    r"\b(?:class|struct)\s+(?:ABSL_\w+(?:\([^()]*\))?\s+)*(\w+)"
    r"(?:\s+final)?\s*(?::[^;{}()]*)?\{")
KEYWORDS = {"return", "else", "case", "new", "delete", "throw", "co_return",
            "co_await", "co_yield", "goto", "sizeof", "decltype", "typedef",
            "using", "operator"}


def strip_code(text):
    """Text with comments and string/char literals blanked (lines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and text.startswith('R"', i) and (
                i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\ ]{0,16})\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i + m.end())
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append('""' + re.sub(r"[^\n]", " ", text[i + 2:j]))
            i = j
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():
                out.append(c)  # a digit separator: 1'000'000
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(c + " " * (j - i - 2) + c if j - i >= 2 else c)
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def line_of(text, pos):
    return text.count("\n", 0, pos) + 1


def matching(text, open_pos, opener="(", closer=")"):
    """Index just past the bracket matching text[open_pos], or len(text)."""
    depth = 0
    for i in range(open_pos, len(text)):
        if text[i] == opener:
            depth += 1
        elif text[i] == closer:
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


class Source:
    """One file: raw lines, stripped text, class extents."""

    def __init__(self, root, rel):
        self.rel = rel
        with open(os.path.join(root, rel), encoding="utf-8",
                  errors="replace") as f:
            self.raw = f.read()
        self.code = strip_code(self.raw)
        self.raw_lines = self.raw.split("\n")
        self.code_lines = self.code.split("\n")
        self.classes = []  # (name, first line, last line)
        for m in CLASS.finditer(self.code):
            end = matching(self.code, m.end() - 1, "{", "}")
            self.classes.append((m.group(1), line_of(self.code, m.start()),
                                 line_of(self.code, end)))

    def class_at(self, line):
        """The innermost class whose body holds `line`, or None."""
        best = None
        for name, first, last in self.classes:
            if first <= line <= last and (best is None or first >= best[1]):
                best = (name, first, last)
        return best[0] if best else None

    def function_start(self, line):
        """The line that starts the definition holding `line`: the nearest
        line above it that starts in column 0 with code."""
        for ln in range(line, 0, -1):
            s = self.code_lines[ln - 1]
            if s[:1] and not s[:1].isspace() and s[0] not in "}#":
                return ln
        return 1

    def method_class(self, line):
        """For a member function defined out of line (Foo::Bar(...) {), Foo;
        for one defined in its class, that class."""
        inner = self.class_at(line)
        if inner:
            return inner
        start = self.function_start(line)
        head = "\n".join(self.code_lines[start - 1:line])
        m = re.search(r"(\w+)\s*::\s*~?\w+\s*\(", head)
        return m.group(1) if m else None


class Linter:

    def __init__(self, root):
        self.root = root
        self.cache = {}
        self.findings = []  # (rel, line, message)
        self.steady_calls = 0

    def source(self, rel):
        if rel not in self.cache:
            self.cache[rel] = Source(self.root, rel)
        return self.cache[rel]

    def declarations(self, src, name):
        """(line, is_steady) of each declaration of `name` in `src`."""
        found = []
        decl = re.compile(
            r"(?<![\w:<>.-])([\w:<>]*\w>?)(?:\s+|\s*[*&]\s*)(?:const\s+)?" +
            re.escape(name) +
            r"\b\s*(?=[;,)=\[{(]|ABSL_)")
        for m in decl.finditer(src.code):
            type_ = m.group(1)
            if type_ in KEYWORDS or type_.endswith("::") or type_[0].isdigit():
                continue
            found.append((line_of(src.code, m.start(1)),
                          re.search(r"\bSteadyMutex\b", type_) is not None))
        return found

    def receiver_is_steady(self, src, line, recv):
        """(True, None) when `recv` at `line` is a base::SteadyMutex, else
        (False, why)."""
        # The enclosing function: a parameter or a local declared above.
        start = src.function_start(line)
        local = [d for d in self.declarations(src, recv)
                 if start <= d[0] <= line and src.class_at(d[0]) ==
                 src.class_at(line)]
        if local:
            return (True, None) if local[-1][1] else (
                False, "declared above with another type")
        # A member of the enclosing class, in this file or its headers.
        files = [src] + [self.source(inc) for inc in INCLUDE.findall(src.raw)
                         if os.path.isfile(os.path.join(self.root, inc))]
        decls = []  # (class or None, is_steady)
        for f in files:
            for ln, steady in self.declarations(f, recv):
                decls.append((f.class_at(ln), steady))
        if not decls:
            return False, "no declaration found"
        cls = src.method_class(line)
        in_class = [d for d in decls if cls and d[0] == cls]
        pick = in_class or decls
        kinds = {steady for _, steady in pick}
        if kinds == {True}:
            return True, None
        if kinds == {False}:
            return False, "declared with another type"
        return False, "declared with different types; cannot tell which"

    def add(self, src, line, message):
        self.findings.append((src.rel, line, message))

    def check(self, rel):
        src = self.source(rel)
        flagged = {}  # line -> messages
        for m in ABSL_TIMED.finditer(src.code):
            name = m.group(1)
            line = line_of(src.code, m.start())
            if name in STEADY_OK:
                before = src.code[:m.start()]
                r = re.search(r"(\w+)\s*(?:\.|->)\s*$", before)
                if r:
                    steady, why = self.receiver_is_steady(src, line,
                                                          r.group(1))
                    if steady:
                        self.steady_calls += 1
                        continue
                    msg = RULE_UNKNOWN.format(name=name, recv=r.group(1),
                                              why=why)
                else:
                    msg = RULE_UNKNOWN.format(name=name, recv="(expression)",
                                              why="not a plain name")
            else:
                msg = RULE_ABSL.format(name=name)
            flagged.setdefault(line, []).append(msg)
        wall_vars = self.wall_clock_variables(src)
        for m in CHRONO_WAIT.finditer(src.code):
            args = src.code[m.end() - 1:matching(src.code, m.end() - 1)]
            idents = set(re.findall(r"\b[A-Za-z_]\w*\b", args))
            if WALL_TIME.search(args) or idents & wall_vars:
                line = line_of(src.code, m.start(1))
                flagged.setdefault(line, []).append(
                    RULE_CHRONO.format(name=m.group(1)))
        self.apply_markers(src, flagged)

    def wall_clock_variables(self, src):
        """Names the file declares or sets from a system_clock time."""
        names = set()
        for stmt in re.split(r"[;{}]", src.code):
            if not WALL_TIME.search(stmt):
                continue
            names.update(re.findall(r"\b([A-Za-z_]\w*)\s*(?:=(?!=)|\{)",
                                    stmt))
            names.update(re.findall(r"time_point\s*[&*]?\s*([A-Za-z_]\w*)",
                                    stmt))
        return names - {"now"}

    def apply_markers(self, src, flagged):
        lines = src.raw_lines
        used = set()
        for line in sorted(flagged):
            marker = self.marker_for(src, line)
            if marker is None:
                for msg in flagged[line]:
                    self.add(src, line, msg)
                continue
            used.add(marker[0])
            if not marker[1]:
                self.add(src, marker[0], RULE_MARKER)
        for i, text in enumerate(lines, start=1):
            if not MARKER.search(text) or i in used:
                continue
            reason = self.reason_at(src, i)
            self.add(src, i, RULE_STALE if reason else RULE_MARKER)

    def marker_for(self, src, line):
        """(marker line, has a reason) for the flagged `line`, or None: a
        marker on the line or a later line of its statement (where
        clang-format moves a trailing comment), or in the // comment block
        right above it."""
        cands = [line]
        ln = line
        while not re.search(r"[;{}]", src.code_lines[ln - 1]) and \
                ln < len(src.code_lines):
            ln += 1
            cands.append(ln)
        ln = line - 1
        while ln >= 1 and src.raw_lines[ln - 1].lstrip().startswith("//"):
            cands.append(ln)
            ln -= 1
        for c in cands:
            if MARKER.search(src.raw_lines[c - 1]):
                return c, self.reason_at(src, c)
        return None

    def reason_at(self, src, ln):
        """Whether the marker at `ln` has a reason (the rest of the comment,
        continued on the // lines below it)."""
        text = src.raw_lines[ln - 1]
        m = MARKER_FULL.search(text)
        if not m:
            return False
        words = m.group(1).split()
        nxt = ln + 1
        while nxt <= len(src.raw_lines) and \
                src.raw_lines[nxt - 1].lstrip().startswith("//"):
            words += src.raw_lines[nxt - 1].lstrip()[2:].split()
            nxt += 1
        return len([w for w in words if re.search(r"\w", w)]) >= 3


def is_product(rel):
    parts = rel.split("/")
    if parts[0] not in PRODUCT_DIRS or rel in CONTROL:
        return False
    if not rel.endswith((".cc", ".h")):
        return False
    if TEST_DIRS & set(parts[:-1]):
        return False
    stem = parts[-1].rsplit(".", 1)[0]
    return not TEST_WORDS & set(stem.split("_"))


def product_sources(root):
    out = []
    for top in PRODUCT_DIRS:
        for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
            dirnames.sort()
            for f in sorted(filenames):
                rel = os.path.relpath(os.path.join(dirpath, f), root)
                if is_product(rel):
                    out.append(rel)
    return out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--root", help="the repository (default: the one "
                   "holding this script)",
                   default=os.path.dirname(os.path.dirname(
                       os.path.realpath(__file__))))
    p.add_argument("files", nargs="*",
                   help="files relative to --root (default: the product "
                   "sources)")
    args = p.parse_args(argv)
    files = args.files or product_sources(args.root)
    if not files:
        print(f"time-rule: no product sources under {args.root}",
              file=sys.stderr)
        return 2
    lint = Linter(args.root)
    for rel in files:
        lint.check(rel)
    for rel, line, msg in sorted(lint.findings):
        print(f"{rel}:{line}: {msg}")
    print(f"time-rule: {len(files)} files, {lint.steady_calls} timed waits "
          f"on base::SteadyMutex, {len(lint.findings)} findings",
          file=sys.stderr)
    return 1 if lint.findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
