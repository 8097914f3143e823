"""The Redis backend of the online store (production).

Keys (``P`` is the key prefix, ``F`` the feature id, ``U`` the user)::

    P:{F:U}:b     string   the user's batch blob (see ``_codec``); the day is its first 10 bytes
    P:{F:U}:s     string   a load's staging copy of that blob, alive only inside the load's transaction
                           (moved to ``:b`` by the write script; an expiry removes one a failed script left)
    P:{F:U}:t     hash     the streaming tail: event id -> tail entry (arrival, timestamp, JSON)
    P:F:users     zset     users with a batch part, scored by its day (days since 0001-01-01)
    P:F:state     string   the feature's state (JSON: loaded day, artefact hash, stream heartbeat)

The ``{F:U}`` hash tag puts a user's keys in one Redis Cluster slot; users spread evenly over the
slots. Loading runs one ``MULTI`` ... ``EXEC`` transaction per ``USERS_PER_CALL`` users (atomic per
call, so per user): on one Redis server, as deployed here, that is what makes a 200k-user load take
seconds. A Redis Cluster would need the calls grouped by slot (users of one call sharing a slot, and
the users zset split per slot); that is not built.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from typing import Any

import redis
import redis.asyncio as aredis
from redis.exceptions import RedisError

from feature_platform.runtimes.online._codec import (
    Blob,
    TailEvent,
    arrival_prefix,
    decode_tail_event,
    encode_tail_event,
)
from feature_platform.runtimes.online._store import (
    FeatureState,
    OnlineStoreError,
    StreamStatus,
    UserRecord,
    WriteCounts,
)
from feature_platform.settings import redact_credentials

# Many users per call (one transaction per ``USERS_PER_CALL`` users, not one per user: the per-call overhead
# was the whole cost of a load). A call is ``MULTI``, one ``SET`` of each user's blob to its staging key,
# this script, ``EXEC``: the blobs reach Redis as plain ``SET`` arguments (stored as received, no copy), and
# the script only moves them (``RENAME`` is a pointer move). Blobs passed as script arguments were copied
# twice more by Redis (into Lua strings, then out of them): 3x the server CPU of this path, measured.
# KEYS: the users zset, then the staging, batch and tail key of each user. ARGV: day, tail cutoff (arrival
# prefix), day score, then each user. Per user, in the one atomic transaction: never regress (compare the
# stored part's day, its first 10 bytes), move the staged blob in (or drop it), index the user by day, and
# trim the tail entries the new part covers (arrived before the end of the day). Returns how many written.
# A staged key outlives its transaction only if the script fails midway; its expiry (the SET's PX) then
# removes it, and a moved blob drops that expiry (PERSIST).
_WRITE_BATCH = """
local n = (#KEYS - 1) / 3
local written, members, tails = 0, {}, {}
for i = 1, n do
  local staged, batch = KEYS[3 * i - 1], KEYS[3 * i]
  local current = redis.call('GETRANGE', batch, 0, 9)
  if current == '' or current <= ARGV[1] then
    redis.call('RENAME', staged, batch)
    redis.call('PERSIST', batch)
    members[#members + 1] = ARGV[3]
    members[#members + 1] = ARGV[3 + i]
    tails[#tails + 1] = KEYS[3 * i + 1]
    written = written + 1
  else
    redis.call('DEL', staged)
  end
end
if written > 0 then
  redis.call('ZADD', KEYS[1], 'GT', unpack(members))
  if redis.call('EXISTS', unpack(tails)) > 0 then
    for _, tail in ipairs(tails) do
      local entries = redis.call('HGETALL', tail)
      for j = 1, #entries, 2 do
        if string.sub(entries[j + 1], 1, 20) < ARGV[2] then redis.call('HDEL', tail, entries[j]) end
      end
    end
  end
end
return written
"""

STAGED_EXPIRY_MS = 3_600_000
_SCRIPT_BULK = b"$%d\r\n%s\r\n" % (len(_WRITE_BATCH.encode()), _WRITE_BATCH.encode())

# KEYS: batch keys. ARGV: day. Deletes each batch part only if it is older than the day; returns how many.
_REMOVE_OLDER = """
local removed = 0
for i = 1, #KEYS do
  local current = redis.call('GETRANGE', KEYS[i], 0, 9)
  if current ~= '' and current < ARGV[1] then redis.call('DEL', KEYS[i]) removed = removed + 1 end
end
return removed
"""

# KEYS: state. ARGV: feature id, heartbeat (ISO). Sets only stream_heartbeat_at, in one atomic step, so a
# concurrent online load's batch fields are never overwritten with stale ones (streaming indexer, issue 11).
# A user's batch part and tail read as one script, so both come from one instant: a load that commits between
# a plain GET and HGETALL would show the old part with the tail its new part already trimmed (the new day's
# events briefly in neither). One script per user, not MULTI over the request: the two keys share the user's
# hash tag, so this stays valid on Redis Cluster, where a ranking request's users live in many slots.
_READ_USER = """
return {redis.call('GET', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""

_TOUCH_HEARTBEAT = """
local raw = redis.call('GET', KEYS[1])
local state
if raw then state = cjson.decode(raw) else state = {feature_id = ARGV[1], batch_users = 0} end
state['stream_heartbeat_at'] = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(state))
return 1
"""

CHUNK = 500
USERS_PER_CALL = 100
CALLS_PER_ROUND_TRIP = 8
ROUND_BYTES = 32 << 20  # long sequences: ~100 users of 500 events are ~27 MB
TIMEOUT_SECONDS = 1.0


def _end_of(day: date) -> datetime:
    return datetime.combine(day + timedelta(days=1), dtime(0), tzinfo=UTC)


class RedisOnlineStore:
    """Online store in Redis. Loading writes ``USERS_PER_CALL`` users per script call and pipelines
    ``CALLS_PER_ROUND_TRIP`` calls per round trip; serving uses one pipelined round trip per request
    (GET + HGETALL per user)."""

    def __init__(self, url: str, *, prefix: str = "fp", timeout: float = TIMEOUT_SECONDS,
                 max_connections: int = 64) -> None:
        self._url = url
        self._prefix = prefix
        self._timeout = timeout
        self._max_connections = max_connections
        self._sync = redis.Redis.from_url(url, socket_timeout=30.0, socket_connect_timeout=timeout)
        self._async: aredis.Redis | None = None
        self._remove = self._sync.register_script(_REMOVE_OLDER)

    # keys -----------------------------------------------------------------------------------------

    def batch_key(self, feature_id: str, user: str) -> str:
        # _pack_write builds the three keys of a user itself from the same parts (tests read them back here)
        return f"{self._prefix}:{{{feature_id}:{user}}}:b"

    def tail_key(self, feature_id: str, user: str) -> str:
        return f"{self._prefix}:{{{feature_id}:{user}}}:t"

    def staged_key(self, feature_id: str, user: str) -> str:
        """Where a load puts a user's blob before the write script moves it (same slot as the batch key)."""
        return f"{self._prefix}:{{{feature_id}:{user}}}:s"

    def _users_key(self, feature_id: str) -> str:
        return f"{self._prefix}:{feature_id}:users"

    def _state_key(self, feature_id: str) -> str:
        return f"{self._prefix}:{feature_id}:state"

    def describe(self) -> str:
        return f"redis {redact_credentials(self._url)} (prefix {self._prefix!r})"

    # loading --------------------------------------------------------------------------------------

    def write_batch(self, feature_id: str, day: date, users: list[str], blobs: Sequence[Blob]) -> WriteCounts:
        """One transaction (see :meth:`_pack_write`) per ``USERS_PER_CALL`` users, up to
        ``CALLS_PER_ROUND_TRIP`` of them or ``ROUND_BYTES`` per round trip, packed here rather than by
        redis-py: its hiredis packer copies every argument into a fresh ``bytes`` per command, on top of the
        loader's own join of each blob. Here a round is written into one reused buffer (one copy of each
        blob's body, straight from the encoder's Arrow buffer into memory that is already mapped) and sent
        with one ``sendall``; the replies of a round are read after the next round is sent, so Redis works
        on one round while this thread packs the next."""
        head_args = _bulk(day.isoformat().encode()) + _bulk(arrival_prefix(_end_of(day))) + _bulk(
            str(day.toordinal()).encode())
        buffer = _RoundBuffer()
        written = 0
        pool = self._sync.connection_pool
        try:
            connection = pool.get_connection()
        except (RedisError, OSError) as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        try:
            in_flight: list[int] = []  # users per transaction of the round sent last, replies unread
            calls: list[int] = []
            for first in range(0, len(users), USERS_PER_CALL):
                chunk = users[first : first + USERS_PER_CALL]
                self._pack_write(buffer, feature_id, head_args, chunk, blobs[first : first + USERS_PER_CALL])
                calls.append(len(chunk))
                full = len(calls) == CALLS_PER_ROUND_TRIP or buffer.size >= ROUND_BYTES
                if full or first + len(chunk) == len(users):
                    buffer.send(connection)
                    for size in in_flight:
                        written += _read_transaction(connection, size)
                    in_flight, calls = calls, []
            for size in in_flight:
                written += _read_transaction(connection, size)
        except (RedisError, OSError) as exc:
            connection.disconnect()  # replies may be left unread: never reuse this connection
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        except BaseException:
            connection.disconnect()
            raise
        finally:
            pool.release(connection)
        return WriteCounts(written=written, kept_newer=len(users) - written)

    def _pack_write(self, buffer: _RoundBuffer, feature_id: str, head_args: bytes, users: list[str],
                    blobs: Sequence[Blob]) -> None:
        """One transaction for ``users``: ``MULTI``, a ``SET`` of each blob to its staging key, the write
        script (KEYS and ARGV as it describes), ``EXEC``."""
        # a user's keys are tag + user + end + one letter (b"P:{F:", user, b"}:", b"b" | b"s" | b"t")
        tag, end = (f"{self._prefix}:{{{feature_id}:".encode(), b"}:")
        buffer.add(_MULTI)
        script_keys = [_bulk(self._users_key(feature_id).encode())]
        for user, blob in zip(users, blobs, strict=True):
            key = tag + user.encode() + end
            staged = b"$%d\r\n%ss\r\n" % (len(key) + 1, key)
            script_keys.append(b"%s$%d\r\n%sb\r\n$%d\r\n%st\r\n" % (staged, len(key) + 1, key, len(key) + 1, key))
            head, body = (blob, b"") if isinstance(blob, bytes) else blob
            # the blob is one bulk string, its head and body copied side by side into the round's buffer
            buffer.add(b"*5\r\n$3\r\nSET\r\n%s$%d\r\n%s" % (staged, len(head) + len(body), head), body,
                       _STAGED_EXPIRY_TAIL)
        n = len(users)
        buffer.add(b"*%d\r\n$4\r\nEVAL\r\n" % (3 + 1 + 3 * n + 3 + n), _SCRIPT_BULK, _bulk(b"%d" % (1 + 3 * n)),
                   b"".join(script_keys), head_args, b"".join(_bulk(user.encode()) for user in users), _EXEC)

    def remove_users_older_than(self, feature_id: str, day: date) -> int:
        removed = 0
        users_key = self._users_key(feature_id)
        try:
            stale = [_text(m) for m in self._sync.zrangebyscore(users_key, "-inf", day.toordinal() - 1)]
            for start in range(0, len(stale), CHUNK):
                keys = [self.batch_key(feature_id, user) for user in stale[start : start + CHUNK]]
                removed += int(self._remove(keys=keys, args=[day.isoformat()]))
            self._sync.zremrangebyscore(users_key, "-inf", day.toordinal() - 1)
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return removed

    def put_state(self, state: FeatureState) -> None:
        try:
            self._sync.set(self._state_key(state.feature_id), state.model_dump_json())
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def get_state(self, feature_id: str) -> FeatureState | None:
        try:
            raw = self._sync.get(self._state_key(feature_id))
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return None if raw is None else FeatureState.model_validate_json(raw)

    # streaming tail --------------------------------------------------------------------------------

    def append_tail(self, feature_id: str, user: str, events: list[TailEvent], *, bound: int) -> int:
        key = self.tail_key(feature_id, user)
        mapping = {
            e.event_id: encode_tail_event(e.event_id, _from_us(e.arrived_us), _from_us(e.timestamp_us), e.json)
            for e in events
        }
        try:
            if mapping:
                self._sync.hset(key, mapping=mapping)  # type: ignore[arg-type]
            size = int(self._sync.hlen(key))
            if size > bound:
                entries = [decode_tail_event(_text(k), _raw(v)) for k, v in self._sync.hgetall(key).items()]
                entries.sort(key=lambda e: (e.timestamp_us, e.event_id), reverse=True)
                drop = [e.event_id for e in entries[bound:]]
                self._sync.hdel(key, *drop)
                size -= len(drop)
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return size

    # serving --------------------------------------------------------------------------------------

    def _client(self) -> aredis.Redis:
        if self._async is None:
            self._async = aredis.Redis.from_url(
                self._url, socket_timeout=self._timeout, socket_connect_timeout=self._timeout,
                max_connections=self._max_connections,
            )
        return self._async

    async def read_users(self, feature_id: str, users: list[str]) -> list[UserRecord]:
        try:
            pipe = self._client().pipeline(transaction=False)
            for user in users:
                pipe.eval(_READ_USER, 2, self.batch_key(feature_id, user), self.tail_key(feature_id, user))
            replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return [_read_reply(reply) for reply in replies]

    def read_users_sync(self, feature_id: str, users: list[str]) -> list[UserRecord]:
        try:
            pipe = self._sync.pipeline(transaction=False)
            for user in users:
                pipe.eval(_READ_USER, 2, self.batch_key(feature_id, user), self.tail_key(feature_id, user))
            replies = pipe.execute()
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return [_read_reply(reply) for reply in replies]

    async def ping(self) -> None:
        try:
            await self._client().ping()
        except (RedisError, OSError) as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    async def aclose(self) -> None:
        if self._async is not None:
            await self._async.aclose()
            self._async = None

    def close(self) -> None:
        self._sync.close()

    # streaming indexer status (issue 11) ------------------------------------------------------------

    def _stream_key(self, feature_id: str) -> str:
        return f"{self._prefix}:{feature_id}:stream"

    def put_stream_status(self, status: StreamStatus) -> None:
        try:
            self._sync.register_script(_TOUCH_HEARTBEAT)(
                keys=[self._state_key(status.feature_id)],
                args=[status.feature_id, status.heartbeat_at.isoformat()],
            )
            self._sync.set(self._stream_key(status.feature_id), status.model_dump_json())
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def append_tails(self, feature_id: str, tails: dict[str, list[TailEvent]], *, bound: int) -> None:
        # One script call per CHUNK users (not an HSET and an HLEN per user: the per-command cost was the
        # whole cost of a micro-batch's tail write). KEYS: the users' tail keys. ARGV: bound, then per user
        # its event count n and n (event id, tail value) pairs. Returns the 1-based indices of the users
        # whose tail is now over the bound; those are trimmed exactly as append_tail does (rare).
        script = self._sync.register_script("""
local bound = tonumber(ARGV[1])
local over = {}
local j = 2
for i = 1, #KEYS do
  local last = j + 2 * tonumber(ARGV[j])
  j = j + 1
  while j <= last do
    local upto = math.min(j + 199, last)
    redis.call('HSET', KEYS[i], unpack(ARGV, j, upto))
    j = upto + 1
  end
  if redis.call('HLEN', KEYS[i]) > bound then over[#over + 1] = i end
end
return over
""")
        users = [u for u, events in tails.items() if events]
        try:
            for start in range(0, len(users), CHUNK):
                chunk = users[start : start + CHUNK]
                args: list[Any] = [bound]
                for user in chunk:
                    events = tails[user]
                    args.append(len(events))
                    for e in events:
                        args.append(e.event_id)
                        args.append(_tail_value(e))
                over = script(keys=[self.tail_key(feature_id, user) for user in chunk], args=args)
                for index in over:
                    self.append_tail(feature_id, chunk[int(index) - 1], [], bound=bound)
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc

    def get_stream_status(self, feature_id: str) -> StreamStatus | None:
        try:
            raw = self._sync.get(self._stream_key(feature_id))
        except RedisError as exc:
            raise OnlineStoreError(f"{self.describe()}: {exc}") from exc
        return None if raw is None else StreamStatus.model_validate_json(raw)

    def delete_prefix(self) -> int:
        """Remove every key under this store's prefix (tests and benchmarks clean up with it)."""
        removed = 0
        for key in self._sync.scan_iter(match=f"{self._prefix}:*", count=1000):
            removed += int(self._sync.delete(key))
        return removed


def _bulk(value: bytes) -> bytes:
    """One RESP bulk string."""
    return b"$%d\r\n%s\r\n" % (len(value), value)


_MULTI = b"*1\r\n$5\r\nMULTI\r\n"
_EXEC = b"*1\r\n$4\r\nEXEC\r\n"
_STAGED_EXPIRY_TAIL = b"\r\n" + _bulk(b"PX") + _bulk(b"%d" % STAGED_EXPIRY_MS)  # ends a SET of a staged blob


def _read_transaction(connection: Any, users: int) -> int:
    """The replies of one write transaction (``+OK``, a ``+QUEUED`` per command, ``EXEC``'s array); returns
    the script's count of users written. A command that failed inside ``EXEC`` is an error, not a count."""
    for _ in range(users + 2):
        connection.read_response()  # raises on an error reply (e.g. OOM when queueing)
    replies = connection.read_response()
    if replies is None:
        raise OnlineStoreError("a load transaction was aborted by Redis (EXEC returned nil)")
    for reply in replies:
        if isinstance(reply, Exception):
            raise OnlineStoreError(f"a load transaction failed in Redis: {reply}")
    return int(replies[-1])


class _RoundBuffer:
    """A growable byte buffer reused across rounds: copying into pages already mapped is several times
    cheaper than building a fresh ``bytes`` per round (each fresh page costs a fault)."""

    def __init__(self) -> None:
        self._data = bytearray(1 << 20)
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes added since the last send."""
        return self._size

    def add(self, *pieces: bytes | memoryview) -> None:
        for piece in pieces:
            end = self._size + len(piece)
            if end > len(self._data):
                self._data.extend(bytes(max(end, 2 * len(self._data)) - len(self._data)))
            self._data[self._size : end] = piece
            self._size = end

    def send(self, connection: Any) -> None:
        """Send what was added (one ``sendall``) and empty the buffer, keeping its memory."""
        with memoryview(self._data) as whole, whole[: self._size] as used:
            connection.send_packed_command([used])
        self._size = 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _raw(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def _from_us(micros: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def _read_reply(reply: list[Any]) -> UserRecord:
    """_READ_USER's reply: [part or nil, flat HGETALL list (field, value, field, value, ...)]."""
    batch, flat = reply
    return _record(batch or None, dict(zip(flat[::2], flat[1::2], strict=True)))


def _record(batch: bytes | None, tail: dict[Any, Any]) -> UserRecord:
    entries = [decode_tail_event(_text(k), _raw(v)) for k, v in tail.items()] if tail else []
    return UserRecord(batch=batch, tail=entries)


def wait_until_reachable(url: str, seconds: float) -> bool:
    """True once ``url`` answers PING (used by tests and the benchmark to start a private Redis)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.2, socket_timeout=0.5)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return True
            except RedisError:
                time.sleep(0.05)
        return False
    finally:
        client.close()


def _tail_value(event: TailEvent) -> bytes:
    """``encode_tail_event`` without the datetime round trip (the streaming indexer's hot path)."""
    return f"{event.arrived_us:020d}{event.timestamp_us:020d}".encode("ascii") + event.json
