#!/usr/bin/env python3
"""Generates a source tree and a target tree that overlap in every way the merge must handle.

gentree.py SRC DST --seed N [--files N]

Both trees, contents included, are made from one random seed, so a failure can be reproduced. The target holds
files the source replaces, files with other attributes only, files with the same size and time
but other content (the quick check keeps them), target-only files, and paths whose type
differs on the two sides (file/folder/symlink), odd names, sparse and large files, special
files, modes with setuid/setgid/sticky and folders the owner cannot write into.
"""
import argparse
import os
import random
import stat

NAMES = ["a", "b c", "ünïcødé", "line\nbreak", "-dash", ".hidden", "x" * 200, "tab\there", "日本語", "q'uote"]


def rand_name(r, used):
    while True:
        base = r.choice(NAMES) if r.random() < 0.3 else "f%d" % r.randrange(10**6)
        if r.random() < 0.2:
            base += ".%d" % r.randrange(1000)
        if base not in used:
            used.add(base)
            return base


def rand_mode(r, is_dir=False):
    if is_dir:
        return r.choice([0o755, 0o700, 0o775, 0o1777, 0o2755, 0o500, 0o750])
    return r.choice([0o644, 0o600, 0o755, 0o444, 0o4755, 0o2755, 0o1644, 0o640, 0o000])


def rand_time(r):
    return r.randrange(10**9, 17 * 10**8) * 10**9 + r.randrange(10**9)


def write_file(path, r, size=None, sparse=False):
    size = r.choice([0, 1, 100, 4096, 5000, 70000]) if size is None else size
    with open(path, "wb") as f:
        if sparse:
            f.truncate(size)
            for _ in range(3):
                off = r.randrange(max(1, size - 10))
                f.seek(off)
                f.write(r.randbytes(min(10, size - off)))
        else:
            f.write(r.randbytes(size) if size < 100000 else r.randbytes(1000) * (size // 1000))


def finish(path, r, mode, t, uid, gid, root):
    if root:
        os.lchown(path, uid, gid)
    if not os.path.islink(path):
        os.chmod(path, mode)
    os.utime(path, ns=(t, t), follow_symlinks=False)


def make_entry(path, kind, r, root):
    uid, gid = (r.choice([0, 1000, 1001, 65534]), r.choice([0, 1000, 50, 65534])) if root else (0, 0)
    if kind == "file":
        write_file(path, r, sparse=r.random() < 0.05, size=r.choice([None, None, 3 << 20]) if r.random() < 0.05 else None)
        finish(path, r, rand_mode(r), rand_time(r), uid, gid, root)
    elif kind == "link":
        os.symlink(r.choice(["a", "../x", "/etc/passwd", "nowhere/else", "b c", "."]), path)
        finish(path, r, 0, rand_time(r), uid, gid, root)
    elif kind == "fifo":
        os.mkfifo(path)
        finish(path, r, rand_mode(r), rand_time(r), uid, gid, root)
    elif kind == "dev" and root:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
        finish(path, r, 0o640, rand_time(r), uid, gid, root)
    else:
        write_file(path, r)
        finish(path, r, 0o644, rand_time(r), uid, gid, root)


def gen(src, dst, r, nfiles, root):
    dirs = [("", 0)]
    made = 0
    dir_modes = []
    while made < nfiles:
        parent, depth = r.choice(dirs)
        used = set(os.listdir(os.path.join(src, parent)) if parent else os.listdir(src))
        name = rand_name(r, used)
        rel = os.path.join(parent, name) if parent else name
        sp, dp = os.path.join(src, rel), os.path.join(dst, rel)
        dst_parent_ok = os.path.isdir(os.path.dirname(dp)) and not os.path.islink(os.path.dirname(dp))
        kind = r.choices(["file", "dir", "link", "fifo", "dev"], [70, 12, 10, 4, 2])[0]
        if kind == "dir" and depth < 5:
            os.mkdir(sp)
            dirs.append((rel, depth + 1))
            src_attrs = (rand_mode(r, True), rand_time(r), r.choice([0, 1000]), r.choice([0, 1000]))
            dir_modes.append((sp,) + src_attrs)
            if dst_parent_ok:
                c = r.random()
                if c < 0.25:
                    os.mkdir(dp)
                    dir_modes.append((dp, rand_mode(r, True), rand_time(r), r.choice([0, 1000]), r.choice([0, 1000])))
                elif c < 0.5:
                    os.mkdir(dp)  # the same folder: the merge must leave its attributes as they are
                    dir_modes.append((dp,) + src_attrs)
                elif c < 0.6:
                    make_entry(dp, "file", r, root)  # a file where the source has a folder
                elif c < 0.65:
                    os.symlink("/tmp", dp)  # a symlink to elsewhere where the source has a folder
            made += 1
            continue
        make_entry(sp, kind if kind != "dir" else "file", r, root)
        made += 1
        if not dst_parent_ok:
            continue
        c = r.random()
        if c < 0.25:
            pass  # new in the target
        elif c < 0.45 and kind == "file":  # the same file
            os.link(sp, dp) if False else None
            with open(sp, "rb") as f, open(dp, "wb") as g:
                g.write(f.read())
            st = os.lstat(sp)
            os.chmod(dp, stat.S_IMODE(st.st_mode))
            if root:
                os.lchown(dp, st.st_uid, st.st_gid)
            os.utime(dp, ns=(st.st_mtime_ns, st.st_mtime_ns))
            v = r.random()
            if v < 0.3:
                os.chmod(dp, rand_mode(r))  # attributes only
            elif v < 0.45:
                with open(dp, "r+b") as g:  # same size and time, other content: quick check keeps it
                    first = g.read(1)
                    if first:  # the byte's complement: never the byte that was there
                        g.seek(0)
                        g.write(bytes([first[0] ^ 0xFF]))
                os.utime(dp, ns=(st.st_mtime_ns, st.st_mtime_ns))
            elif v < 0.55 and root:
                os.lchown(dp, 4242, 4242)
        elif c < 0.65:
            make_entry(dp, r.choice(["file", "link", "fifo"]), r, root)  # something else there
        elif c < 0.75:
            os.mkdir(dp)  # a folder (with content) where the source has a file
            make_entry(os.path.join(dp, "inner"), "file", r, root)
            os.utime(dp, ns=(rand_time(r),) * 2)
    # target-only entries
    for i in range(max(3, nfiles // 10)):
        parent, _ = r.choice(dirs)
        dparent = os.path.join(dst, parent)
        if os.path.isdir(dparent) and not os.path.islink(dparent):
            p = os.path.join(dparent, "target-only-%d" % i)
            if not os.path.lexists(p):
                make_entry(p, r.choice(["file", "file", "link"]), r, root)
    for p, mode, t, uid, gid in reversed(dir_modes):
        if root:
            os.lchown(p, uid, gid)
        os.chmod(p, mode)
        os.utime(p, ns=(t, t))
    os.utime(src, ns=(rand_time(r),) * 2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--files", type=int, default=300)
    a = ap.parse_args()
    os.makedirs(a.src)
    os.makedirs(a.dst)
    gen(a.src, a.dst, random.Random(a.seed), a.files, os.geteuid() == 0)


if __name__ == "__main__":
    main()
