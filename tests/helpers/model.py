#!/usr/bin/env python3
"""model: a randomised operation sequence on a forkcellfs mount, checked
against a model kept on ext4.

Every operation (create, write, append, truncate, rename, unlink, mkdir,
rmdir, chmod, chown, symlink, hard link, xattr, utimes) is chosen from the
model's current tree with a seeded RNG, applied to the mount and to the model
directory, and must give the same result (success or the same errno). The
sequence is interleaved with checkpoints (the model copies its tree with
`cp -a`, which keeps hard links), restores (mounted and unmounted) and forks
(the fork is mounted, compared, changed a little and compared again). After
each restore or fork, and every --check-every operations, the canonical
listing of the mount (treehash.py: paths, types, modes, owners, sizes,
sha256, symlink targets, hard-link groups, xattrs) must equal the model's.

  model.py --ctl BIN --store DIR --cell NAME --mnt DIR --work DIR
           [--seed N] [--ops N] [--pids FILE] [--logs DIR]

Prints the seed first; exits 1 with the last operations on a mismatch.
"""
import argparse
import errno
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import treehash  # noqa: E402

NAMES = ["a", "b", "c", "d", "e", "f", "sub", "x.txt", "y.bin", "lnk"]
MODES_FILE = [0o644, 0o600, 0o755, 0o700, 0o4755, 0o2750, 0o444]
MODES_DIR = [0o755, 0o700, 0o1777, 0o2775]


class Mismatch(Exception):
    pass


