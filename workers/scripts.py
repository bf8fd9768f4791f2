"""Lua scripts behind the store's atomic operations.

Each script checks first and writes last (Redis does not roll back a script that fails halfway),
and appends its event to the parent's stream in the same atomic step. Conventions shared by all:
``KEYS[1]`` is the task record, ``ARGV[1]`` the task id; ``now`` is seconds since the epoch.
"""

from __future__ import annotations

_PRELUDE = """
local unpack = unpack or table.unpack
local function is_final(s)
  return s == 'completed' or s == 'failed' or s == 'stopped'
end
"""

#: KEYS: record, stream, heartbeats.
#: ARGV: id, allowed statuses (comma list), new status, now, reason, maxlen, field/value pairs...
#: Returns {won (0/1), previous status or ''}.
TRANSITION = _PRELUDE + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {0, ''} end
local ok = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == st then ok = true end
end
if not ok then return {0, st} end
local fields = {'status', ARGV[3], 'status_reason', ARGV[5], 'last_update', ARGV[4]}
for i = 7, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
if is_final(ARGV[3]) then
  fields[#fields + 1] = 'completed'
  fields[#fields + 1] = ARGV[4]
  redis.call('ZREM', KEYS[3], ARGV[1])
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'task', ARGV[1], 'kind', 'status', 'status', ARGV[3], 'prev', st, 'reason', ARGV[5])
return {1, st}
"""

#: KEYS: record, stream, heartbeats, metrics, history (a retry renames the last two to
#: ``<key>:<dead attempt>``).
#: ARGV: id, token, now, worker, max_attempts, maxlen, expected parent ('' = the root stream).
#: Returns {outcome, detail...}:
#:   {'claimed', attempts, field, value, ...} (the whole record after the claim)
#:   | {'stopped'} | {'failed'} | {'busy', attempt, heartbeat, worker} | {'done', status}
#:   | {'missing'} | {'parent', actual parent} (KEYS[2] is not this record's stream)
CLAIM = _PRELUDE + """
local rec = redis.call('HMGET', KEYS[1], 'status', 'stop', 'attempts', 'attempt', 'heartbeat',
                       'worker', 'parent')
local st = rec[1]
if not st then return {'missing'} end
if (rec[7] or '') ~= ARGV[7] then return {'parent', rec[7] or ''} end
if st == 'in_progress' then return {'busy', rec[4] or '', rec[5] or '0', rec[6] or ''} end
if st ~= 'queued' then return {'done', st} end
local function move(to, reason)
  redis.call('HSET', KEYS[1], 'status', to, 'status_reason', reason, 'completed', ARGV[3],
             'last_update', ARGV[3])
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
    'task', ARGV[1], 'kind', 'status', 'status', to, 'prev', st, 'reason', reason)
end
if rec[2] and rec[2] ~= '' then
  move('stopped', rec[2])
  return {'stopped'}
end
local attempts = tonumber(rec[3] or '0') + 1
if attempts > tonumber(ARGV[5]) then
  move('failed', 'gave up after ' .. (attempts - 1) .. ' attempts: worker lost')
  return {'failed'}
end
if attempts > 1 then
  -- a retry starts a clean history: the dead attempt's scalars are set apart (never counted)
  for i = 4, 5 do
    local dead = KEYS[i] .. ':' .. (attempts - 1)
    if redis.call('EXISTS', KEYS[i]) == 1 then
      redis.call('RENAME', KEYS[i], dead)
    end
  end
end
local fields = {'status', 'in_progress', 'status_reason', '', 'attempt', ARGV[2],
                'attempts', attempts, 'heartbeat', ARGV[3], 'worker', ARGV[4], 'last_update', ARGV[3]}
