#!/usr/bin/python3
"""A foreign mapchaos reader in Python, reading through a memory map.

It speaks the line protocol of mapchaos (DESIGN.md): it opens the target
given as its only argument, prints `ready`, then answers each line of its
stdin:

    lookup IP  ->  {"ip": "IP", "record": {...}}  or  {"ip": "IP", "error": "text"}
    reload     ->  {"reloaded": true}             or  {"error": "text"}

It uses Debian's python3-maxminddb with MODE_MMAP_EXT: the C extension
(libmaxminddb) maps the file with mmap(2), as production readers in C,
Python, Ruby or PHP do. A SIGBUS in that mapping kills the interpreter by
the signal itself: no Go runtime, no "fatal error: fault", just a process
killed by SIGBUS, which mapchaos reads from its wait status.

Usage: /usr/bin/python3 readers/foreign/mmdb_reader.py {target}
"""
import json
import sys

import maxminddb


def open_db(path):
    return maxminddb.open_database(path, maxminddb.MODE_MMAP_EXT)


def encode(answer):
    """JSON for an answer. A record read from a torn file can hold values
    JSON has no type for (a bytearray where a string belongs): they are
    sent as text, so mapchaos sees a wrong answer rather than a reader that
    died of its own encoding error."""
    return json.dumps(answer, default=lambda v: v.hex() if isinstance(v, (bytes, bytearray)) else repr(v))


def main():
    if len(sys.argv) != 2:
        print("usage: mmdb_reader.py TARGET", file=sys.stderr)
        return 2
    path = sys.argv[1]
    db = open_db(path)
    out = sys.stdout
    out.write("ready\n")
    out.flush()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "lookup" and len(words) == 2:
            try:
                rec = db.get(words[1])
                answer = {"ip": words[1], "record": rec}
            except Exception as e:  # a damaged file is an error, not a crash
                answer = {"ip": words[1], "error": "%s: %s" % (type(e).__name__, e)}
        elif words[0] == "reload":
            try:
                new = open_db(path)
            except Exception as e:  # keep serving the old database
                answer = {"error": "%s: %s" % (type(e).__name__, e)}
            else:
                db.close()
                db = new
                answer = {"reloaded": True}
        else:
            answer = {"error": "unknown command %r" % line.strip()}
        out.write(encode(answer) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
