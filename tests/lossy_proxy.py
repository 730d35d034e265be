"""An HTTP proxy in front of moto's DynamoDB server that can lose answers, as a network can.

It reads each request off the client's connection and forwards it to moto as it came (headers,
signature and body untouched). When told to, it carries out one call of a given operation and
then cuts the connection instead of answering: the write took effect, its answer never arrived.
Then it cuts the next few attempts of that operation unsent, so botocore's retries fail too,
as they do while a link stays down for seconds. Everything else passes through.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from aiohttp import ClientSession

_DROPPED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


@dataclass
class _Loss:
    operation: str  # e.g. "TransactWriteItems", as X-Amz-Target names it
    carry_out: bool  # forward the call before cutting (True: it lands; False: it never does)
    then_cut: dict[str, int]  # how many further calls of each operation to cut unsent


class LossyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""
        self.lost: list[str] = []  # the operations whose answers were lost, in order
        self._loss: _Loss | None = None
        self._cutting: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._session: ClientSession | None = None

    def lose_next(
        self, operation: str, *, carry_out: bool = True, then_cut: dict[str, int] | None = None
    ) -> None:
        """Lose the answer of the next `operation` call (carried out first, if `carry_out`),
        and then cut as many calls of each operation as `then_cut` says: by default botocore's
        two retries of this one (it makes 3 attempts in all)."""
        self._loss = _Loss(operation, carry_out, {operation: 2} if then_cut is None else then_cut)

    async def start(self) -> str:
        self._session = ClientSession(auto_decompress=False)
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        host, port = self._server.sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._session is not None:
            await self._session.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while await self._one(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection is to be cut."""
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request_line, *lines = head.rstrip("\r\n").split("\r\n")
        method, path, _ = request_line.split(" ", 2)
        headers = dict(line.split(": ", 1) for line in lines if line)
        lower = {k.lower(): v for k, v in headers.items()}
        body = await reader.readexactly(int(lower.get("content-length", "0")))
        operation = lower.get("x-amz-target", "").rpartition(".")[2]
        if self._cutting.get(operation, 0) > 0:
            self._cutting[operation] -= 1
            return False
        loss = self._loss
        if loss is not None and loss.operation == operation:
            self._loss = None
            if loss.carry_out:
                await self._forward(method, path, headers, body)
            self.lost.append(operation)
            self._cutting = dict(loss.then_cut)
            return False
        status, reason, answer_headers, answer = await self._forward(method, path, headers, body)
        out = [f"HTTP/1.1 {status} {reason}"]
        out += [f"{k}: {v}" for k, v in answer_headers if k.lower() not in _DROPPED_HEADERS]
        out.append(f"Content-Length: {len(answer)}")
        writer.write(("\r\n".join(out) + "\r\n\r\n").encode("latin-1") + answer)
        await writer.drain()
        return True

    async def _forward(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str, list[tuple[str, str]], bytes]:
        assert self._session is not None
        sent = {k: v for k, v in headers.items() if k.lower() not in _DROPPED_HEADERS}
        async with self._session.request(
            method, self.upstream + path, headers=sent, data=body
        ) as answer:
            return (
                answer.status,
                answer.reason or "",
                list(answer.headers.items()),
                await answer.read(),
            )
