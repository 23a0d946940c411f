#!/usr/bin/env bash
# Install what is missing on a Debian machine, then run the daemon or the tests.
#   scripts/dev.sh serve [zapvisor serve flags]   run the daemon on ./config.toml
#   scripts/dev.sh test  [pytest args]            run the whole test suite
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: $0 serve|test [args...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
command=$1; shift

sudo_if_needed() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; return; fi
    command -v sudo >/dev/null || {
        echo "$0: installing Debian packages needs root, and sudo is not installed:" \
             "run this as root once, or install sudo (as root: apt-get install sudo)" >&2
        exit 1
    }
    sudo "$@"
}

missing=()
command -v python3 >/dev/null || missing+=(python3)
command -v chromium-headless-shell >/dev/null || missing+=(chromium-headless-shell)
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
# Every example in the README talks to the API with curl.
command -v curl >/dev/null || missing+=(curl)
# The tests verify the systemd unit with systemd-analyze.
[ "$command" != test ] || command -v systemd-analyze >/dev/null || missing+=(systemd)
# The proxy tests run real proxy servers: HTTP with Basic authentication, SOCKS5 with a password,
# TLS in front of the HTTP one (a test CA made by openssl, trusted through certutil's NSS database).
if [ "$command" = test ]; then
    command -v tinyproxy >/dev/null || missing+=(tinyproxy)
    command -v microsocks >/dev/null || missing+=(microsocks)
    command -v stunnel4 >/dev/null || missing+=(stunnel4)
    command -v certutil >/dev/null || missing+=(libnss3-tools)
    command -v openssl >/dev/null || missing+=(openssl)
    # contrib/prometheus/alerts.yml is checked and unit-tested with promtool (Debian ships it in
    # the prometheus package, whose server is then enabled too: `systemctl disable --now
    # prometheus` on a machine that does not want one).
    command -v promtool >/dev/null || missing+=(prometheus)
    # The packaging tests build wheels and virtualenvs from a copy of the checkout (git ls-files).
    command -v git >/dev/null || missing+=(git)
    command -v jq >/dev/null || missing+=(jq)  # the README's journal recipe is tested with it
    # The cluster's tests start real Redis servers on free ports (the package also enables its
    # own server on port 6379: `systemctl disable --now redis-server` where that is not wanted).
    command -v redis-server >/dev/null || missing+=(redis-server)
fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing Debian packages: ${missing[*]}" >&2
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "zapvisor needs Python 3.11 or newer" >&2; exit 1; }

# Reinstall only when the package metadata changed since the last install.
stamp=.venv/.installed-$(sha1sum setup.cfg | cut -c1-12)
installed=no
if [ ! -e "$stamp" ]; then
    [ -x .venv/bin/python ] || python3 -m venv .venv
    .venv/bin/python -m pip install -q --upgrade pip >/dev/null
    .venv/bin/python -m pip install -q -e '.[test]'
    rm -f .venv/.installed-* && touch "$stamp"
    installed=yes
fi

# Once, right after the install (whose output would otherwise bury it): where the API key is.
if [ "$command" = serve ] && [ "$installed" = yes ]; then
    key=$(.venv/bin/python -c 'from supervisor import apikey, config
print(apikey.describe_key(config.load(config.find_config_file("config.toml"))))' 2>/dev/null) \
        || key="see the daemon's log below"
    printf '\n==> zapvisor installed in .venv. The API key: %s\n' "$key" >&2
    printf '==> the CLI finds it by itself: .venv/bin/zapvisor list; check the host: .venv/bin/zapvisor doctor\n\n' >&2
fi

case "$command" in
    serve) exec .venv/bin/zapvisor --config config.toml serve "$@" ;;
    test) exec .venv/bin/python -m pytest "$@" ;;
    *) usage ;;
esac
