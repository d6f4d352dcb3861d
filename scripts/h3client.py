#!/usr/bin/env python3
"""An HTTP/3 client for the tests, driving aioquic (an independent QUIC and
HTTP/3 implementation), over ONE QUIC connection per run.

    python scripts/h3client.py --url https://127.0.0.1:PORT --ca cert.pem \
        [--insecure] [--concurrent] [--connect-timeout S] [--timeout S]

Reads one JSON object a line on stdin and writes one JSON line on stdout for
each, in input order, flushed at once. A request:

    {"method": "GET", "path": "/v1/products", "headers": [["accept", "*/*"]],
     "body_b64": "...",            optional; content-length is added unless given
     "stream_bytes": N, "chunk": M, optional: an N-byte body of b"x" in M-byte
                                    DATA frames (default 16384), no content-length
     "timeout": S}                  optional; overrides --timeout for this one

is answered with

    {"status": 200, "headers": [["content-type", "..."]], "body_b64": "...",
     "stream_id": 0, "sent_bytes": N, "error": "..."}

where "error" is present only when the exchange failed (timeout, stream reset,
connection closed): "status" is then null or the status already received, and
"body_b64" holds what arrived. "sent_bytes" (body bytes handed to QUIC) comes
with uploads; an upload stops when the server sends STOP_SENDING or completes
its response first.

Sequential by default: a request is sent when its line is read, and the next
line is read after its answer is written, so a test can hold the connection
open between two requests (reload the certificate, then send another). With
--concurrent, requests are collected until a blank line or the end of input
and then sent at once, each on its own stream.

Control lines (a batch pending under --concurrent is sent first):
    {"cmd": "info"}     -> {"info": {"alpn", "peer_cert_sha256", "streams",
                                     "goaway", "closed"}}
    {"cmd": "wait_closed", "timeout": S}
                        -> {"closed": {"error_code", "reason"}, "goaway": ID}
                           once the server has closed the connection ("goaway":
                           the stream id its GOAWAY carried, or null), or
                           {"error", "goaway"} after S seconds (default 10).

After a GOAWAY the client sends no new request (each is answered with an
"error" saying so) but does not close the connection itself: the server must.

Exit status: 0 when every line was answered without "error"; 1 when some
answer carried one; 2 on bad usage, bad input or a failed connection (one line
on stderr). Every wait is bounded, so the client never hangs.
"""

import argparse
import asyncio
import base64
import hashlib
import json
import logging
import os
import socket
import stat
import sys
import traceback
import urllib.parse
from dataclasses import dataclass, field

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.buffer import Buffer, BufferReadError
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, HeadersReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import (
    ConnectionTerminated,
    StopSendingReceived,
    StreamDataReceived,
    StreamReset,
)

H3_NO_ERROR = 0x100
H3_REQUEST_CANCELLED = 0x10C
H3_GOAWAY = 0x7
DEFAULT_CHUNK = 16384
# Body bytes an upload may have handed to QUIC and not yet had acknowledged;
# past it the upload waits for the peer, so a large body is paced by the
# server's flow control rather than buffered whole in the client.
UPLOAD_WINDOW = 256 * 1024


class UsageError(Exception):
    """Bad input or a failed connection: exit 2 with the message."""


@dataclass
class Exchange:
    """One request and its response, on one stream."""

    stream_id: int
    status: int | None = None
    headers: list = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    error: str | None = None
    sent_bytes: int | None = None
    upload_stopped: bool = False
    done: asyncio.Future = None

    def finish(self, error: str | None = None) -> None:
        if not self.done.done():
            self.error = error
            self.done.set_result(None)

    def answer(self) -> dict:
        out = {
            "status": self.status,
            "headers": self.headers,
            "body_b64": base64.b64encode(bytes(self.body)).decode(),
            "stream_id": self.stream_id,
        }
        if self.sent_bytes is not None:
            out["sent_bytes"] = self.sent_bytes
        if self.error is not None:
            out["error"] = self.error
        return out


# === impl H3Client ===


