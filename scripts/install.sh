#!/usr/bin/env bash
# Install zapvisor as a system service, from this checkout (README, "Running under systemd").
#
#   sudo scripts/install.sh [--prefix DIR] [--python PYTHON]
#   scripts/install.sh --root DESTDIR [--prefix DIR]      stage the files only (packaging, tests)
#
# What it does:
#   - builds a wheel from the package's own files (a copy of them: never this checkout's .venv,
#     var/ with its API key and profiles, or a stale build/) and installs it, with its
#     dependencies from the package index, into a virtualenv of its own at the prefix
#     (default /opt/zapvisor); an earlier install there is replaced in one move;
#   - creates the system user and group `zapvisor`;
#   - writes /etc/zapvisor/config.toml (0640 root:zapvisor, its state dir /var/lib/zapvisor)
#     from the shipped config.toml, only if there is none: an existing config is never touched;
#   - creates /var/lib/zapvisor (0700 zapvisor) and installs the systemd unit, pointed at the
#     prefix, then reloads systemd. It neither enables nor starts the service.
# --root DESTDIR puts every file under DESTDIR as a package build would (the installed files
# name the final paths, never DESTDIR); it creates no user, changes no owner and leaves systemd
# alone, and needs no root. pip's own settings apply (PIP_INDEX_URL, PIP_FIND_LINKS, ...).
set -euo pipefail
# Whatever the caller's umask, the service user must be able to read the installed files.
umask 022

usage() {
    sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

prefix=/opt/zapvisor
root=
python=python3
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
        --root) [ $# -ge 2 ] || usage; root=$2; shift 2 ;;
        --python) [ $# -ge 2 ] || usage; python=$2; shift 2 ;;
        -h|--help) usage ;;
        *) echo "install.sh: unknown argument: $1" >&2; usage ;;
    esac
done

die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*" >&2; }

