"""Snapshots on S3 or any S3-compatible store (MinIO, Ceph, R2, moto): ``s3://bucket/prefix``.

boto3 is imported here, when the store is opened, so a daemon without ``[snapshots] url =
"s3://…"`` never loads it. Its calls block, so each runs in a thread; its client is
thread-safe. Credentials come from ``[snapshots] access_key_id`` / ``secret_access_key`` when
set, else from boto3's own chain (``AWS_*`` variables, ``~/.aws``, an instance role); the
secret is handed to boto3 only, never logged nor put in a message. Uploads are atomic by S3's
own rule: an object is visible only once it is complete (large files go up in parts, and the
parts become the object at once).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from supervisor.cluster.snapstore import StoredObject, parse_key
from supervisor.errors import SnapshotStoreError
from supervisor.settings import SnapshotsConfig

__all__ = ["S3Store"]

T = TypeVar("T")
_DELETE_BATCH = 1000  # S3's DeleteObjects limit


class S3Store:
    """A bucket and key prefix of an S3-compatible store."""

    def __init__(self, cfg: SnapshotsConfig) -> None:
        import boto3  # lazily: see the module's docstring
        import botocore.config
        import botocore.exceptions

        self._errors: tuple[type[BaseException], ...] = (
            botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError)
        self._bucket = cfg.bucket
        self._prefix = cfg.prefix
        self._endpoint = cfg.endpoint_url
        options = botocore.config.Config(
            region_name=cfg.region, connect_timeout=10, read_timeout=60,
            retries={"max_attempts": 4, "mode": "standard"},
            # Checksums only where S3 requires them: several S3-compatible stores refuse the
            # headers that botocore >= 1.36 adds to every upload by default.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required")
        credentials: dict[str, Any] = {}
        if cfg.access_key_id:
            credentials = {"aws_access_key_id": cfg.access_key_id,
                           "aws_secret_access_key": cfg.secret_access_key}
        # A session of its own: boto3's default session is not safe to share between threads.
        self._client = boto3.session.Session().client(
            "s3", endpoint_url=cfg.endpoint_url or None, config=options, **credentials)

    @property
    def location(self) -> str:
        """``s3://bucket/prefix`` and the endpoint, if not AWS."""
        where = f"s3://{self._bucket}/{self._prefix}".rstrip("/")
        return f"{where} at {self._endpoint}" if self._endpoint else where

    def _name(self, key: str) -> str:
        if parse_key(key) is None:
            raise ValueError(f"not a snapshot key: {key!r}")  # a bug of ours, never user input
        return f"{self._prefix}/{key}" if self._prefix else key

    async def _run(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except self._errors as exc:
            # botocore's messages name the operation, the bucket and the error code: no secret.
            raise SnapshotStoreError(f"snapshot store {self.location}: {what} failed: {exc}") from None

    async def put(self, key: str, source: Path) -> None:
        """Upload ``source`` as ``key`` (in parts when large)."""
        await self._run(f"uploading {key}", self._client.upload_file, str(source), self._bucket,
                        self._name(key))

    async def get(self, key: str, target: Path) -> None:
        """Download ``key`` into ``target``."""
        await self._run(f"downloading {key}", self._client.download_file, self._bucket,
                        self._name(key), str(target))

    def _objects(self, session_id: str) -> list[StoredObject]:
        prefix = f"{self._prefix}/{session_id}/" if self._prefix else f"{session_id}/"
        cut = len(prefix) - len(session_id) - 1
        found = []
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket,
                                                                       Prefix=prefix)
        for page in pages:
            for item in page.get("Contents", []):
                key = item["Key"][cut:]
                parsed = parse_key(key)
                if parsed is not None and parsed[0] == session_id:
                    found.append(StoredObject(key, int(item["Size"])))
        return found

    async def objects(self, session_id: str) -> list[StoredObject]:
        """The session's objects (every page of the listing)."""
        return await self._run(f"listing {session_id}", self._objects, session_id)

    def _delete(self, keys: Sequence[str]) -> None:
        names = [self._name(key) for key in keys]
        for start in range(0, len(names), _DELETE_BATCH):
            batch = names[start:start + _DELETE_BATCH]
            answer = self._client.delete_objects(Bucket=self._bucket, Delete={
                "Objects": [{"Key": name} for name in batch], "Quiet": True})
            errors = answer.get("Errors", [])
            if errors:
                first = errors[0]
                raise SnapshotStoreError(f"snapshot store {self.location}: deleting "
                                         f"{first.get('Key')} failed: {first.get('Code')} "
                                         f"{first.get('Message')}")

    async def delete(self, keys: Sequence[str]) -> None:
        """Delete these objects, up to 1000 per request."""
        if keys:
            await self._run("deleting", self._delete, keys)
