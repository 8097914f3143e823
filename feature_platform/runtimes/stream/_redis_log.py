"""The event log on Redis Streams (production).

Keys: ``P:log:<stream>`` (a Redis stream; each entry has fields ``a`` = arrival µs, ``r`` = raw JSON),
``P:dlq:<feature id>`` (hash: dead-letter key -> JSON). Consumer groups are Redis' own (``XGROUP``,
``XREADGROUP``, ``XACK``), and ``XAUTOCLAIM`` hands a dead consumer's pending entries to a live one.
:meth:`RedisEventLog.trim` drops what every group has acknowledged (``XTRIM MINID`` in a Lua script).

``XREADGROUP`` and ``XAUTOCLAIM`` replies are taken raw (redis-py's reply callbacks off for those two
commands on this client) and parsed here straight into :class:`LogEntry` tuples: redis-py's parsing built
a dict per entry, which cost more than the rest of reading.
"""

from __future__ import annotations

from typing import Any

import orjson
import redis
from redis.exceptions import RedisError, ResponseError

from feature_platform.runtimes.stream._log import DeadLetter, EventLogError, GroupInfo, LogEntry
from feature_platform.settings import redact_credentials

# KEYS[1]: the stream. ARGV[1]: a floor id ("" for none): entries at or above it are kept whatever the groups
# say. In one atomic step (no group can be created or move back between the reading and the trimming): per
# group the oldest entry it may still need is its oldest pending entry, else the one after its last
# delivered id; XTRIM MINID to the least of those (and of the floor) drops only entries every group has
# acknowledged. No group: nothing is trimmed (a producer may be filling the log before any indexer exists).
# Ids are compared as (milliseconds, sequence) numbers; both fit a Lua double exactly.
_TRIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local keep = nil
for _, group in ipairs(groups) do
  local name, last
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] elseif group[i] == 'last-delivered-id' then last = group[i + 1] end
  end
  local ms, seq = parse(last)
  local need = string.format('%.0f-%.0f', ms, seq + 1)
  local pending = redis.call('XPENDING', KEYS[1], name)
  if pending[1] > 0 and less(pending[2], need) then need = pending[2] end
  if keep == nil or less(need, keep) then keep = need end
