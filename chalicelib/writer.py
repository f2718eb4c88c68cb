"""Renditions go to S3 while the slower ones are still being encoded.

The handler's S3 round trips then hide behind its longest encode (the
2048 px WebP) instead of following it. One thread writes, in turn: the
writes never overlap one another, nor the caller's own AWS calls, which
wait in `finish` (moto's in-process backends are not thread-safe).
"""

import threading
from concurrent.futures import Future, ThreadPoolExecutor

from chalicelib.observability import logger as log
from chalicelib.storage import S3Storage


class RenditionWriter:
    """One image's writes; `write` from any thread, then `finish` or `abandon` once."""

    def __init__(self, storage: S3Storage) -> None:
        self._storage = storage
        self._lock = threading.Lock()
        self._thread: ThreadPoolExecutor | None = None
        self._writes: list[Future] = []
        self._closed = False
        self.written: list[str] = []  # keys, as their writes succeeded

    def write(self, key: str, data: bytes, content_type: str) -> None:
        """Queue one object; ignored once finished (an encoder outliving a failure)."""
        with self._lock:
            if self._closed:
                return
            self._thread = self._thread or ThreadPoolExecutor(1, thread_name_prefix="s3-write")
            self._writes.append(self._thread.submit(self._write, key, data, content_type))

    def _write(self, key: str, data: bytes, content_type: str) -> None:
        self._storage.write_rendition(key, data, content_type)
        self.written.append(key)

    def finish(self) -> None:
        """Wait for every queued write; raise the first that failed."""
        with self._lock:
            self._closed = True
        if self._thread:
            self._thread.shutdown(wait=True)
        failed = next((w.exception() for w in self._writes if w.exception()), None)
        if failed:
            raise failed

    def abandon(self, delete: bool) -> None:
        """The rendering failed: wait for the writes, and with `delete` remove what
        they wrote (the caller knows whether a record still refers to those keys)."""
        try:
            self.finish()
        except Exception:  # the rendering's own error is the one to raise
            log.warning("a rendition write failed while its rendering failed too", exc_info=True)
        if delete and self.written:
            self._storage.delete_renditions(self.written)
