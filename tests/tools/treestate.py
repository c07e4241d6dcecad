#!/usr/bin/env python3
"""Prints one line per entry of a tree with every attribute rsync -a carries, in path order:
type, mode, uid, gid, size, mtime (ns), content hash or link target or device number.
Two trees are equal for the merge when their outputs are equal (the root's line included)."""
import hashlib
import os
import stat
import sys


def describe(path, rel):
    st = os.lstat(path)
    m = st.st_mode
    if stat.S_ISLNK(m):
        kind, extra = "l", os.readlink(path)
        mode = ""
    else:
        mode = "%04o" % stat.S_IMODE(m)
        if stat.S_ISDIR(m):
            kind, extra = "d", ""
        elif stat.S_ISREG(m):
            kind = "f"
            h = hashlib.sha256()
            with open(path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            extra = "%d:%s" % (st.st_size, h.hexdigest()[:16])
        elif stat.S_ISFIFO(m):
            kind, extra = "p", ""
        elif stat.S_ISSOCK(m):
            kind, extra = "s", ""
        else:
            kind, extra = "c" if stat.S_ISCHR(m) else "b", "%d,%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
    mtime = "" if kind == "d" and "--no-dir-times" in sys.argv else str(st.st_mtime_ns)
    return "%r %s %s %d:%d %s %r" % (rel, kind, mode, st.st_uid, st.st_gid, mtime, extra)


def walk(root):
    out = [describe(root, ".")]
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for n in sorted(dirnames + filenames):
            p = os.path.join(dirpath, n)
            out.append(describe(p, os.path.relpath(p, root)))
    return out


if __name__ == "__main__":
    for line in walk(sys.argv[1]):
        print(line)
