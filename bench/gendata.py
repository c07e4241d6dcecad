#!/usr/bin/env python3
"""Generates the benchmark's data set: DIRS folders x FILES small files (200 B - 8 KiB) and
BIG large files of BIG_MB MiB each.  gendata.py ROOT [--dirs 100 --files 200 --big 4 --big-mb 256]
`--touch` instead changes an existing set the way the third case needs: appends to 1% of the
small files and overwrites 1 MiB in the middle of each large file."""
import argparse
import os
import random


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("root")
    ap.add_argument("--dirs", type=int, default=100)
    ap.add_argument("--files", type=int, default=200)
    ap.add_argument("--big", type=int, default=4)
    ap.add_argument("--big-mb", type=int, default=256)
    ap.add_argument("--touch", action="store_true")
    a = ap.parse_args()
    r = random.Random(42)
    if a.touch:
        for d in range(a.dirs):
            for f in range(a.files):
                if r.random() < 0.01:
                    with open(f"{a.root}/d{d:03}/f{f:03}", "ab") as fh:
                        fh.write(os.urandom(100))
        for b in range(a.big):
            with open(f"{a.root}/big{b}.bin", "r+b") as fh:
                fh.seek(a.big_mb * (1 << 20) // 2)
                fh.write(os.urandom(1 << 20))
        return
    blob = os.urandom(1 << 20)
    for d in range(a.dirs):
        os.makedirs(f"{a.root}/d{d:03}", exist_ok=True)
        for f in range(a.files):
            with open(f"{a.root}/d{d:03}/f{f:03}", "wb") as fh:
                fh.write(os.urandom(r.randrange(200, 8192)))
    for b in range(a.big):
        with open(f"{a.root}/big{b}.bin", "wb") as fh:
            for _ in range(a.big_mb):
                fh.write(os.urandom(64) + blob[64:])


if __name__ == "__main__":
    main()
