"""Signing a window's drafts: in this process, or shared with a signer process.

Ed25519 signing is the largest single cost of a big simulation, and every signature
is independent of the others, so a window's drafts can be signed on two cores:
``ProcessSealer`` sends the first ``share`` of them to a signer process (which holds
the same keys), signs the rest here meanwhile, and puts the signatures back in
order. Ed25519 signatures are deterministic, so the payloads are byte for byte those
``LocalSealer`` (or ``Badge.report_encoded`` and friends) make.

The signer is started with ``spawn``: as with any spawning ``multiprocessing`` code, a
script that asks for it must keep its top level behind ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Protocol

import nacl.bindings
import nacl.signing

from firmware_sim.badge import Draft, Outgoing

logger = logging.getLogger(__name__)

SIGNATURE_LEN = 64
POLL_S = 1.0
"""How often a waiting sealer checks that the signer process is still alive."""
DEFAULT_SHARE = 1.0
"""Share of a window's drafts the signer process signs when this process also steps the
world (crowd and radio): it has the most other work, so the signer takes all of it."""
SHARE_WITH_WORLD_WORKER = 0.75
"""The share when a world worker steps the world: this process drafts the messages and signs
the rest, which balances the two CPU times (10,000 badges: about 10.5 s each per 15-minute
run; at 0.85 the signer took 11.5 s and this process 9 s, and the run was ~5 % slower)."""
_OK, _FAILED = b"\x00", b"\x01"
"""First byte of the signer's answer: signatures follow, or an error message."""


class Sealer(Protocol):
    """Signs drafts of many badges, keeping their order."""

    def seal(self, who: Sequence[int], drafts: Sequence[Draft]) -> list[Outgoing]:
        """Sign ``drafts[i]`` with the key of badge ``who[i]``; the payloads in order."""
        ...

    def submit(self, who: Sequence[int], drafts: Sequence[Draft]) -> Pending:
        """Start sealing a batch; ``Pending.result()`` gives what ``seal`` would return.

        A signer process works on the batch while this process goes on (with the next
        window's drafts); one batch at a time may be pending.
        """
        ...

    def close(self) -> None:
        """Release what the sealer holds (a process); it cannot seal afterwards."""
        ...


class Pending(Protocol):
    """A batch being sealed (``Sealer.submit``)."""

    def result(self) -> list[Outgoing]:
        """The batch's payloads in order, waiting for the signer if need be."""
        ...


class Done:
    """A batch sealed already."""

    def __init__(self, sealed: list[Outgoing]) -> None:
        self._sealed = sealed

    def result(self) -> list[Outgoing]:
        """The batch's payloads in order."""
        return self._sealed


def secret_keys(seeds: Sequence[bytes]) -> list[bytes]:
    """The 64-byte Ed25519 secret keys (libsodium's form) of 32-byte seeds."""
    return [nacl.bindings.crypto_sign_seed_keypair(seed)[1] for seed in seeds]


def secret_key_of(signer: nacl.signing.SigningKey) -> bytes:
    """The 64-byte secret key (libsodium's form: seed, then public key) of ``signer``.

    The same bytes ``secret_keys`` derives from the seed, without deriving them again.
    """
    return signer.encode() + signer.verify_key.encode()


def _sign_all(keys: Sequence[bytes], who: Sequence[int], data: bytes, ends: Sequence[int]) -> bytes:
    """The signatures of message ``i`` (``data[ends[i - 1]:ends[i]]``) by ``keys[who[i]]``."""
    sign, size = nacl.bindings.crypto_sign, SIGNATURE_LEN
    starts = [0, *ends[:-1]]
    return b"".join(
        sign(data[a:b], keys[k])[:size] for k, a, b in zip(who, starts, ends, strict=True)
    )


class LocalSealer:
    """Signs everything in this process.

    With libsodium's ``crypto_sign`` (``nacl.bindings``, PyNaCl's public low-level API):
    the same Ed25519 signature as ``SigningKey.sign`` without building a
    ``SignedMessage`` around it.

    Args:
        seeds: each badge's 32-byte Ed25519 seed, by badge index.
        keys: their secret keys if already at hand (``secret_key_of``); else derived.
    """

    def __init__(self, seeds: Sequence[bytes], keys: Sequence[bytes] | None = None) -> None:
        self._keys = secret_keys(seeds) if keys is None else list(keys)

    def seal(self, who: Sequence[int], drafts: Sequence[Draft]) -> list[Outgoing]:
        """Sign ``drafts[i]`` with the key of badge ``who[i]``; the payloads in order."""
        keys, sign, size = self._keys, nacl.bindings.crypto_sign, SIGNATURE_LEN
        return [
            Outgoing(d.topic, sign(d.prefix + d.body, keys[k])[:size] + d.body)
            for k, d in zip(who, drafts, strict=True)
        ]

    def submit(self, who: Sequence[int], drafts: Sequence[Draft]) -> Pending:
        """Seal the batch now (there is no other process to wait for)."""
        return Done(self.seal(who, drafts))

    def close(self) -> None:
        """Nothing to release."""


