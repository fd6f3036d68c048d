#!/usr/bin/env python3
"""storm: a write storm for crash tests.

  storm.py DIR LEDGER [SEED]

Loops until killed or until the file system fails (e.g. ENOTCONN after the
daemon is killed):
  - creates DIR/s<N> with random content, fsyncs the file and DIR, and only
    then appends "s<N> <sha256>" to LEDGER (on another file system) and
    fsyncs the ledger: every ledger line names data that must survive;
  - in between, unsynced noise: overwrites, appends, renames and unlinks of
    DIR/noise* files, which may or may not survive.
"""
import hashlib
import os
import random
import sys


def main():
    d, ledger = sys.argv[1], sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else None)
    lfd = os.open(ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    dfd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    n = 0
    try:
        while True:
            n += 1
            name = "s%d" % n
            data = rng.randbytes(rng.choice([0, 10, 4096, 20000, 150000]))
            fd = os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.fsync(fd)
            os.close(fd)
            os.fsync(dfd)
            os.write(lfd, ("%s %s\n" % (name, hashlib.sha256(data).hexdigest())).encode())
            os.fsync(lfd)
            for _ in range(rng.randrange(1, 4)):
                noise = os.path.join(d, "noise%d" % rng.randrange(10))
                what = rng.randrange(4)
                if what == 0:
                    with open(noise, "wb") as f:
                        f.write(rng.randbytes(rng.randrange(1, 70000)))
                elif what == 1:
                    with open(noise, "ab") as f:
                        f.write(rng.randbytes(rng.randrange(1, 5000)))
                elif what == 2 and os.path.exists(noise):
                    os.rename(noise, os.path.join(d, "noise%d" % rng.randrange(10)))
                elif what == 3 and os.path.exists(noise):
                    os.unlink(noise)
    except OSError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
