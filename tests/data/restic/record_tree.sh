#!/bin/sh
# Records tree.tar (`restic dump SNAP /`) and tree.jsonl (`restic ls --json SNAP`) of one small
# snapshot whose tree has what an export must carry: sub-second times, a setuid mode, an owner
# other than root, a symlink, a fifo (restic 0.14's dump leaves it out), a socket (restic's
# restore does not make one), a hard link (the dump writes it whole), a name sha256sum escapes,
# a name that is not UTF-8 (the listing says U+FFFD where the dump has the byte), configuration
# files beside data/ and a root file the export leaves out. Run as root.
set -eu
out=$(cd "$(dirname "$0")" && pwd)
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export RESTIC_REPOSITORY="$w/repo" RESTIC_PASSWORD=record
restic init -q >/dev/null
t="$w/install"
mkdir -p "$t/data/sub" "$t/data/empty"
printf 'photo bytes: unique-marker-1234' > "$t/data/sub/photo.jpg"
printf 'index' > "$t/data/index.html"
printf 'a name sha256sum must escape' > "$t/data/new
line \\ ünï"
printf 'a name that is not UTF-8' > "$t/data/$(printf 'caf\351')"
ln -s sub "$t/data/latest"
ln "$t/data/sub/photo.jpg" "$t/data/photo-link.jpg"
mkfifo "$t/data/pipe"
python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$t/data/sock"
chmod 4755 "$t/data/index.html"
chown 54321:54321 "$t/data/sub/photo.jpg"  # a uid without a name here or elsewhere
touch -h -d '2020-01-02 03:04:05.123456789 UTC' "$t/data/index.html" "$t/data/latest"
touch -d '2021-06-07 08:09:10.5 UTC' "$t/data/sub"
printf '1.0.0\n' > "$t/VERSION"
printf 'A=1\n' > "$t/.env"
printf '{}' > "$t/manifest-of-format-2.json"
(cd "$t" && restic backup -q --tag record data VERSION .env manifest-of-format-2.json >/dev/null)
restic dump --no-lock latest / > "$out/tree.tar"
restic ls --no-lock --json latest > "$out/tree.jsonl"