end
if ARGV[1] ~= '' and less(ARGV[1], keep) then keep = ARGV[1] end
return redis.call('XTRIM', KEYS[1], 'MINID', keep)
"""


class RedisEventLog:
    def __init__(self, url: str, *, prefix: str = "fp") -> None:
        self._url = url
        self._prefix = prefix
        self._r = redis.Redis.from_url(url, socket_timeout=30.0, socket_connect_timeout=2.0)
        for command in ("XREADGROUP", "XAUTOCLAIM"):
            self._r.set_response_callback(command, _raw_reply)
        self._trim = self._r.register_script(_TRIM)

    def describe(self) -> str:
        return f"redis streams {redact_credentials(self._url)} (prefix {self._prefix!r})"

    def key(self, stream: str) -> str:
        return f"{self._prefix}:log:{stream}"

    def _dlq(self, feature_id: str) -> str:
        return f"{self._prefix}:dlq:{feature_id}"

    def append(self, stream: str, entries: list[tuple[int, bytes]]) -> list[str]:
        key = self.key(stream)
        ids: list[str] = []
        try:
            for start in range(0, len(entries), 1000):
                pipe = self._r.pipeline(transaction=False)
                for arrived, payload in entries[start : start + 1000]:
                    pipe.xadd(key, {"a": str(arrived), "r": payload})
                ids.extend(_text(i) for i in pipe.execute())
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        return ids

    def ensure_group(self, stream: str, group: str) -> None:
        try:
            self._r.xgroup_create(self.key(stream), group, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise EventLogError(f"{self.describe()}: {exc}") from exc
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc

    def read(
        self, stream: str, group: str, consumer: str, count: int, *, block_ms: int = 0, pending: bool = False
    ) -> list[LogEntry]:
        key = self.key(stream)
        try:
            reply: Any = self._r.xreadgroup(
                group,
                consumer,
                {key: "0" if pending else ">"},
                count=count,
                block=None if pending or block_ms <= 0 else block_ms,
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):  # the stream was deleted (or Redis lost it): recreate and retry later
                self.ensure_group(stream, group)
                return []
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        if not reply:
            return []
        if isinstance(reply, dict):  # RESP3: {stream: [entries]}
            return _raw_entries(next(iter(reply.values())))
        return _raw_entries(reply[0][1])

    def ack(self, stream: str, group: str, ids: list[str]) -> None:
        if not ids:
            return
        try:
            self._r.xack(self.key(stream), group, *ids)
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc

    def claim(self, stream: str, group: str, consumer: str, *, min_idle_ms: int, count: int) -> list[LogEntry]:
        try:
            reply = self._r.xautoclaim(
                self.key(stream), group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
            )
        except ResponseError as exc:
            if "NOGROUP" in str(exc):
                self.ensure_group(stream, group)
                return []
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        return _raw_entries(reply[1])

    def group_info(self, stream: str, group: str) -> GroupInfo:
        try:
            groups = self._r.xinfo_groups(self.key(stream))
            length = int(self._r.xlen(self.key(stream)))
        except ResponseError as exc:
            if "no such key" in str(exc):
                return GroupInfo(lag=0, pending=0, last_delivered="0-0")
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        for info in groups:
            if _text(info["name"]) == group:
                lag = info.get("lag")
                if lag is None:  # Redis cannot tell after deletions: an upper bound
                    lag = max(0, length - int(info.get("entries-read") or 0))
                return GroupInfo(
                    lag=int(lag), pending=int(info["pending"]), last_delivered=_text(info["last-delivered-id"])
                )
        return GroupInfo(lag=length, pending=0, last_delivered="0-0")

    def head_arrival_us(self, stream: str) -> int | None:
        try:
            newest = self._r.xrevrange(self.key(stream), count=1)
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        return _entries(newest)[0].arrived_us if newest else None

    def trim(self, stream: str, *, keep_after_ms: int | None = None) -> int:
        """Delete the entries every group has acknowledged (Lua ``_TRIM``: one atomic step); entries appended
        at or after ``keep_after_ms`` (an entry id's time is its append time) are kept regardless."""
        floor = "" if keep_after_ms is None else f"{max(0, keep_after_ms)}-0"
        try:
            return int(self._trim(keys=[self.key(stream)], args=[floor]))
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc

    def put_dead_letters(self, letters: list[DeadLetter]) -> None:
        if not letters:
            return
        try:
            pipe = self._r.pipeline(transaction=False)
            for letter in letters:
                pipe.hset(self._dlq(letter.feature_id), letter.key, orjson.dumps(letter))
            pipe.execute()
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc

    def dead_letters(self, feature_id: str) -> list[DeadLetter]:
        try:
            values = self._r.hvals(self._dlq(feature_id))
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc
        return sorted((DeadLetter(**orjson.loads(v)) for v in values), key=lambda d: d.key)

    def count_dead_letters(self, feature_id: str) -> int:
        try:
            return int(self._r.hlen(self._dlq(feature_id)))
        except RedisError as exc:
            raise EventLogError(f"{self.describe()}: {exc}") from exc

    def delete_streams(self, streams: list[str]) -> None:
        if streams:
            self._r.delete(*(self.key(s) for s in streams))

    def delete_dead_letters(self, feature_ids: list[str]) -> None:
        if feature_ids:
            self._r.delete(*(self._dlq(f) for f in feature_ids))

    def close(self) -> None:
        self._r.close()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _raw_reply(response: Any, **options: Any) -> Any:
    return response


def _raw_entries(raw: list[Any]) -> list[LogEntry]:
    """Entries of a raw stream reply: ``[id, [field, value, ...]]`` each (``None`` fields: deleted)."""
    out: list[LogEntry] = []
    append = out.append
    for entry_id, fields in raw:
        if not fields:  # deleted while pending
            continue
        if len(fields) == 4 and fields[0] == b"a" and fields[2] == b"r":  # the order append writes them in
            arrived, payload = fields[1], fields[3]
        else:
            named = dict(zip(fields[::2], fields[1::2], strict=True))
            arrived, payload = named[b"a"], named[b"r"]
        append(LogEntry(entry_id.decode(), int(arrived), payload))
    return out


def _entries(raw: list[Any]) -> list[LogEntry]:
    out = []
    for entry_id, fields in raw:
        if fields is None:  # deleted while pending
            continue
        out.append(LogEntry(id=_text(entry_id), arrived_us=int(fields[b"a"]), payload=bytes(fields[b"r"])))
    return out
