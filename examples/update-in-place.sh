#!/bin/sh
# update-in-place.sh NEW TARGET: the updater update.sh replaced. cp opens
# TARGET with O_TRUNC and copies into the same inode, so every service that
# has the database mapped reads past the new end of the file: SIGBUS.
set -eu
cp "$1" "$2"
