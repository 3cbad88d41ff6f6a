#!/usr/bin/python3
"""guide_blocks.py GUIDE OUTDIR — the runnable shell blocks of a guide.

The convention (docs/guides/README.md says it for writers):

  - A fenced block whose info string starts with the word `sh` is run,
    unless the info string also has the word `no-run`.  Blocks of one guide
    run in order, in one bash session (variables set by one block are seen
    by the next), with BASE (the gateway's URL) set.
  - `expect=402` (or `expect=402,429`) in the info string: the block's
    curl calls may answer these error statuses, and each listed one must
    occur at least once.  Without it every curl call must answer below 400.
  - Every other fence (`console`, `json`, `python`, `js`, `sh no-run`) is
    text for readers only.

It writes OUTDIR/NNN.sh (the block's text, NNN from 001) and
OUTDIR/index.tsv, one line per runnable block:
    NNN <TAB> line of the opening fence <TAB> expected statuses ("-" for
    none, or "402,429") <TAB> title (the nearest heading above the block)
It prints nothing on success.

It also refuses (exit 1, a message per problem on stderr) what would make a
guide's example silently go untested: a `curl` line in a block that is
neither run nor marked `no-run` (a `console` or `bash` fence, say), a fence
left open, or an `expect=` that is not a list of 4xx/5xx statuses.
Exit 2 on bad usage.  Standard library only.
"""
import os
import re
import sys

FENCE = re.compile(r'^ {0,3}(`{3,}|~{3,})(.*)$')
HEADING = re.compile(r'^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$')


def blocks(lines):
    """Yield (line number, info words, body lines) of each fenced block."""
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            yield ('text', i + 1, lines[i])
            i += 1
            continue
        fence, info = m.group(1), m.group(2).strip()
        start = i + 1
        body = []
        i += 1
        while i < len(lines):
            c = re.match(r'^ {0,3}(`{3,}|~{3,})\s*$', lines[i])
            if c and c.group(1)[0] == fence[0] and len(c.group(1)) >= len(fence):
                break
            body.append(lines[i])
            i += 1
        else:
            yield ('open', start, info)
            return
        i += 1
        yield ('block', start, (info.split(), body))


def main(argv):
    if len(argv) != 3:
        sys.stderr.write('usage: guide_blocks.py GUIDE OUTDIR\n')
        return 2
    guide, outdir = argv[1], argv[2]
    with open(guide, encoding='utf-8') as f:
        lines = f.read().split('\n')
    os.makedirs(outdir, exist_ok=True)
    name = os.path.basename(guide)
    problems = []
    index = []
    title = ''
    for kind, line, what in blocks(lines):
        if kind == 'text':
            h = HEADING.match(what)
            if h:
                title = h.group(1)
            continue
        if kind == 'open':
            problems.append('%s:%d: fence never closed' % (name, line))
            break
        words, body = what
        lang = words[0] if words else ''
        runs = lang == 'sh' and 'no-run' not in words
        if not runs and 'no-run' not in words:
            for j, text in enumerate(body):
                if re.search(r'(^|[\s$(|;&])curl\s', text):
                    problems.append('%s:%d: a curl line in a "%s" block that '
                                    'is not run: use ```sh (run) or ```sh '
                                    'no-run' % (name, line + 1 + j, lang or 'plain'))
                    break
        if not runs:
            continue
        expect = ''
        for w in words[1:]:
            if w.startswith('expect='):
                expect = w[len('expect='):]
                if not re.fullmatch(r'[45]\d\d(,[45]\d\d)*', expect):
                    problems.append('%s:%d: bad %s (want expect=402 or '
                                    'expect=402,429)' % (name, line, w))
        n = '%03d' % (len(index) + 1)
        with open(os.path.join(outdir, n + '.sh'), 'w', encoding='utf-8') as f:
            f.write('\n'.join(body) + '\n')
        index.append('%s\t%d\t%s\t%s' % (n, line, expect or '-', title.replace('\t', ' ')))
    with open(os.path.join(outdir, 'index.tsv'), 'w', encoding='utf-8') as f:
        f.write(''.join(row + '\n' for row in index))
    for p in problems:
        sys.stderr.write(p + '\n')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
