"""The zygote: one pre-imported interpreter that forks workers on request.

A fresh ``python -m worker`` spends ~130 ms of CPU importing pyppeteer, psutil and structlog,
and keeps ~20 MB of its own pages. Forking from an interpreter that already imported them
makes a worker start in a few ms and share those pages copy-on-write. The zygote itself never
runs an event loop and never starts a thread, so forking it is safe.

Control channel: a SOCK_SEQPACKET socketpair, one JSON object per packet; the messages are
``worker.protocol.ZygoteOp``'s (spawn + the worker's socket fd; spawned + a pidfd of the
worker; failed; exited).

The pidfd lets the supervisor signal the worker without a pid-reuse race even though the
worker is not its child; the exit status comes from the zygote, which reaps it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import selectors
import signal
import socket
import sys
from typing import Any

# Imported here, before any fork, to pay for its imports (pyppeteer, psutil, structlog) once.
from worker import main as worker_main
from worker import protocol
from worker.prctl import become_subreaper, set_death_signal, set_name

__all__ = ["main", "serve"]


def _send(control: socket.socket, message: dict[str, Any], fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    control.setblocking(True)
    try:
        socket.send_fds(control, [data], fds or [])
    finally:
        control.setblocking(False)


def _child(control: socket.socket, selector: selectors.BaseSelector, wakeup_r: int,
           wakeup_w: int, fd: int, session_id: str, env: dict[str, str]) -> None:
    """In the forked child: drop the zygote's state, become a worker, never return."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        selector.close()
        control.close()
        os.close(wakeup_r)
        os.close(wakeup_w)
        os.environ.update(env)
        # ps, top and the tests tell a worker from the zygote by this name.
        set_name(protocol.WORKER_PROCESS_NAME)
        code = worker_main.run(fd, session_id)
    except BaseException:  # a worker that cannot even start must still exit, never fork on
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _spawn(control: socket.socket, selector: selectors.BaseSelector, wakeup: tuple[int, int],
           request: dict[str, Any], fds: list[int]) -> None:
    if len(fds) != 1:
        for fd in fds:
            os.close(fd)
        _send(control, {"op": protocol.ZygoteOp.FAILED, "id": request.get("id"), "error": "expected one fd"})
        return
    try:
        pid = os.fork()
    except OSError as exc:
        os.close(fds[0])
        _send(control, {"op": protocol.ZygoteOp.FAILED, "id": request["id"], "error": f"fork: {exc}"})
        return
    if pid == 0:
        _child(control, selector, wakeup[0], wakeup[1], fds[0], str(request["session"]),
               {str(k): str(v) for k, v in dict(request.get("env", {})).items()})
    os.close(fds[0])
    pidfd = os.pidfd_open(pid)  # before any waitpid: the pid cannot have been reused yet
    try:
        _send(control, {"op": protocol.ZygoteOp.SPAWNED, "id": request["id"], "pid": pid}, [pidfd])
    finally:
        os.close(pidfd)


def _reap(control: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _send(control, {"op": protocol.ZygoteOp.EXITED, "pid": pid,
                        "returncode": os.waitstatus_to_exitcode(status)})


def serve(control: socket.socket) -> int:
    """Answer spawn requests until the supervisor closes the channel."""
    control.setblocking(False)
    wakeup_r, wakeup_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
    signal.set_wakeup_fd(wakeup_w)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)  # only to wake the selector
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ, "control")
    selector.register(wakeup_r, selectors.EVENT_READ, "wakeup")
    while True:
        for key, _ in selector.select():
            if key.data == "wakeup":
                while True:
                    try:
                        if not os.read(wakeup_r, 512):
                            break
                    except BlockingIOError:
                        break
                _reap(control)
                continue
            try:
                data, fds, _flags, _addr = socket.recv_fds(control, protocol.ZYGOTE_MAX_MESSAGE_BYTES, 4)
            except BlockingIOError:
                continue
            if not data:
                return 0  # the supervisor is gone; our children get their death signal
            request = json.loads(data)
            if request.get("op") == protocol.ZygoteOp.SPAWN:
                try:
                    _spawn(control, selector, (wakeup_r, wakeup_w), request, fds)
                except (BrokenPipeError, ConnectionResetError):
                    return 0  # the supervisor went away mid-spawn (it is stopping): so do we
            else:
                for fd in fds:
                    os.close(fd)


def main() -> None:
    """``python -m worker.zygote --fd N --parent PID`` (protocol.ZYGOTE_MODULE)."""
    parser = argparse.ArgumentParser(prog="python -m worker.zygote")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True, help="the supervisor's pid")
    args = parser.parse_args()
    set_death_signal(signal.SIGKILL)  # nothing to close gracefully here
    if os.getppid() != args.parent:
        sys.exit(0)  # the supervisor died before we set the death signal
    # Chrome's zygote and renderers are re-parented when their browser dies: make them ours,
    # so that _reap collects them instead of leaving zombies to an init that may not reap.
    become_subreaper()
    # Everything imported so far is moved out of the collector's reach: a worker's collections
    # then never write to these objects, so their pages stay shared with the zygote instead of
    # being copied into every worker (Instagram's "copy-on-write friendly" gc.freeze).
    gc.freeze()
    sys.exit(serve(socket.socket(fileno=args.fd)))


if __name__ == "__main__":
    main()
