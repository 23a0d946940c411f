"""``zapvisor doctor``: what this host needs to run the daemon, checked one thing at a time,
each with what to do about it when it is not right.

Checks read and never change anything: Chrome is found the way a worker finds it (in a child
process, ``worker.protocol.WHICH_CHROME_MODULE``: the supervisor never imports the browser
layer) and asked for its ``--version``; the cgroup check reads what ``procs.cgroups.detect``
would use, without making a cgroup or moving a process.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import shutil
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from supervisor.apikey import generated_key_path, usable_key
from supervisor.config import DEFAULT_PATHS, Config
from supervisor.procs.cgroups import probe
from worker.protocol import WHICH_CHROME_MODULE

__all__ = ["Check", "config_failed", "run_checks"]

_TIMEOUT_S = 20.0  # for each child process (a cold Chrome on a busy host is slow)
_HTTP_TIMEOUT_S = 5.0  # a zapvisor answers /health/ready at once; whatever does not is not one


@dataclass(frozen=True)
class Check:
    """One finding: ``status`` is ok, warn (works, but worth a look) or fail (will not work)."""

    name: str
    status: str
    message: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        """As JSON."""
        return asdict(self)


def python() -> Check:
    """The interpreter the daemon would run on."""
    version = ".".join(map(str, sys.version_info[:3]))
    if sys.version_info < (3, 11):
        return Check("python", "fail", f"Python {version}: zapvisor needs 3.11 or newer",
                     "install python3 (3.11+) and recreate the virtualenv")
    return Check("python", "ok", f"Python {version} ({sys.executable})")


def config_file(cfg: Config) -> Check:
    """Which config file was read."""
    if cfg.source != "defaults":
        return Check("config", "ok", str(Path(cfg.source).absolute()))
    looked = " or ".join(str(p.absolute()) for p in DEFAULT_PATHS)
    return Check("config", "warn", f"no config file ({looked} not found): the defaults apply",
                 "give --config PATH (or ZAPVISOR_CONFIG), or copy config.toml there")


def config_failed(message: str) -> list[Check]:
    """What can be checked when the config cannot be read: itself, and Python."""
    return [Check("config", "fail", message, "fix the config file"), python()]


def chrome(cfg: Config) -> Check:
    """Chrome found as a worker finds it, and runnable (its ``--version``)."""
    fix = ("apt-get install chromium-headless-shell, or set [chrome] executable "
           "(or CHROME_PATH) to a Chrome binary")
    headless = "true" if cfg.chrome.headless else "false"
    try:
        found = subprocess.run([sys.executable, "-m", WHICH_CHROME_MODULE, cfg.chrome.executable, headless],
                               capture_output=True, text=True, timeout=_TIMEOUT_S)
        answer = json.loads(found.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return Check("chrome", "fail", f"cannot look for Chrome ({exc})", fix)
    if "path" not in answer:
        return Check("chrome", "fail", str(answer.get("error")), fix)
    path = answer["path"]
    try:
        ran = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=_TIMEOUT_S,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("chrome", "fail", f"{path} does not run ({exc})", fix)
    said = (ran.stdout.strip() or ran.stderr.strip()).splitlines()
    if ran.returncode != 0:
        return Check("chrome", "fail", f"{path} --version failed (status {ran.returncode}): "
                     f"{said[-1] if said else 'no output'}", fix)
    return Check("chrome", "ok", f"{said[0] if said else 'runs'} ({path})")


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def state_dir(cfg: Config) -> Check:
    """The state directory: there (or creatable), ours, 0700."""
    path = cfg.state_dir
    if not path.exists():
        parent = _nearest_existing(path.parent)
        if os.access(parent, os.W_OK | os.X_OK):
            return Check("state_dir", "ok", f"{path} will be made at the first start (0700)")
        return Check("state_dir", "fail", f"{path} does not exist and {parent} is not writable",
                     f"mkdir -m 700 -p {path} && chown {os.geteuid()} {path} (as root), or set [state] dir")
    try:
        info = path.stat()
    except OSError as exc:
        return Check("state_dir", "fail", f"{path}: {exc.strerror}", "fix its permissions, or set [state] dir")
    if not stat.S_ISDIR(info.st_mode):
        return Check("state_dir", "fail", f"{path} is not a directory", "set [state] dir to a directory")
    if info.st_uid != os.geteuid():
        owner = _user_name(info.st_uid)
        return Check("state_dir", "fail", f"{path} belongs to {owner}, not to this user "
                     f"(uid {os.geteuid()}): the daemon must run as its owner",
                     f"run the daemon (and this check: sudo -u {owner} zapvisor doctor) as {owner}, "
                     f"or chown -R {os.geteuid()} {path}")
    if not os.access(path, os.W_OK | os.X_OK):
        return Check("state_dir", "fail", f"{path} is not writable", f"chmod 700 {path}")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        return Check("state_dir", "warn", f"{path} is {mode:04o}: others may read the WhatsApp "
                     "logins (the daemon tightens it at start)", f"chmod 700 {path}")
    return Check("state_dir", "ok", f"{path} (0700, ours)")


def _zapvisor_answers(url: str) -> str | None:
    """What a zapvisor at ``url`` says of its readiness; None if none answers there."""
    try:
        with urllib.request.urlopen(f"{url}/health/ready", timeout=_HTTP_TIMEOUT_S) as resp:
            body = json.loads(resp.read())
    except urllib.error.HTTPError as exc:  # 503: not ready, with the reason
        try:
            body = json.loads(exc.read())
        except ValueError:
            return None
    except (OSError, ValueError):
        return None
    if not isinstance(body, dict) or "ready" not in body or "host_starved" not in body:
        return None
    return "ready" if body["ready"] else f"not ready: {body.get('reason')}"


def port(cfg: Config) -> Check:
    """The configured address: free, or held by a running zapvisor."""
    host, number = cfg.server.host, cfg.server.port
    where = f"{host}:{number}"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the daemon binds
        try:
            sock.bind((host, number))
            return Check("port", "ok", f"{where} is free")
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return Check("port", "fail", f"cannot listen on {where}: {exc.strerror}",
                             "set [server] host and port (a port under 1024 needs root)")
    answer = _zapvisor_answers(cfg.server.local_url)
    if answer is not None:
        return Check("port", "ok", f"{where} is held by a running zapvisor ({answer})")
    return Check("port", "fail", f"{where} is in use by another program",
                 "stop it, or set [server] port (or ZAPVISOR_SERVER__PORT) to a free port")


def _mode_problem(path: Path, what: str, allowed: int) -> Check | None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & ~allowed & 0o777:
        return Check("api_key", "warn", f"{what} {path} is {mode:04o}: others may read the key",
                     f"chmod {allowed:o} {path}")
    return None


def api_key(cfg: Config) -> Check:
    """Where the API key is, and that it is readable and private."""
    if cfg.server.api_key:
        source = Path(cfg.source)
        if source.is_file():
            problem = _mode_problem(source, "the config that holds it,", 0o640)
            if problem is not None:
                return problem
        return Check("api_key", "ok", f"[server] api_key in {cfg.source}")
    if cfg.server.api_key_file:
        path = Path(cfg.base_dir) / cfg.server.api_key_file
        label = f"[server] api_key_file {path}"
    else:
        path = generated_key_path(cfg)
        label = f"the generated key {path}"
        if not path.exists():
            return Check("api_key", "ok", f"{path} will be generated at the first start (0600; "
                         "the log names the file, never the key)")
    try:
        key = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return Check("api_key", "fail", f"{label} does not exist",
                     f"put the key in {path} (mode 0600), or remove [server] api_key_file to have one generated")
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        return Check("api_key", "fail", f"cannot read {label}: {why}",
                     "run as the daemon's user, or fix the file's owner and mode (0600)")
    if not key or not usable_key(key):
        return Check("api_key", "fail", f"{label} is empty or not printable ASCII",
                     f"put one key in it, or delete {path} to have one generated")
    return _mode_problem(path, "the key file", 0o640 if cfg.server.api_key_file else 0o600) \
        or Check("api_key", "ok", f"{label} (readable, private)")


def cgroups() -> Check:
    """Whether the daemon, started like this process, gets a cgroup per session."""
    usable, where = probe()
    if usable:
        return Check("cgroups", "ok", f"a cgroup per session: {where}")
    return Check("cgroups", "warn", f"no cgroup per session from here ({where}): processes are "
                 "found by walking each session's tree instead",
                 "under systemd the shipped unit (Delegate=yes) gives the daemon its cgroup")


def systemd_analyze() -> Check:
    """Optional: systemd-analyze, to check the unit."""
    path = shutil.which("systemd-analyze")
    if path is None:
        return Check("systemd_analyze", "warn", "systemd-analyze not found (optional: it checks "
                     "the unit file)", "apt-get install systemd")
    try:
        ran = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=_TIMEOUT_S)
        first = (ran.stdout.splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check("systemd_analyze", "warn", f"{path} does not run ({exc})")
    return Check("systemd_analyze", "ok", f"{first} ({path})")


def run_checks(cfg: Config) -> list[Check]:
    """Every check, in the order people fix things."""
    return [config_file(cfg), python(), chrome(cfg), state_dir(cfg), port(cfg), api_key(cfg),
            cgroups(), systemd_analyze()]
