#!/bin/sh
# update.sh NEW TARGET: install the database NEW as TARGET without ever
# showing a reader a partial file: copy it next to the target under a
# temporary name, flush it to disk, then rename it over the target. A
# service that has the old file mapped keeps reading the old inode; one that
# opens TARGET gets the old file or the new one, whole.
set -eu
new=$1
target=$2
tmp=$(mktemp "$(dirname "$target")/.$(basename "$target").XXXXXX")
trap 'rm -f "$tmp"' EXIT
cp "$new" "$tmp"
chmod 0644 "$tmp"
sync "$tmp"
mv -f "$tmp" "$target"
trap - EXIT