class ProcessSealer:
    """Signs ``share`` of each batch in a signer process and the rest here, at the same time.

    Args:
        seeds: each badge's 32-byte Ed25519 seed, by badge index.
        share: share of each batch the signer process signs (0 to 1).
        keys: their secret keys if already at hand (``secret_key_of``); else derived.

    Raises:
        ValueError: ``share`` is outside 0..1.
    """

    def __init__(
        self,
        seeds: Sequence[bytes],
        share: float = DEFAULT_SHARE,
        keys: Sequence[bytes] | None = None,
    ) -> None:
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"share must be within 0..1, got {share}")
        self.share = share
        if share < 1.0:
            self._local = LocalSealer(seeds, keys)
        else:  # share 1: signs none here
            self._local = LocalSealer([])
        context = multiprocessing.get_context("spawn")
        self._waiting = False  # a batch's part is with the signer, not yet collected
        self._conn, theirs = context.Pipe()
        self._process = context.Process(
            target=_serve,
            # The secret keys when at hand: the signer need not derive them again.
            args=(list(seeds), None if keys is None else list(keys), theirs),
            name="signer",
            daemon=True,
        )
        self._process.start()
        theirs.close()
        logger.info("signer process pid=%s started, share %.2f", self._process.pid, share)

    def seal(self, who: Sequence[int], drafts: Sequence[Draft]) -> list[Outgoing]:
        """Sign ``drafts[i]`` with the key of badge ``who[i]``; the payloads in order.

        Raises:
            RuntimeError: the signer process failed or died.
        """
        return self.submit(who, drafts).result()

    def submit(self, who: Sequence[int], drafts: Sequence[Draft]) -> Pending:
        """Send ``share`` of the batch to the signer, sign the rest here, return at once.

        ``result()`` of the returned batch waits for the signer's part. The previous
        batch must have been collected first.

        Raises:
            RuntimeError: the previous batch was not collected.
        """
        if self._waiting:
            raise RuntimeError("the previous batch was not collected")
        cut = round(len(drafts) * self.share)
        if cut:
            # One buffer of all the signed inputs (not a pickled list of 10,000 bytes).
            ends = list(itertools.accumulate(len(d.prefix) + len(d.body) for d in drafts[:cut]))
            self._conn.send((list(who[:cut]), ends))
            self._conn.send_bytes(b"".join([p for d in drafts[:cut] for p in (d.prefix, d.body)]))
            self._waiting = True
        mine = self._local.seal(who[cut:], drafts[cut:]) if cut < len(drafts) else []
        if not cut:
            return Done(mine)
        return _Signing(self, drafts[:cut], mine)

    def _collect(self, drafts: Sequence[Draft], mine: list[Outgoing]) -> list[Outgoing]:
        """The signer's answer for ``drafts`` (its part of a batch), then ``mine``."""
        cut = len(drafts)
        answer = self._receive()
        self._waiting = False
        if answer[:1] != _OK or len(answer) != 1 + SIGNATURE_LEN * cut:
            detail = answer[1:300].decode(errors="replace")
            raise RuntimeError(f"the signer process failed: {detail}")
        size = SIGNATURE_LEN
        theirs = [  # signature i is answer[1 + 64 i : 65 + 64 i]
            Outgoing(d.topic, answer[1 + size * i : 1 + size * (i + 1)] + d.body)
            for i, d in enumerate(drafts)
        ]
        return theirs + mine

    def _receive(self) -> bytes:
        while not self._conn.poll(POLL_S):
            if not self._process.is_alive():
                raise RuntimeError(f"the signer process exited with code {self._process.exitcode}")
        try:
            return self._conn.recv_bytes()
        except EOFError as exc:
            raise RuntimeError("the signer process closed its pipe") from exc

    def close(self) -> None:
        """Stop the signer process and reap it (dropping a batch not collected)."""
        try:
            if self._waiting and self._process.is_alive():
                self._receive()  # a signer blocked on sending its answer reads nothing
            if self._process.is_alive():
                self._conn.send(None)
        except (BrokenPipeError, OSError, RuntimeError):
            pass
        self._waiting = False
        self._process.join(5.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._conn.close()


class _Signing:
    """A ``ProcessSealer`` batch whose first part is with the signer process."""

    def __init__(self, sealer: ProcessSealer, theirs: Sequence[Draft], mine: list[Outgoing]):
        self._sealer, self._theirs, self._mine = sealer, theirs, mine
        self._sealed: list[Outgoing] | None = None

    def result(self) -> list[Outgoing]:
        """The batch's payloads in order (waits for the signer the first time).

        Raises:
            RuntimeError: the signer process failed or died.
        """
        if self._sealed is None:
            self._sealed = self._sealer._collect(self._theirs, self._mine)
        return self._sealed


def _serve(seeds: list[bytes], keys: list[bytes] | None, conn: Connection) -> None:
    """The signer process: sign each batch it receives, answer with the signatures."""
    if keys is None:
        keys = secret_keys(seeds)
    while True:
        try:
            batch = conn.recv()
        except EOFError:  # the parent went away
            return
        if batch is None:
            return
        who, ends = batch
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        try:
            answer = _OK + _sign_all(keys, who, data, ends)
        except Exception as exc:  # the parent raises it as RuntimeError
            answer = _FAILED + f"{type(exc).__name__}: {exc}".encode()
        conn.send_bytes(answer)


def make_sealer(
    seeds: Sequence[bytes],
    *,
    signer_process: bool,
    world_process: bool = False,
    keys: Sequence[bytes] | None = None,
) -> Sealer:
    """A ``LocalSealer``, or with ``signer_process`` a ``ProcessSealer`` whose share suits
    whether a world worker (``world_process``) takes the crowd and radio off this process.
    ``keys``: the seeds' secret keys if already at hand (``secret_key_of``)."""
    if not signer_process:
        return LocalSealer(seeds, keys)
    share = SHARE_WITH_WORLD_WORKER if world_process else DEFAULT_SHARE
    return ProcessSealer(seeds, share, keys)
