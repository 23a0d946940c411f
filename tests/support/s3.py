"""A real S3 HTTP API for tests: moto's server mode (``python -m moto.server``, from PyPI) in its
own process on a free loopback port, with a bucket made through boto3 like any client would.

    with MotoServer(tmp_path) as s3:
        s3.config(prefix="zv")         # a SnapshotsConfig for s3://<bucket>/zv at s3.url
        s3.client().list_objects_v2(Bucket=s3.bucket)

moto keeps its objects in memory: each server starts empty, and is killed (and waited for) at
the end. Its credentials are any non-empty pair; the tests use a fixed fake one.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from supervisor.settings import SnapshotsConfig
from tests.support.procs import wait_until
from tests.support.proxies import free_port

__all__ = ["ACCESS_KEY", "SECRET_KEY", "MotoServer"]

ACCESS_KEY = "zvtestaccesskey"
SECRET_KEY = "zv-test-secret-never-logged-0123456789"


class MotoServer:
    """One moto server process and one bucket in it."""

    def __init__(self, workdir: Path, bucket: str = "zv-snapshots") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.bucket = bucket
        self.log_path = workdir / f"moto-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"moto server exited {self.proc.returncode}:\n"
                                 f"{self.log_path.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{self.url}/moto-api/", timeout=2) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def __enter__(self) -> MotoServer:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_until(self._answers, timeout=60, interval=0.1, message=f"moto server on {self.url}")
            self.client().create_bucket(Bucket=self.bucket)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def stop(self) -> None:
        """Kill the server and wait for it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def config(self, prefix: str = "zv", **changes: Any) -> SnapshotsConfig:
        """``[snapshots]`` pointing at this server's bucket."""
        values: dict[str, Any] = {
            "url": f"s3://{self.bucket}/{prefix}".rstrip("/"), "endpoint_url": self.url,
            "access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY, "region": "us-east-1"}
        return SnapshotsConfig(**{**values, **changes})

    def client(self) -> Any:
        """A boto3 client of this server (for the tests' own look at the bucket)."""
        import boto3

        return boto3.session.Session().client(
            "s3", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def keys(self, prefix: str = "") -> list[str]:
        """Every object name in the bucket under ``prefix``, sorted."""
        answer = self.client().list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(item["Key"] for item in answer.get("Contents", []))
