"""The selector loop behind ``FleetPublisher``: paho clients driven by a few threads (shards).

Each ``Shard`` owns an epoll selector and a thread. It watches its connections'
sockets, calls paho's ``loop_read`` / ``loop_write`` when they are ready and
``loop_misc`` (keepalive) once a second, and reconnects lost connections. paho's
socket callbacks, which may fire on any thread, reach the shard through a small queue
of operations and a wake-up socket pair. Every client is touched under its
``Connection.lock``, so it has one writer at a time.
"""

from __future__ import annotations

import logging
import selectors
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

logger = logging.getLogger(__name__)

MISC_INTERVAL_S = 1.0
"""How often each shard runs paho's keepalive and reconnect housekeeping."""
RECONNECT_DELAY_S = 2.0
"""Wait between two reconnect attempts of one lost connection."""


def _is_same(a: object, b: object) -> bool:
    """Identity without narrowing (paho's ``SocketLike`` would make the selector's type fail)."""
    return a is b


@dataclass(eq=False)
class Connection:
    """One badge's MQTT connection and what it has not seen acknowledged yet.

    Attributes:
        badge: the badge id.
        shard: the shard whose thread drives it.
        client: the paho client (set while connecting).
        lock: held by whoever touches the client.
        sock: the socket the shard watches, or None while disconnected.
        watching_write: whether the shard also waits for the socket to be writable.
        pending: message ids sent and not acknowledged yet, with their channel.
        answered: set once the broker answered the first CONNECT.
        refused: the reason the broker refused the connection, if it did.
        connected: whether the connection is up.
        retry_at: monotonic time of the next reconnect attempt.
    """

    badge: str
    shard: Shard
    client: mqtt.Client | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    sock: Any = None
    watching_write: bool = False
    pending: dict[int, str] = field(default_factory=dict)
    answered: threading.Event = field(default_factory=threading.Event)
    refused: str = ""
    connected: bool = False
    retry_at: float = 0.0


class Shard:
    """A selector thread driving the paho clients of a share of the badges."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.conns: list[Connection] = []
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None
        self._ops: list[tuple[str, Connection, Any]] = []
        self._ops_lock = threading.Lock()
        self._signalled = False
        self._stopping = False
        self._reconnect = True
        self._thread = threading.Thread(target=self._run, name=f"fleet-{index}", daemon=True)

    @property
    def is_own_thread(self) -> bool:
        """Whether the caller runs on this shard's thread."""
        return threading.get_ident() == self._thread.ident

    @property
    def selector(self) -> selectors.BaseSelector:
        if self._selector is None:
            raise RuntimeError("shard not started")
        return self._selector

    def start(self) -> None:
        """Open the selector and its wake-up pair, and start the thread."""
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread (connections stay open) and wait for it."""
        self._reconnect = False
        self._post("stop", None, None)
        self._thread.join()
        for closable in (self._selector, self._wake_r, self._wake_w):
            if closable is not None:
                closable.close()

    # --- callbacks from paho (any thread) -----------------------------------------

    def socket_opened(self, conn: Connection, sock: Any) -> None:
        if self.is_own_thread:
            self._register(conn, sock)
        else:
            self._post("open", conn, sock)

    def socket_closed(self, conn: Connection, sock: Any) -> None:
        if self.is_own_thread:
            self._unregister(conn, sock)
        elif not self._stopping:
            self._post("close", conn, sock)

    def write_wanted(self, conn: Connection) -> None:
        # On the shard's own thread the loop checks want_write() after every step.
        if not self.is_own_thread:
            self._post("write", conn, None)

    # --- the loop ---------------------------------------------------------------------

    def _post(self, op: str, conn: Connection | None, arg: Any) -> None:
        with self._ops_lock:
            self._ops.append((op, conn, arg))  # type: ignore[arg-type]
            if self._signalled:
                return
            self._signalled = True
        try:
            if self._wake_w is not None:
                self._wake_w.send(b"x")
        except OSError:
            pass  # a wake-up byte is already waiting, or we are shutting down

    def _run(self) -> None:
        next_misc = time.monotonic() + MISC_INTERVAL_S
        while not self._stopping:
            timeout = max(0.0, next_misc - time.monotonic())
            for key, mask in self.selector.select(timeout):
                conn: Connection | None = key.data
                if conn is None:
                    self._drain_wake()
                    continue
                with conn.lock:
                    if conn.client is None or conn.sock is not key.fileobj:
                        continue
                    if mask & selectors.EVENT_READ:
                        conn.client.loop_read()
                    if mask & selectors.EVENT_WRITE and conn.client.socket() is not None:
                        conn.client.loop_write()
                    self._sync_write(conn)
            self._apply_ops()
            if time.monotonic() >= next_misc:
                self._housekeeping()
                next_misc = time.monotonic() + MISC_INTERVAL_S

    def _drain_wake(self) -> None:
        try:
            while self._wake_r is not None and self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _apply_ops(self) -> None:
        with self._ops_lock:
            ops, self._ops = self._ops, []
            self._signalled = False
        for op, conn, arg in ops:
            if op == "stop":
                self._stopping = True
            elif op == "open":
                with conn.lock:
                    self._register(conn, arg)
                    self._sync_write(conn)
            elif op == "close":
                self._unregister(conn, arg)
            elif op == "write":
                with conn.lock:
                    if conn.client is not None and conn.client.socket() is not None:
                        conn.client.loop_write()
                        self._sync_write(conn)

    def _housekeeping(self) -> None:
        now = time.monotonic()
        for conn in self.conns:
            with conn.lock:
                client = conn.client
                if client is None:
                    continue
                if client.socket() is not None:
                    client.loop_misc()
                    if client.socket() is not None:
                        # Catch any write whose wake-up raced with a finishing write.
                        self._sync_write(conn)
                elif self._reconnect and conn.answered.is_set() and now >= conn.retry_at:
                    conn.retry_at = now + RECONNECT_DELAY_S
                    try:
                        client.reconnect()
                        self._sync_write(conn)
                    except OSError as exc:
                        logger.debug("badge=%s reconnect failed: %s", conn.badge, exc)

    def _register(self, conn: Connection, sock: Any) -> None:
        """Watch a new socket of ``conn`` (caller holds ``conn.lock`` or runs paho's connect)."""
        conn.sock = sock
        conn.watching_write = False
        self.selector.register(sock, selectors.EVENT_READ, conn)

    def _unregister(self, conn: Connection, sock: Any) -> None:
        if conn.sock is sock:
            conn.sock = None
            conn.watching_write = False
        try:
            self.selector.unregister(sock)
        except (KeyError, ValueError):
            pass  # never registered, or already gone

    def _sync_write(self, conn: Connection) -> None:
        """Watch the socket for writability exactly while paho has bytes to send."""
        client, sock = conn.client, conn.sock
        if client is None or sock is None or not _is_same(client.socket(), sock):
            return
        if client.want_write():
            client.loop_write()
        wants = _is_same(client.socket(), sock) and client.want_write()
        if wants != conn.watching_write:
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if wants else 0)
            self.selector.modify(sock, events, conn)
            conn.watching_write = wants
