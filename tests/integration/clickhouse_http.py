"""A ClickHouse HTTP endpoint in front of one embedded ClickHouse (chDB) directory, for tests only.

No ClickHouse server can be installed here (Debian's is 18.16; PyPI and the other registries
ship none), and chDB does not start the server's own listeners ("start_servers_callback is not
set"). Several worker processes must still share one ClickHouse for the scale-out tests, so this
process owns the chDB directory and answers the part of the HTTP interface that
clickhouse-connect uses: queries (bound parameters in the URL or as multipart form fields,
settings from the URL), commands, and
inserts of Native blocks (possibly compressed). Every statement runs on the real engine, so
storage, MergeTree, materialized views and insert deduplication tokens behave as on a server;
only the HTTP front is a stand-in (no sessions, no progress headers, one statement at a time,
request settings applied to inserts only).

Run: python -m tests.integration.clickhouse_http DIR PORT  (prints "ready" when it answers).
"""

from __future__ import annotations

import email
import gzip
import json
import re
import sys
import tempfile
import threading
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import chdb

# URL parameters that the HTTP interface consumes itself: never engine settings.
_TRANSPORT = frozenset(
    {
        "query",
        "database",
        "default_format",
        "buffer_size",
        "session_id",
        "session_timeout",
        "session_check",
        "query_id",
        "quota_key",
        "compress",
        "decompress",
        "wait_end_of_query",
        "client_protocol_version",
        "role",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "enable_http_compression",
        "user",
        "password",
    }
)
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TRAILING_FORMAT = re.compile(r"\bFORMAT\s+(\w+)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_INSERT = re.compile(r"^\s*INSERT\s+INTO\b", re.IGNORECASE)
_CODE = re.compile(r"Code: (\d+)")
_EMBEDDED_INSERT = re.compile(rb"^\s*(INSERT\s+INTO\b[^\n]*?\bFORMAT\s+\w+)[ \t]*\r?\n", re.IGNORECASE)


def _decompress(data: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    if not encoding or encoding == "identity":
        return data
    if encoding == "lz4":
        import lz4.frame

        out, rest = [], data  # the client may send several frames, one per block
        while rest:
            decompressor = lz4.frame.LZ4FrameDecompressor()
            out.append(decompressor.decompress(rest))
            rest = decompressor.unused_data
        return b"".join(out)
    if encoding == "zstd":
        import zstandard

        return bytes(zstandard.ZstdDecompressor().decompressobj().decompress(data))
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    raise ValueError(f"unsupported Content-Encoding {encoding!r}")


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Engine:
    """One chDB engine and one handle; statements run one at a time.

    Settings sent with a request apply to INSERTs only (as a SETTINGS clause: async_insert,
    insert_deduplication_token, deduplicate_blocks_in_dependent_materialized_views are what the
    writer relies on); other statements run with the engine's defaults.
    """

    def __init__(self, directory: Path) -> None:
        self._lock = threading.Lock()
        self._conn = chdb.connect(f"file:{directory}")
        self._spool = Path(tempfile.mkdtemp(prefix="hcp-ch-http-"))

    def run(self, sql: str, fmt: str, settings: dict[str, str], params: dict[str, str], data: bytes | None) -> bytes:
        infile: Path | None = None
        if data is not None:
            # INSERT INTO t (cols) FORMAT Native + the block as the body → read the block from a file.
            match = _TRAILING_FORMAT.search(sql)
            if match is None:
                raise ValueError("an INSERT with a body needs a FORMAT clause")
            infile = self._spool / f"{uuid.uuid4().hex}.bin"
            infile.write_bytes(data)
            clause = ", ".join(f"{name} = {_quote(value)}" for name, value in settings.items())
            sql = (
                f"{sql[: match.start()]} FROM INFILE {_quote(str(infile))}"
                f"{f' SETTINGS {clause}' if clause else ''} FORMAT {match.group(1)}"
            )
        try:
            with self._lock:
                result = self._conn.query(sql, fmt, params=params) if params else self._conn.query(sql, fmt)
                return bytes(result.bytes()) if hasattr(result, "bytes") else bytes(result)
        finally:
            if infile is not None:
                infile.unlink(missing_ok=True)


class _Handler(BaseHTTPRequestHandler):
    engine: Engine
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if urlsplit(self.path).path.rstrip("/") in ("/ping", "") and "query=" not in self.path:
            self._reply(200, b"Ok.\n", "text/plain")
            return
        self._handle(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            body = self._read_chunked()
        else:
            body = self.rfile.read(length) if length else b""
        body = _decompress(body, self.headers.get("Content-Encoding", ""))
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("multipart/form-data"):
            # clickhouse-connect sends a query with long bound parameters as form fields.
            self._handle(b"", _form_fields(content_type, body))
        else:
            self._handle(body)

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip(), 16)
            if size == 0:
                self.rfile.readline()
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _handle(self, body: bytes, form: dict[str, str] | None = None) -> None:
        url = urlsplit(self.path)
        args = dict(parse_qsl(url.query, keep_blank_values=True))
        args.update(form or {})
        query = args.get("query", "")
        params = {name[6:]: value for name, value in args.items() if name.startswith("param_")}
        settings = {
            name: value
            for name, value in args.items()
            if name not in _TRANSPORT and not name.startswith("param_") and _SETTING_NAME.match(name)
        }
        data: bytes | None = None
        embedded = _EMBEDDED_INSERT.match(body) if not query else None
        if query and _INSERT.match(query) and body:
            sql, data = query, body
        elif embedded is not None:  # "INSERT INTO t (…) FORMAT Native\n" + the block, in the body
            sql, data = embedded.group(1).decode("utf-8"), body[embedded.end() :]
        else:
            sql = f"{query}\n{body.decode('utf-8')}" if query and body else (query or body.decode("utf-8"))
        match = _TRAILING_FORMAT.search(sql)
        fmt = match.group(1) if match and data is None else args.get("default_format", "TabSeparated")
        try:
            result = self.engine.run(sql, fmt, settings, params, data)
        except Exception as error:  # the engine's exception text is what a server sends
            text = str(error)
            start = text.find("Code: ")
            text = text[start:] if start >= 0 else f"Code: 1000. DB::Exception: {text}"
            code = _CODE.search(text)
            self._reply(
                500,
                text.encode("utf-8", "replace"),
                "text/plain",
                {"X-ClickHouse-Exception-Code": code.group(1) if code else "1000"},
            )
            return
        self._reply(
            200,
            result,
            "application/octet-stream",
            {
                "X-ClickHouse-Format": fmt,
                "X-ClickHouse-Timezone": "UTC",
                "X-ClickHouse-Query-Id": args.get("query_id") or uuid.uuid4().hex,
                "X-ClickHouse-Summary": json.dumps({"read_rows": "0", "written_rows": "0"}),
            },
        )

    def _reply(self, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def _form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """The fields of a multipart/form-data body (query, param_*), as text."""
    message = email.message_from_bytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    fields = {}
    for part in message.walk():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            fields[name] = payload.decode("utf-8")
    return fields


def serve(directory: Path, port: int) -> None:
    _Handler.engine = Engine(directory)
    server = ThreadingHTTPServer(("127.0.0.1", port), _Handler)
    server.daemon_threads = True
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve(Path(sys.argv[1]).resolve(), int(sys.argv[2]))
