"""CDP over a pair of pipes, as Chrome's --remote-debugging-pipe speaks it (NUL-terminated JSON),
with a fake Chrome on the other ends: pyppeteer's Connection works over it unchanged."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from worker.browser.pipe import DevToolsPipe, PipeConnection


class FakeChrome:
    """Reads commands from its end of one pipe, answers each on the other."""

    def __init__(self) -> None:
        self.commands_r, self.commands_w = os.pipe()
        self.answers_r, self.answers_w = os.pipe()
        self.seen: list[dict[str, object]] = []

    def ours(self) -> tuple[int, int]:
        """The worker's ends: (read answers, write commands)."""
        return self.answers_r, self.commands_w

    async def serve(self, answers: int) -> None:
        buffer = b""
        loop = asyncio.get_running_loop()
        while len(self.seen) < answers:
            buffer += await loop.run_in_executor(None, os.read, self.commands_r, 65536)
            while b"\0" in buffer:
                raw, _, buffer = buffer.partition(b"\0")
                command = json.loads(raw)
                self.seen.append(command)
                answer = {"id": command["id"], "result": {"echo": command["method"], "big": "x" * 200_000}}
                event = {"method": "Target.targetCreated", "params": {"targetInfo": {}}}
                # An event and the answer in one write, the answer split across two writes.
                data = json.dumps(event).encode() + b"\0" + json.dumps(answer).encode() + b"\0"
                await loop.run_in_executor(None, os.write, self.answers_w, data[:1000])
                await loop.run_in_executor(None, os.write, self.answers_w, data[1000:])

    def exit(self) -> None:
        for fd in (self.commands_r, self.answers_w):
            os.close(fd)


@pytest.mark.asyncio
async def test_pyppeteer_connection_speaks_over_the_pipe_and_sees_its_end() -> None:
    chrome = FakeChrome()
    pipe = await DevToolsPipe.open(*chrome.ours())
    connection = PipeConnection(pipe, asyncio.get_running_loop())
    events: list[object] = []
    connection.on("Target.targetCreated", events.append)
    serving = asyncio.create_task(chrome.serve(answers=2))
    first = await asyncio.wait_for(connection.send("Browser.getVersion"), 5)
    second = await asyncio.wait_for(connection.send("Target.getTargets", {"a": 1}), 5)
    await serving
    assert first["echo"] == "Browser.getVersion" and len(first["big"]) == 200_000
    assert second["echo"] == "Target.getTargets" and len(events) == 2
    assert [c["method"] for c in chrome.seen] == ["Browser.getVersion", "Target.getTargets"]
    assert chrome.seen[1]["params"] == {"a": 1}
    closed = asyncio.Event()
    connection.setClosedCallback(closed.set)
    pending = connection.send("Browser.close")
    chrome.exit()  # Chrome goes away: the end of its pipe fails what still waits, and closes
    await asyncio.wait_for(closed.wait(), 5)
    with pytest.raises(Exception, match="Target closed"):
        await asyncio.wait_for(pending, 5)
    await pipe.close()  # idempotent after pyppeteer's own close


@pytest.mark.asyncio
async def test_the_pipe_refuses_a_message_without_end() -> None:
    read_fd, write_fd = os.pipe()
    sink_r, sink_w = os.pipe()
    pipe = await DevToolsPipe.open(read_fd, sink_w)
    os.write(write_fd, b'{"id": 1, "res')
    os.close(write_fd)
    with pytest.raises(ConnectionResetError):
        await asyncio.wait_for(pipe.recv(), 5)
    await pipe.close()
    os.close(sink_r)