if not redis.call('HGET', KEYS[1], 'started') then
  fields[#fields + 1] = 'started'
  fields[#fields + 1] = ARGV[3]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'task', ARGV[1], 'kind', 'status', 'status', 'in_progress', 'prev', st, 'reason', '',
  'attempt', tostring(attempts))
local out = {'claimed', attempts}
for _, v in ipairs(redis.call('HGETALL', KEYS[1])) do out[#out + 1] = v end
return out
"""

#: Declare one attempt dead if its heartbeat is older than ``stale_before``.
#: KEYS: record, stream, heartbeats.
#: ARGV: id, attempt token, now, stale_before, max_attempts, maxlen, reason.
#: Returns the new status ('queued' to retry, 'failed' when out of attempts) or '' if not dead.
DECLARE_DEAD = _PRELUDE + """
local rec = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'heartbeat', 'attempts', 'stop')
if rec[1] ~= 'in_progress' or rec[2] ~= ARGV[2] then return '' end
if tonumber(rec[3] or '0') >= tonumber(ARGV[4]) then return '' end
local to = 'queued'
local reason = ARGV[7]
if rec[5] and rec[5] ~= '' then
  to = 'stopped'
  reason = rec[5]
elseif tonumber(rec[4] or '0') >= tonumber(ARGV[5]) then
  to = 'failed'
  reason = ARGV[7] .. '; gave up after ' .. rec[4] .. ' attempts'
end
local fields = {'status', to, 'status_reason', reason, 'attempt', '', 'last_update', ARGV[3]}
if is_final(to) then
  fields[#fields + 1] = 'completed'
  fields[#fields + 1] = ARGV[3]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'task', ARGV[1], 'kind', 'status', 'status', to, 'prev', 'in_progress', 'reason', reason)
return to
"""

#: KEYS: record, heartbeats.  ARGV: id, token, now.
#: Returns {alive (0/1), stop reason}.
HEARTBEAT = _PRELUDE + """
local rec = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'stop')
if rec[1] ~= 'in_progress' or rec[2] ~= ARGV[2] then return {0, rec[3] or ''} end
redis.call('HSET', KEYS[1], 'heartbeat', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return {1, rec[3] or ''}
"""

#: KEYS: record, metrics, history, stream.
#: ARGV: id, token, title, series, iteration, value text, is_nan (0/1), maxlen, overwrite (0/1).
#: Returns {outcome, stop reason}: 'stored', 'duplicate' (ignored), 'lost' (the attempt no longer
#: owns the record), 'missing' (no record). The scalar event carries the report (iter, value) and
#: the series' aggregate after it (last, last_iter, min, max), so readers need not recompute it.
REPORT = _PRELUDE + """
local sep = '\\31'
local rec = redis.call('HMGET', KEYS[1], 'status', 'attempt', 'stop')
if not rec[1] then return {'missing', ''} end
local stop = rec[3] or ''
if ARGV[2] ~= '' and (rec[1] ~= 'in_progress' or rec[2] ~= ARGV[2]) then return {'lost', stop} end
local base = ARGV[3] .. sep .. ARGV[4] .. sep
local hk = base .. ARGV[5]
if ARGV[9] == '1' then
  redis.call('HSET', KEYS[3], hk, ARGV[6])
elseif redis.call('HSETNX', KEYS[3], hk, ARGV[6]) == 0 then
  return {'duplicate', stop}
end
local cur = redis.call('HMGET', KEYS[2], base .. 'iter', base .. 'min', base .. 'max',
                       base .. 'last')
local last_it, mn, mx, last = cur[1], cur[2], cur[3], cur[4]
if (not last_it) or tonumber(ARGV[5]) >= tonumber(last_it) then
  last, last_it = ARGV[6], ARGV[5]
end
if ARGV[7] ~= '1' then
  local v = tonumber(ARGV[6])
  if (not mn) or mn == 'nan' or v < tonumber(mn) then mn = ARGV[6] end
  if (not mx) or mx == 'nan' or v > tonumber(mx) then mx = ARGV[6] end
elseif not mn then
  mn, mx = 'nan', 'nan'
end
redis.call('HSET', KEYS[2], base .. 'last', last, base .. 'iter', last_it, base .. 'min', mn,
           base .. 'max', mx)
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*',
  'task', ARGV[1], 'kind', 'scalar', 'title', ARGV[3], 'series', ARGV[4], 'iter', ARGV[5],
  'value', ARGV[6], 'last', last, 'last_iter', last_it, 'min', mn, 'max', mx)
return {'stored', stop}
"""

#: KEYS: record, stream, heartbeats.
#: ARGV: id, token, final status, now, reason, maxlen, field/value pairs...
#: Returns 1 if this attempt owned the record and finished it (or had already finished it with
#: this status: a call retried after its reply was lost), else 0.
FINISH = _PRELUDE + """
local rec = redis.call('HMGET', KEYS[1], 'status', 'attempt')
if rec[1] == ARGV[3] and rec[2] == ARGV[2] and is_final(rec[1]) then return 1 end
if rec[1] ~= 'in_progress' or rec[2] ~= ARGV[2] then return 0 end
local fields = {'status', ARGV[3], 'status_reason', ARGV[5], 'completed', ARGV[4],
                'last_update', ARGV[4]}
for i = 7, #ARGV, 2 do
  fields[#fields + 1] = ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
  'task', ARGV[1], 'kind', 'status', 'status', ARGV[3], 'prev', 'in_progress', 'reason', ARGV[5])
return 1
"""

#: KEYS: record, stream, heartbeats.  ARGV: id, now, reason, maxlen.
#: Returns {outcome, status}: 'stopped' (was created/queued), 'flagged' (running: it will see
#: the flag), 'final' (nothing to do), 'missing'.
REQUEST_STOP = _PRELUDE + """
local st = redis.call('HGET', KEYS[1], 'status')
if not st then return {'missing', ''} end
if is_final(st) then return {'final', st} end
redis.call('HSET', KEYS[1], 'stop', ARGV[3], 'last_update', ARGV[2])
if st == 'in_progress' then return {'flagged', st} end
redis.call('HSET', KEYS[1], 'status', 'stopped', 'status_reason', ARGV[3], 'completed', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], '*',
  'task', ARGV[1], 'kind', 'status', 'status', 'stopped', 'prev', st, 'reason', ARGV[3])
return {'stopped', st}
"""

#: KEYS: lease key.  ARGV: owner, ttl in ms.  Returns 1 if owner holds it (and it was extended).
RENEW_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""

#: KEYS: lease key.  ARGV: owner.  Deletes the lease only if owner holds it.
RELEASE_LEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""
