#!/usr/bin/env bash
# Installs what building and testing Skynet needs, only when it is missing:
#  - libmsgpack-c headers and library (Debian: libmsgpack-dev), for the CMsgPack target;
#  - jemalloc (Debian: libjemalloc-dev), skynetd's allocator (linked in, see Package.swift);
#  - Python's msgpack package, for the interop test that calls our server from Python;
#  - curl, with which `make run` creates a timer through the HTTP API (as the README does);
#  - etcd (Debian: etcd-server, 3.4), which the coordinator-cluster tests start on 127.0.0.1;
#  - chromium, chromium-driver, selenium and pytest, for the dashboard test in a real browser;
#  - setuptools and wheel, with which the Python client's test installs clients/python with pip
#    offline (pip's isolated build would fetch them each time), and mypy, which checks that
#    the package's types hold (it ships py.typed).
set -euo pipefail

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# The .pc file is under /usr/lib/<triple>/pkgconfig on Debian, /usr/lib/pkgconfig elsewhere.
have_msgpack() {
    [ -f /usr/include/msgpack.h ] || return 1
    for pc in /usr/lib/*/pkgconfig/msgpack.pc /usr/lib/pkgconfig/msgpack.pc; do [ -f "$pc" ] && return 0; done
    return 1
}

if ! have_msgpack; then
    echo "installing libmsgpack-dev (libmsgpack-c)..." >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libmsgpack-dev >/dev/null
fi

have_jemalloc() {
    for lib in /usr/lib/*/libjemalloc.so /usr/lib/libjemalloc.so; do [ -f "$lib" ] && return 0; done
    return 1
}

if ! have_jemalloc; then
    echo "installing libjemalloc-dev (skynetd's allocator)..." >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjemalloc-dev >/dev/null
fi

if ! command -v curl >/dev/null 2>&1; then
    echo "installing curl..." >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl >/dev/null
fi

if ! command -v etcd >/dev/null 2>&1; then
    echo "installing etcd-server (for the coordinator-cluster tests)..." >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq etcd-server >/dev/null
fi

if ! python3 -c 'import msgpack' >/dev/null 2>&1; then
    echo "installing Python msgpack (for the interop test)..." >&2
    python3 -m pip install --quiet --disable-pip-version-check msgpack 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages msgpack \
        || as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-msgpack >/dev/null
fi

# The dashboard's browser test: headless Chromium and its driver (Debian), driven by
# selenium through pytest (PyPI). selenium is given both paths, so it never downloads a driver.
if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then
    echo "installing chromium and chromium-driver (for the dashboard's browser test)..." >&2
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if ! python3 -c 'import selenium, pytest' >/dev/null 2>&1; then
    echo "installing Python selenium and pytest (for the dashboard's browser test)..." >&2
    python3 -m pip install --quiet --disable-pip-version-check selenium pytest 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages selenium pytest
fi

if ! python3 -c 'import setuptools, wheel, mypy' >/dev/null 2>&1; then
    echo "installing Python setuptools, wheel and mypy (to build and type-check clients/python in its tests)..." >&2
    python3 -m pip install --quiet --disable-pip-version-check setuptools wheel mypy 2>/dev/null \
        || python3 -m pip install --quiet --disable-pip-version-check --break-system-packages setuptools wheel mypy
fi