case "$prefix" in /*) ;; *) die "--prefix must be an absolute path: $prefix" ;; esac
prefix=${prefix%/}
[ -n "$prefix" ] || die "--prefix must not be /"
if [ -n "$root" ]; then
    mkdir -p "$root"
    root=$(cd "$root" && pwd -P)
    [ "$root" != / ] || root=
fi
system=$([ -z "$root" ] && echo yes || echo no)
[ "$system" = no ] || [ "$(id -u)" -eq 0 ] || die "run it as root (sudo), or stage with --root DIR"

src=$(cd "$(dirname "$0")/.." && pwd -P)
[ -f "$src/setup.cfg" ] || die "$src does not look like a zapvisor checkout"

# The interpreter the virtualenv is made from: the base one, even when a virtualenv's python
# (this checkout's .venv) was given, so the installed venv does not lean on the checkout's.
base=$("$python" -c 'import sys; assert sys.version_info >= (3, 11), "zapvisor needs Python 3.11 or newer"; print(sys._base_executable)') \
    || die "no usable Python 3.11+ at '$python' (--python PATH)"
[ -x "$base" ] || die "cannot find the base interpreter of $python"
# The unit runs with ProtectHome=yes and PrivateTmp=yes: an interpreter or a prefix under
# those is invisible to the service (a pyenv Python in /root, for one).
for path in "$base" "$prefix"; do
    case "$path" in
        /home/*|/root/*|/run/user/*|/tmp/*|/var/tmp/*)
            msg="$path is hidden from the service (ProtectHome=, PrivateTmp=)"
            if [ "$system" = yes ]; then die "$msg: use a system Python (--python /usr/bin/python3) and a prefix outside those"; fi
            say "warning: $msg" ;;
    esac
done

target=$root$prefix
stage=$target.new
work=$(mktemp -d)
cleanup() { rm -rf "$work" "$stage"; }
trap cleanup EXIT

# An earlier install is a virtualenv with our command in it; anything else is not ours to replace
# (notably the old recipe's copy of a checkout, with its .venv and var/: move it away by hand).
if [ -e "$target" ] && ! { [ -f "$target/pyvenv.cfg" ] && [ -e "$target/bin/zapvisor" ]; }; then
    [ -z "$(ls -A "$target")" ] \
        || die "$target exists and is not a zapvisor virtualenv (an old copy of a checkout? its var/ holds an API key and profiles): move it away first"
fi

# 1. The wheel, from a copy of what the package is made of.
say "building the wheel"
mkdir -p "$work/src"
cp -R "$src/setup.cfg" "$src/pyproject.toml" "$src/README.md" "$src/supervisor" "$src/worker" "$work/src/"
find "$work/src" -name __pycache__ -prune -exec rm -rf {} +
rm -rf "$stage"
mkdir -p "$(dirname "$stage")"
"$base" -m venv "$stage"
pip=("$stage/bin/python" -m pip --disable-pip-version-check --no-input -q)
"${pip[@]}" wheel --no-deps -w "$work/wheels" "$work/src" >&2
wheel=$(ls "$work"/wheels/zapvisor-*.whl)

# 2. The virtualenv: built at a staging path, then made to name the prefix, then moved there.
say "installing into $prefix${root:+ (under $root)}"
"${pip[@]}" install --no-compile "$wheel" >&2
# Scripts' shebangs, pyvenv.cfg and the activate scripts name the staging path.
"$stage/bin/python" - "$stage" "$prefix" <<'EOF_PY'
import pathlib, sys
old, new = (arg.encode() for arg in sys.argv[1:3])
venv = pathlib.Path(sys.argv[1])
for path in [venv / "pyvenv.cfg", *(venv / "bin").iterdir()]:
    if path.is_file() and not path.is_symlink() and old in (data := path.read_bytes()):
        path.write_bytes(data.replace(old, new))
EOF_PY
# Byte-code compiled now (/opt is read-only to the service), naming the final paths.
"$stage/bin/python" -m compileall -q -f -j 0 -s "$stage" -p "$prefix" "$stage/lib" >/dev/null
cp "$src/README.md" "$stage/README.md"  # the unit's Documentation=
if grep -rlF "$stage" "$stage" >/dev/null || grep -rlF "$src" "$stage" >/dev/null; then
    die "the installed files still name the staging path or the checkout: $(grep -rlF -e "$stage" -e "$src" "$stage" | head -3)"
fi
rm -rf "$target.old"  # left by an interrupted run
if [ -e "$target" ]; then
    mv "$target" "$target.old"
    mv "$stage" "$target"
    rm -rf "$target.old"
else
    mv "$stage" "$target"
fi

# 3. The user, the config, the state dir, the unit.
if [ "$system" = yes ] && ! getent passwd zapvisor >/dev/null; then
    say "creating the system user zapvisor"
    group=(--user-group)
    if getent group zapvisor >/dev/null; then group=(--gid zapvisor); fi
    useradd --system "${group[@]}" --home-dir /var/lib/zapvisor --no-create-home \
        --shell /usr/sbin/nologin zapvisor
fi
own() { [ "$system" = no ] || chown "$@"; }

config=$root/etc/zapvisor/config.toml
mkdir -p "$root/etc/zapvisor"
if [ -e "$config" ]; then
    say "keeping the existing $config"
else
    tmp=$root/etc/zapvisor/.config.toml.new
    sed 's|^dir = "\./var"|dir = "/var/lib/zapvisor"|' "$src/config.toml" > "$tmp"
    grep -q '^dir = "/var/lib/zapvisor"' "$tmp" || { rm -f "$tmp"; die "config.toml has no [state] dir line to point at /var/lib/zapvisor"; }
    chmod 0640 "$tmp"
    own root:zapvisor "$tmp"
    mv "$tmp" "$config"
    say "wrote $config (0640$([ "$system" = no ] || echo " root:zapvisor"))"
fi

# Read by the installed code, as the service will (an older config may lack or misspell a key).
"$target/bin/python" - "$config" <<'EOF_PY' || say "warning: $config does not load: fix it before starting the service"
import pathlib, sys
from supervisor.config import load
from supervisor.errors import ZapvisorError
try:
    load(pathlib.Path(sys.argv[1]), env={})
except ZapvisorError as exc:
    sys.exit(f"install.sh: {exc}")
EOF_PY

install -d -m 0700 "$root/var/lib/zapvisor"
own zapvisor:zapvisor "$root/var/lib/zapvisor"

unit=$root/etc/systemd/system/zapvisor.service
mkdir -p "$(dirname "$unit")"
sed "s|/opt/zapvisor|$prefix|g" "$src/systemd/zapvisor.service" > "$unit.new"
chmod 0644 "$unit.new"
mv "$unit.new" "$unit"

if [ "$system" = yes ] && [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if systemctl is-active --quiet zapvisor; then
        say "zapvisor is running the previous version: sudo systemctl restart zapvisor"
    else
        say "start it: sudo systemctl enable --now zapvisor"
    fi
fi
"$target/bin/python" "$target/bin/zapvisor" --help >/dev/null || die "the installed command does not run"
say "installed $prefix/bin/zapvisor"
