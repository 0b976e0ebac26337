#!/bin/sh
# The unprivileged user the controller runs as (uid/gid 65532, as in distroless images).
# It must exist: Python's getpass.getuser() looks the uid up in /etc/passwd.
set -eu
groupadd --gid 65532 nonroot
useradd --uid 65532 --gid 65532 --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin --comment nonroot nonroot
