#!/bin/sh
# Build /opt/venv with exactly the locked Python packages and nothing else (no pip, no
# setuptools left behind). Run as root inside the image being built.
set -eu
lock=$1
python3 -m venv /opt/venv
/opt/venv/bin/pip install --quiet --no-cache-dir --no-deps --disable-pip-version-check -r "$lock"
/opt/venv/bin/pip uninstall --quiet --yes pip setuptools
