#!/usr/bin/env python3
"""treehash: a canonical listing (or its sha256) of a directory tree.

One line per path below DIR, sorted by path:

  PATH TYPE MODE [uid:gid] SIZE CONTENT [nlink=N link=FIRST] [mtime=NS] [xattr=...]

TYPE is f d l p c b s; MODE the permission bits incl. setuid/setgid/sticky in
octal; CONTENT the sha256 of a regular file, the target of a symlink, the
major:minor of a device, '-' otherwise. Hard links: every path of a regular file
whose inode appears more than once in the tree names the first such path
(sorted) and the file's st_nlink, so link groups compare across filesystems.
Directory sizes, link counts and times are left out (they differ by design
between filesystems) unless asked for.

  treehash.py [--owner] [--mtime] [--xattrs] [--exclude NAME]... [--hash] DIR
"""
import argparse
import hashlib
import os
import stat
import sys


def file_sha256(path):
    h = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            h.update(b)
    finally:
        os.close(fd)
    return h.hexdigest()


def xattr_desc(path):
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return "?"
    parts = []
    for n in names:
        try:
            v = os.getxattr(path, n, follow_symlinks=False)
        except OSError as e:
            v = ("<%s>" % e.strerror).encode()
        parts.append("%s=%s" % (n, hashlib.sha256(v).hexdigest()[:16]))
    return ",".join(parts)


def walk(root, excludes):
    out = []
    stack = [""]
    while stack:
        rel = stack.pop()
        full = os.path.join(root, rel) if rel else root
        for name in os.listdir(full):
            if not rel and name in excludes:
                continue
            r = os.path.join(rel, name) if rel else name
            st = os.lstat(os.path.join(root, r))
            out.append((r, st))
            if stat.S_ISDIR(st.st_mode):
                stack.append(r)
    out.sort(key=lambda e: e[0])
    return out


TYPES = [(stat.S_ISREG, "f"), (stat.S_ISDIR, "d"), (stat.S_ISLNK, "l"),
         (stat.S_ISFIFO, "p"), (stat.S_ISCHR, "c"), (stat.S_ISBLK, "b"),
         (stat.S_ISSOCK, "s")]


def ftype(mode):
    for test, t in TYPES:
        if test(mode):
            return t
    return "?"


def listing(root, args):
    entries = walk(root, set(args.exclude))
    first = {}
    count = {}
    for rel, st in entries:
        if stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            first.setdefault(key, rel)
            count[key] = count.get(key, 0) + 1
    lines = []
    for rel, st in entries:
        full = os.path.join(root, rel)
        t = ftype(st.st_mode)
        fields = [rel.replace("\\", "\\\\").replace("\n", "\\n").replace(" ", "\\040"),
                  t, "%04o" % stat.S_IMODE(st.st_mode)]
        if args.owner:
            fields.append("%d:%d" % (st.st_uid, st.st_gid))
        if t == "f":
            fields.append(str(st.st_size))
            fields.append(file_sha256(full))
            key = (st.st_dev, st.st_ino)
            if count[key] > 1 or st.st_nlink > 1:
                fields.append("nlink=%d" % st.st_nlink)
                fields.append("link=%s" % first[key])
        elif t == "l":
            fields.append(str(st.st_size))
            fields.append("->" + os.readlink(full))
        elif t in "cb":
            fields.append("-")
            fields.append("%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev)))
        else:
            fields.append("-")
            fields.append("-")
        if args.mtime and t != "l":
            fields.append("mtime=%d" % st.st_mtime_ns)
        if args.xattrs and t in "fd":
            fields.append("xattr=" + xattr_desc(full))
        lines.append(" ".join(fields))
    return lines


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--owner", action="store_true", help="include uid:gid")
    p.add_argument("--mtime", action="store_true", help="include mtime (ns)")
    p.add_argument("--xattrs", action="store_true", help="include xattrs")
    p.add_argument("--exclude", action="append", default=[],
                   help="skip this top-level name (repeatable)")
    p.add_argument("--hash", action="store_true", help="print only the sha256")
    p.add_argument("dir")
    args = p.parse_args()
    lines = listing(args.dir, args)
    text = "".join(l + "\n" for l in lines)
    if args.hash:
        print(hashlib.sha256(text.encode()).hexdigest())
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