class Model:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        self.head = os.path.join(args.work, "head")
        self.ckpts = {}           # name -> model dir
        self.log = []
        self.nckpt = 0
        self.nfork = 0
        self.mounted = True

    # ---- helpers -------------------------------------------------------
    def ctl(self, *argv):
        cmd = [self.a.ctl, "--store", self.a.store] + list(argv)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        self.log.append("ctl " + " ".join(argv) + " -> %d" % r.returncode)
        if r.returncode != 0:
            raise Mismatch("forkcellctl %s failed (%d): %s" %
                           (" ".join(argv), r.returncode, r.stderr.strip()))
        return r.stdout

    def record_pid(self, mnt):
        if not self.a.pids:
            return
        run = os.path.join(self.a.store, "run")
        import json
        for f in os.listdir(run):
            if f.endswith(".json"):
                try:
                    info = json.load(open(os.path.join(run, f)))
                except (OSError, ValueError):
                    continue
                if os.path.realpath(info.get("mountpoint", "")) == os.path.realpath(mnt):
                    with open(self.a.pids, "a") as p:
                        p.write("%d\n" % info["pid"])

    def mount(self, cell, mnt):
        os.makedirs(mnt, exist_ok=True)
        argv = ["mount", cell, mnt]
        if self.a.logs:
            argv += ["--log", os.path.join(self.a.logs, "%s.%s.log" %
                                           (cell, os.path.basename(mnt)))]
        self.ctl(*argv)
        self.record_pid(mnt)

    def listing(self, root):
        ns = argparse.Namespace(owner=True, mtime=False, xattrs=True, exclude=[])
        return treehash.listing(root, ns)

    def compare(self, mnt, model, what):
        got = self.listing(mnt)
        want = self.listing(model)
        if got != want:
            import difflib
            d = "\n".join(difflib.unified_diff(want, got, "model", "mount", lineterm="", n=1))
            raise Mismatch("%s: mount differs from model:\n%s" % (what, d[:6000]))

    def entries(self, root, want_dirs=None):
        """Relative paths below root (optionally only dirs / only non-dirs)."""
        out = []
        for dp, dns, fns in os.walk(root):
            rel = os.path.relpath(dp, root)
            for n in dns + fns:
                r = n if rel == "." else os.path.join(rel, n)
                isdir = os.path.isdir(os.path.join(root, r)) and \
                    not os.path.islink(os.path.join(root, r))
                if want_dirs is None or want_dirs == isdir:
                    out.append(r)
        out.sort()
        return out

    def pick_path(self, root):
        """An existing or new path: a random existing dir plus a random name."""
        dirs = [""] + self.entries(root, True)
        return os.path.join(self.rng.choice(dirs), self.rng.choice(NAMES))

    def pick_existing(self, root, want_dirs=None):
        e = self.entries(root, want_dirs)
        return self.rng.choice(e) if e else None

    # ---- operations ----------------------------------------------------
    def gen_op(self):
        r = self.rng
        kind = r.choices(
            ["create", "write", "append", "truncate", "rename", "unlink", "mkdir", "rmdir",
             "chmod", "chown", "symlink", "link", "setxattr", "rmxattr", "utimes"],
            [10, 8, 5, 3, 6, 4, 4, 2, 3, 2, 3, 3, 3, 1, 2])[0]
        h = self.head
        if kind == "create":
            return (kind, self.pick_path(h), r.randbytes(r.choice([0, 1, 100, 4096, 70000])))
        if kind in ("write", "append", "truncate"):
            p = self.pick_existing(h, False) or self.pick_path(h)
            if kind == "write":
                return (kind, p, r.randrange(0, 200000), r.randbytes(r.randrange(1, 9000)))
            if kind == "append":
                return (kind, p, r.randbytes(r.randrange(1, 5000)))
            return (kind, p, r.choice([0, 1, 4095, 4096, 100000, 1 << 20]))
        if kind == "rename":
            src = self.pick_existing(h) or self.pick_path(h)
            return (kind, src, self.pick_path(h) if r.random() < 0.6 else
                    (self.pick_existing(h) or self.pick_path(h)))
        if kind == "unlink":
            return (kind, self.pick_existing(h, False) or self.pick_path(h))
        if kind == "mkdir":
            return (kind, self.pick_path(h), r.choice(MODES_DIR))
        if kind == "rmdir":
            return (kind, self.pick_existing(h, True) or self.pick_path(h))
        if kind == "chmod":
            p = self.pick_existing(h) or self.pick_path(h)
            isdir = os.path.isdir(os.path.join(h, p))
            return (kind, p, r.choice(MODES_DIR if isdir else MODES_FILE))
        if kind == "chown":
            return (kind, self.pick_existing(h) or self.pick_path(h),
                    r.choice([0, 1000, 65534]), r.choice([0, 100, 65534]))
        if kind == "symlink":
            return (kind, r.choice(NAMES + ["../a", "/etc/hostname", "sub/x.txt"]),
                    self.pick_path(h))
        if kind == "link":
            return (kind, self.pick_existing(h, False) or self.pick_path(h), self.pick_path(h))
        if kind == "setxattr":
            return (kind, self.pick_existing(h) or self.pick_path(h),
                    "user." + r.choice(["k1", "k2", "k3"]), r.randbytes(r.randrange(0, 200)))
        if kind == "rmxattr":
            return (kind, self.pick_existing(h) or self.pick_path(h),
                    "user." + r.choice(["k1", "k2", "k3"]))
        return ("utimes", self.pick_existing(h) or self.pick_path(h),
                r.randrange(0, 2 ** 33) * 10 ** 9 + r.randrange(10 ** 9))

    @staticmethod
    def apply(root, op):
        kind = op[0]
        P = lambda rel: os.path.join(root, rel)  # noqa: E731
        try:
            if kind == "create":
                fd = os.open(P(op[1]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW |
                             os.O_NONBLOCK, 0o644)
                try:
                    os.write(fd, op[2])
                finally:
                    os.close(fd)
            elif kind == "write":
                fd = os.open(P(op[1]), os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
                try:
                    os.pwrite(fd, op[3], op[2])
                finally:
                    os.close(fd)
            elif kind == "append":
                fd = os.open(P(op[1]), os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW |
                             os.O_NONBLOCK)
                try:
                    os.write(fd, op[2])
                finally:
                    os.close(fd)
            elif kind == "truncate":
                if os.path.islink(P(op[1])):
                    return "ELOOP-skip"
                os.truncate(P(op[1]), op[2])
            elif kind == "rename":
                os.rename(P(op[1]), P(op[2]))
            elif kind == "unlink":
                os.unlink(P(op[1]))
            elif kind == "mkdir":
                os.mkdir(P(op[1]), op[2])
                os.chmod(P(op[1]), op[2])
            elif kind == "rmdir":
                os.rmdir(P(op[1]))
            elif kind == "chmod":
                if os.path.islink(P(op[1])):
                    return "symlink-skip"
                os.chmod(P(op[1]), op[2])
            elif kind == "chown":
                os.chown(P(op[1]), op[2], op[3], follow_symlinks=False)
            elif kind == "symlink":
                os.symlink(op[1], P(op[2]))
            elif kind == "link":
                os.link(P(op[1]), P(op[2]), follow_symlinks=False)
            elif kind == "setxattr":
                os.setxattr(P(op[1]), op[2], op[3], follow_symlinks=False)
            elif kind == "rmxattr":
                os.removexattr(P(op[1]), op[2], follow_symlinks=False)
            elif kind == "utimes":
                os.utime(P(op[1]), ns=(op[2], op[2]), follow_symlinks=False)
            return "ok"
        except OSError as e:
            return errno.errorcode.get(e.errno, str(e.errno))

    @staticmethod
    def describe(op):
        parts = []
        for x in op:
            if isinstance(x, bytes):
                parts.append("<%d bytes>" % len(x))
            else:
                parts.append(repr(x) if isinstance(x, str) else str(x))
        return " ".join(parts)

    def step(self, i, mnt, model):
        op = self.gen_op()
        got = self.apply(mnt, op)
        want = self.apply(model, op)
        self.log.append("%d: %s -> %s" % (i, self.describe(op), got))
        if got != want:
            raise Mismatch("op %d %s: mount gave %s, ext4 model gave %s" %
                           (i, self.describe(op), got, want))

    # ---- generations ---------------------------------------------------
    def copy_tree(self, src, dst):
        if os.path.exists(dst):
            shutil.rmtree(dst)
        subprocess.run(["cp", "-a", src, dst], check=True)

    def checkpoint(self):
        self.nckpt += 1
        name = "m%d" % self.nckpt
        if self.mounted:
            os.sync()
        self.ctl("checkpoint", self.a.cell, "--name", name)
        self.copy_tree(self.head, os.path.join(self.a.work, "ckpt-" + name))
        self.ckpts[name] = os.path.join(self.a.work, "ckpt-" + name)

    def restore(self, unmounted):
        name = self.rng.choice(sorted(self.ckpts))
        if unmounted:
            self.ctl("umount", self.a.cell)
            self.wait_unmounted(self.a.mnt)
            self.ctl("restore", self.a.cell, name)
            self.mount(self.a.cell, self.a.mnt)
        else:
            self.ctl("restore", self.a.cell, name)
        self.copy_tree(self.ckpts[name], self.head)
        self.compare(self.a.mnt, self.head, "after %srestore of %s" %
                     ("unmounted " if unmounted else "", name))

    def fork(self, start):
        name = self.rng.choice(sorted(self.ckpts))
        self.nfork += 1
        cell = "%s-fork%d" % (self.a.cell, self.nfork)
        mnt = os.path.join(self.a.work, "fork%d" % self.nfork)
        model = os.path.join(self.a.work, "forkmodel%d" % self.nfork)
        self.ctl("fork", self.a.cell, cell, "--from", name)
        self.mount(cell, mnt)
        self.copy_tree(self.ckpts[name], model)
        self.compare(mnt, model, "fork %s of %s" % (cell, name))
        saved_head = self.head
        self.head = model
        try:
            for j in range(15):
                self.step(start + j, mnt, model)
        finally:
            self.head = saved_head
        self.compare(mnt, model, "fork %s after changes" % cell)
        self.compare(self.a.mnt, self.head, "origin after the fork changed")
        self.ctl("umount", cell)
        self.wait_unmounted(mnt)

    def wait_unmounted(self, mnt):
        target = os.path.realpath(mnt)
        for _ in range(300):
            with open("/proc/self/mountinfo") as f:
                if not any(l.split()[4] == target for l in f):
                    return
            time.sleep(0.1)
        raise Mismatch("%s still mounted" % mnt)

    def run(self):
        a = self.a
        self.copy_tree(a.mnt, self.head)
        self.compare(a.mnt, self.head, "initial tree")
        self.checkpoint()
        for i in range(a.ops):
            self.step(i, a.mnt, self.head)
            r = self.rng.random()
            if r < 0.05:
                self.checkpoint()
            elif r < 0.08:
                self.restore(unmounted=False)
            elif r < 0.085:
                self.restore(unmounted=True)
            elif r < 0.09 and self.nfork < a.forks:
                self.fork(i * 100)
            if (i + 1) % a.check_every == 0:
                self.compare(a.mnt, self.head, "after op %d" % i)
        self.compare(a.mnt, self.head, "at the end")
        for name in sorted(self.ckpts):
            self.ctl("restore", a.cell, name)
            self.compare(a.mnt, self.ckpts[name], "final restore of %s" % name)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ctl", required=True)
    p.add_argument("--store", required=True)
    p.add_argument("--cell", required=True)
    p.add_argument("--mnt", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--ops", type=int, default=300)
    p.add_argument("--forks", type=int, default=3)
    p.add_argument("--check-every", type=int, default=25)
    p.add_argument("--pids")
    p.add_argument("--logs")
    a = p.parse_args()
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "little")
    print("seed %d (rerun with FORKCELL_MODEL_SEED=%d)" % (a.seed, a.seed), flush=True)
    os.makedirs(a.work, exist_ok=True)
    m = Model(a)
    try:
        m.run()
    except Mismatch as e:
        with open(os.path.join(a.work, "ops.log"), "w") as f:
            f.write("\n".join(m.log) + "\n")
        print("all operations: %s" % os.path.join(a.work, "ops.log"))
        print("last operations:")
        for line in m.log[-25:]:
            print("  " + line)
        print("MISMATCH (seed %d): %s" % (a.seed, e))
        return 1
    print("ok: %d ops, %d checkpoints, %d forks" % (a.ops, m.nckpt, m.nfork))
    return 0


if __name__ == "__main__":
    sys.exit(main())