class H3Client(QuicConnectionProtocol):
    """A QUIC connection carrying HTTP/3 requests; tracks the server's
    control stream itself because aioquic discards GOAWAY."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.h3 = H3Connection(self._quic)
        self.exchanges: dict[int, Exchange] = {}  # those not yet answered
        self.streams = 0  # request streams opened
        self.goaway: int | None = None
        self.closed: dict | None = None
        self.alpn: str | None = None
        self.progress = asyncio.Event()  # set on every datagram received
        # Server-opened unidirectional streams: unread bytes, None once known
        # not to be the control stream.
        self._uni: dict[int, bytearray | None] = {}
        self._control: int | None = None

    def datagram_received(self, data, addr) -> None:
        super().datagram_received(data, addr)
        self.progress.set()

    def quic_event_received(self, event) -> None:
        if isinstance(event, ConnectionTerminated):
            self.closed = {
                "error_code": event.error_code,
                "reason": event.reason_phrase,
            }
            for ex in self.exchanges.values():
                ex.finish(
                    f"connection closed (code {event.error_code:#x}: {event.reason_phrase!r})"
                )
            self.progress.set()
            return
        if isinstance(event, StreamDataReceived) and event.stream_id % 4 == 3:
            self._watch_server_uni(event.stream_id, event.data)
        elif (
            isinstance(event, StopSendingReceived) and event.stream_id in self.exchanges
        ):
            self.exchanges[event.stream_id].upload_stopped = True
            self.progress.set()
        elif isinstance(event, StreamReset) and event.stream_id in self.exchanges:
            self.exchanges[event.stream_id].finish(
                f"stream reset by the server (code {event.error_code:#x})"
            )
        if self.alpn is None:
            self.alpn = self._quic.tls.alpn_negotiated
        for h3_event in self.h3.handle_event(event):
            self._h3_event(h3_event)

    def _h3_event(self, event) -> None:
        ex = self.exchanges.get(getattr(event, "stream_id", None))
        if ex is None:
            return
        if isinstance(event, HeadersReceived):
            fields = [
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers
            ]
            status = dict(fields).get(":status")
            if ex.status is None and status is not None:
                if int(status) < 200:  # interim (100, 103): wait for the final one
                    return
                ex.status = int(status)
                ex.headers = [[k, v] for k, v in fields if not k.startswith(":")]
            # else: trailers; not reported
        elif isinstance(event, DataReceived):
            ex.body += event.data
        if event.stream_ended:
            ex.finish()

    def _watch_server_uni(self, stream_id: int, data: bytes) -> None:
        """Finds the server's control stream (the unidirectional stream of
        type 0) and reads GOAWAY on it; other streams (QPACK) are dropped
        once their type is known."""
        if stream_id not in self._uni:
            if self._control is not None:
                return  # opened after the control stream: not it
            self._uni[stream_id] = bytearray()
        buf = self._uni[stream_id]
        if buf is None:
            return
        buf += data
        if stream_id != self._control:
            try:
                reader = Buffer(data=bytes(buf))
                stream_type = reader.pull_uint_var()
            except BufferReadError:
                return
            if stream_type != 0:
                self._uni[stream_id] = None
                return
            self._control = stream_id
            del buf[: reader.tell()]
        while True:
            try:
                reader = Buffer(data=bytes(buf))
                frame_type = reader.pull_uint_var()
                payload = reader.pull_bytes(reader.pull_uint_var())
            except BufferReadError:
                return
            del buf[: reader.tell()]
            if frame_type == H3_GOAWAY:
                self.goaway = Buffer(data=payload).pull_uint_var()
                self.progress.set()

    async def wait_progress(self) -> None:
        self.progress.clear()
        await self.progress.wait()

    def unacked(self, stream_id: int) -> int:
        """Bytes written to a stream and not yet acknowledged (aioquic internals)."""
        stream = self._quic._streams.get(stream_id)
        if stream is None:
            return 0
        return stream.sender._buffer_stop - stream.sender._buffer_start

    def info(self) -> dict:
        cert = self._quic.tls._peer_certificate
        digest = None
        if cert is not None:
            from cryptography.hazmat.primitives.serialization import Encoding

            digest = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
        return {
            "alpn": self.alpn,
            "peer_cert_sha256": digest,
            "streams": self.streams,
            "goaway": self.goaway,
            "closed": self.closed,
        }


# === requests ===


@dataclass
class Request:
    """A request line, checked before anything is sent."""

    headers: list  # [(bytes, bytes)], pseudo-headers first
    body: bytes | None
    stream_bytes: int | None
    chunk: int
    timeout: float


def parse_request(req: dict, authority: str, timeout: float) -> Request:
    try:
        method, path = req.get("method", "GET"), req.get("path", "/")
        if not isinstance(method, str) or not isinstance(path, str):
            raise TypeError("method and path must be strings")
        given = [(str(k).lower(), str(v)) for k, v in req.get("headers", [])]
        body = None
        if "body_b64" in req:
            body = base64.b64decode(req["body_b64"], validate=True)
        stream_bytes = req.get("stream_bytes")
        stream_bytes = None if stream_bytes is None else int(stream_bytes)
        chunk = int(req.get("chunk", DEFAULT_CHUNK))
        timeout = float(req.get("timeout", timeout))
    except (TypeError, ValueError) as exc:  # binascii.Error is a ValueError
        raise UsageError(f"stdin: bad request {req!r}: {exc}") from None
    if chunk < 1 or (stream_bytes or 0) < 0 or timeout <= 0:
        raise UsageError(f"stdin: bad request {req!r}: chunk, stream_bytes, timeout")
    if body is not None and stream_bytes is not None:
        raise UsageError(f"stdin: bad request {req!r}: body_b64 and stream_bytes")
    headers = request_headers(method, path, authority, given, body)
    return Request(headers, body, stream_bytes, chunk, timeout)


def request_headers(method, path, authority, given, body) -> list:
    fields = [
        (":method", method),
        (":scheme", "https"),
        (":authority", authority),
        (":path", path),
    ]
    fields += given
    if body is not None and not any(k == "content-length" for k, _ in given):
        fields.append(("content-length", str(len(body))))
    return [(k.encode(), v.encode()) for k, v in fields]


async def upload(client: H3Client, ex: Exchange, total: int, chunk: int) -> None:
    """Streams `total` bytes in `chunk`-byte DATA frames, paced by acknowledgements."""
    ex.sent_bytes = 0
    piece = b"x" * chunk
    while ex.sent_bytes < total:
        if ex.upload_stopped or ex.done.done() or client.closed:
            break
        if client.unacked(ex.stream_id) > UPLOAD_WINDOW:
            await client.wait_progress()
            continue
        n = min(chunk, total - ex.sent_bytes)
        ex.sent_bytes += n
        client.h3.send_data(ex.stream_id, piece[:n], end_stream=ex.sent_bytes == total)
        client.transmit()
        await asyncio.sleep(0)  # let datagrams in between chunks
    if ex.sent_bytes < total and not ex.upload_stopped and not client.closed:
        # The response came first (RFC 9114 4.1): end the request stream.
        client._quic.reset_stream(ex.stream_id, H3_NO_ERROR)
        client.transmit()


async def exchange(client: H3Client, req: Request) -> dict:
    refused = None
    if client.closed is not None:
        refused = "not sent: the connection is closed"
    elif client.goaway is not None:  # RFC 9114 5.2: no new requests after GOAWAY
        refused = f"not sent: the server sent GOAWAY (stream id {client.goaway})"
    if refused:
        return {"status": None, "headers": [], "body_b64": "", "error": refused}
    stream_id = client._quic.get_next_available_stream_id()
    ex = Exchange(stream_id=stream_id, done=asyncio.get_running_loop().create_future())
    client.exchanges[stream_id] = ex
    client.streams += 1
    client.h3.send_headers(
        stream_id, req.headers, end_stream=req.body is None and req.stream_bytes is None
    )
    if req.body is not None:
        client.h3.send_data(stream_id, req.body, end_stream=True)
        ex.sent_bytes = len(req.body)
    client.transmit()
    try:
        work = [asyncio.shield(ex.done)]
        if req.stream_bytes is not None:
            work.append(upload(client, ex, req.stream_bytes, req.chunk))
        await asyncio.wait_for(asyncio.gather(*work), req.timeout)
    except TimeoutError:
        ex.finish(f"no complete response within {req.timeout} s")
        if client.closed is None:  # cancel the request both ways
            client._quic.reset_stream(stream_id, H3_REQUEST_CANCELLED)
            client._quic.stop_stream(stream_id, H3_REQUEST_CANCELLED)
            client.transmit()
    del client.exchanges[stream_id]
    return ex.answer()


async def wait_closed(client: H3Client, cmd: dict) -> dict:
    limit = float(cmd.get("timeout", 10))
    try:
        await asyncio.wait_for(client.wait_closed(), limit)
    except TimeoutError:
        return {
            "error": f"the connection was still open after {limit} s",
            "goaway": client.goaway,
        }
    return {"closed": client.closed, "goaway": client.goaway}


# === the run ===


async def lines():
    """Yields stdin's lines without blocking the event loop (QUIC keeps
    being served while a test decides what to send next)."""
    mode = os.fstat(sys.stdin.fileno()).st_mode
    if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or sys.stdin.isatty()):
        # A regular file or /dev/null, which epoll cannot watch: read it whole.
        for line in sys.stdin.read().splitlines():
            yield line
        return
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=64 * 1024 * 1024)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), sys.stdin
    )
    while True:
        line = await reader.readline()
        if not line:
            return
        yield line.decode().rstrip("\r\n")


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def connect(args) -> tuple:
    url = urllib.parse.urlsplit(args.url)
    if url.scheme != "https" or not url.hostname:
        raise UsageError(f"--url must be https://HOST[:PORT], not {args.url!r}")
    port = url.port or 443
    config = QuicConfiguration(
        alpn_protocols=H3_ALPN, is_client=True, idle_timeout=args.idle_timeout
    )
    config.server_name = args.server_name or url.hostname
    if args.insecure:
        import ssl

        config.verify_mode = ssl.CERT_NONE
    elif args.ca:
        config.load_verify_locations(cafile=args.ca)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(url.hostname, port, type=socket.SOCK_DGRAM)
    except socket.gaierror as exc:
        raise UsageError(f"cannot resolve {url.hostname}: {exc}") from exc
    family, _, _, _, addr = infos[0]
    local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
    transport, client = await loop.create_datagram_endpoint(
        lambda: H3Client(QuicConnection(configuration=config)), local_addr=local
    )
    client.connect(addr)
    try:
        await asyncio.wait_for(client.wait_connected(), args.connect_timeout)
    except TimeoutError:
        transport.close()
        raise UsageError(
            f"no QUIC handshake with {url.hostname}:{port} within {args.connect_timeout} s"
        ) from None
    except ConnectionError:
        transport.close()
        why = client.closed or {}
        raise UsageError(
            f"QUIC handshake with {url.hostname}:{port} failed "
            f"(code {why.get('error_code', 0):#x}: {why.get('reason', '')!r})"
        ) from None
    authority = url.netloc.rsplit("@", 1)[-1]
    return transport, client, authority


async def run(args) -> int:
    transport, client, authority = await connect(args)
    failed = False
    batch: list[Request] = []

    async def flush() -> None:
        nonlocal failed
        answers = await asyncio.gather(*(exchange(client, r) for r in batch))
        batch.clear()
        for answer in answers:
            failed |= "error" in answer
            emit(answer)

    try:
        async for line in lines():
            if not line.strip():
                await flush()
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise TypeError("not an object")
            except (ValueError, TypeError) as exc:
                raise UsageError(
                    f"stdin: not a JSON object ({exc}): {line[:200]!r}"
                ) from None
            if "cmd" in item:
                await flush()
                if item["cmd"] == "info":
                    emit({"info": client.info()})
                elif item["cmd"] == "wait_closed":
                    answer = await wait_closed(client, item)
                    failed |= "error" in answer
                    emit(answer)
                else:
                    raise UsageError(f"stdin: unknown cmd {item['cmd']!r}")
                continue
            batch.append(parse_request(item, authority, args.timeout))
            if not args.concurrent:
                await flush()
        await flush()
    finally:
        client.close(error_code=H3_NO_ERROR)
        try:
            await asyncio.wait_for(client.wait_closed(), 2)
        except TimeoutError:
            pass
        transport.close()
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--url", required=True, help="https://HOST:PORT of the HTTP/3 server"
    )
    parser.add_argument("--ca", help="PEM file of the certificate(s) to trust")
    parser.add_argument(
        "--insecure", action="store_true", help="do not verify the server's certificate"
    )
    parser.add_argument(
        "--server-name", help="TLS server name (default: the URL's host)"
    )
    parser.add_argument(
        "--concurrent", action="store_true", help="send each batch of requests at once"
    )
    parser.add_argument(
        "--connect-timeout", type=float, default=10.0, help="seconds for the handshake"
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds for each response"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=60.0,
        help="the client's QUIC idle timeout, s",
    )
    args = parser.parse_args()
    if not args.ca and not args.insecure:
        parser.error("give --ca CERT.pem, or --insecure")
    # aioquic logs a failed handshake itself; the one line below says it.
    logging.getLogger("quic").addHandler(logging.NullHandler())
    try:
        return asyncio.run(run(args))
    except UsageError as exc:
        print(f"h3client: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception:  # noqa: BLE001 (a bug here or in aioquic: exit 2, never 1)
        traceback.print_exc()
        print("h3client: internal error (above)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
