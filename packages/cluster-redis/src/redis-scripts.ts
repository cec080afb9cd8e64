import { createHash } from "node:crypto";

/**
 * The Lua scripts of cluster mode. Redis runs each atomically, so a check and the change it
 * guards never interleave with another instance's. Times come from Redis's `TIME`: one clock for
 * every instance. A lease is `<instance>|<incarnation>` under `…:lease:<endpoint>` with a TTL.
 */

const now = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * A heartbeat. KEYS: the live set (score: when the member lapses), the info hash, the list hash,
 * the boot marker. ARGV: id, incarnation, info (JSON), ttl, a boot marker to set if there is none.
 * Forgets lapsed members. Refuses an id another live incarnation has: `taken, now, info, deadline`.
 * Otherwise `ok, now, boot, epoch, version, settleUntil`, then `id, deadline, info` per member.
 */
export const beatScript = `${now}
local boot = redis.call('GET', KEYS[4])
if not boot then
  boot = ARGV[5]
  redis.call('SET', KEYS[4], boot)
end
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now)
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
local current = redis.call('HGET', KEYS[2], ARGV[1])
if current then
  local ok, info = pcall(cjson.decode, current)
  if ok and type(info) == 'table' and info.incarnation ~= ARGV[2] then
    return { 'taken', now, current, redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0' }
  end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local list = redis.call('HMGET', KEYS[3], 'epoch', 'version', 'settleUntil')
local out = { 'ok', now, boot, list[1] or '', list[2] or '0', list[3] or '0' }
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local ids = {}
for i = 1, #live, 2 do ids[#ids + 1] = live[i] end
local infos = redis.call('HMGET', KEYS[2], unpack(ids))
for i = 1, #ids do
  out[#out + 1] = ids[i]
  out[#out + 1] = live[2 * i]
  out[#out + 1] = infos[i] or '{}'
end
return out`;

/** Leaves: KEYS the live set and info hash; ARGV id, incarnation. Only the entry of that incarnation. */
export const leaveScript = `
local current = redis.call('HGET', KEYS[2], ARGV[1])
if not current then return 0 end
local ok, info = pcall(cjson.decode, current)
if ok and type(info) == 'table' and info.incarnation ~= ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1`;

/**
 * Logs a lease change: the last two KEYS are the change counter and the log (a stream kept to
 * about ARGV[3] entries); entries hold the lease key and its new value ('' when freed). The other
 * instances read the log instead of every lease (`changesScript`).
 */
const logged = `local n = #KEYS - 2
local function logged(key, value)
  redis.call('INCR', KEYS[n + 1])
  redis.call('XADD', KEYS[n + 2], 'MAXLEN', '~', ARGV[3], '*', 'k', key, 'v', value)
end`;

/** Takes the free leases among KEYS (then the log's two); ARGV: value, ttl, log size. 1 or 0 per key. */
export const acquireScript = `${logged}
local out = {}
for i = 1, n do
  if redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2]) then
    logged(KEYS[i], ARGV[1])
    out[i] = 1
  else
    out[i] = 0
  end
end
return out`;

/**
 * Renews the leases of the endpoints ARGV[5] names (a JSON array of ids; each key is ARGV[4], the
 * lease prefix, and the id) that are still ARGV[1]'s for ARGV[2] ms, and takes again those that
 * lapsed and nobody took (Redis restarted, or the holder was slow). KEYS: the log's two; ARGV[3]:
 * log size. The ids go as one argument: a renewal runs every third of a lease for every endpoint
 * held, and thousands of key arguments cost the client more than the whole script costs Redis.
 * So the lease keys are not declared: Redis and Valkey run it as it is, and its first line is the
 * flag Dragonfly asks for (a comment to the others).
 * Answers the positions (from 1) of the leases lost, usually none: a renewal of thousands of
 * leases is not answered with thousands of ones.
 */
export const renewScript = `--!df flags=allow-undeclared-keys
${logged}
local ids = cjson.decode(ARGV[5])
local lost = {}
for i = 1, #ids do
  local key = ARGV[4] .. ids[i]
  local holder = redis.call('GET', key)
  if holder == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not holder then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
    logged(key, ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost`;

/** Deletes the leases among KEYS (then the log's two) that are still ARGV[1]'s; ARGV[3]: log size. */
export const releaseScript = `${logged}
local released = 0
for i = 1, n do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    logged(KEYS[i], '')
    released = released + 1
  end
end
return released`;

/**
 * The lease changes after a position. KEYS: the change counter, the log. ARGV: the counter and
 * log entry id of the position, the most changes worth reading. Returns `seq, cursor` then
 * `key, value` per change; or `gap` when the log cannot tell them all (trimmed, lost, or more than
 * the most): the caller reads the leases instead.
 */
export const changesScript = `
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local last = tonumber(ARGV[1])
if seq == last then return { seq, ARGV[2] } end
if seq < last or seq - last > tonumber(ARGV[3]) or ARGV[2] == '' then return { 'gap' } end
local entries = redis.call('XRANGE', KEYS[2], '(' .. ARGV[2], '+', 'COUNT', seq - last)
if #entries ~= seq - last then return { 'gap' } end
local out = { seq, entries[#entries][1] }
for _, entry in ipairs(entries) do
  local fields = entry[2]
  out[#out + 1] = fields[2]
  out[#out + 1] = fields[4]
end
return out`;

/**
 * The lease values of KEYS (then the log's two) with the log position of the same moment:
 * `seq, cursor`, then one value per lease key ('' where free). The cursor is the last entry's id
 * ('0-0' for an empty log).
 */
export const snapshotScript = `
local n = #KEYS - 2
local seq = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
local last = redis.call('XREVRANGE', KEYS[n + 2], '+', '-', 'COUNT', 1)
local out = { seq, last[1] and last[1][1] or '0-0' }
if n > 0 then
  local values = redis.call('MGET', unpack(KEYS, 1, n))
  for i = 1, n do out[i + 2] = values[i] or '' end
end
return out`;

/**
 * Seeds the list (KEYS[1], a hash) when there is none, or replaces one still settling with one
 * that knows more: a history over a file's list, a later version of the same epoch. ARGV: epoch,
 * version, entries, origin, changes, settle ms, channel. Returns 1 when written.
 */
export const seedScript = `${now}
local cur = redis.call('HMGET', KEYS[1], 'epoch', 'version', 'origin', 'settleUntil')
local write = not cur[1]
if not write and now < tonumber(cur[4] or '0') then
  write = (cur[3] == 'file' and ARGV[4] == 'history')
    or (cur[1] == ARGV[1] and tonumber(ARGV[2]) > tonumber(cur[2] or '0'))
end
if not write then return 0 end
redis.call('HSET', KEYS[1], 'epoch', ARGV[1], 'version', ARGV[2], 'entries', ARGV[3], 'origin', ARGV[4],
  'changes', ARGV[5], 'settleUntil', now + tonumber(ARGV[6]))
redis.call('PUBLISH', ARGV[7], '{"t":"list","epoch":"' .. ARGV[1] .. '","v":' .. ARGV[2] .. '}')
return 1`;

/**
 * Changes the list (KEYS[1]) if it is still at epoch ARGV[1], version ARGV[2] and not settling.
 * ARGV: epoch, version, entries, change id, changes kept, channel. A change id already among the
 * last changes is not applied again. Returns `written, version`, `applied`, `conflict`,
 * `settling, ms` or `absent`.
 */
export const writeScript = `${now}
local cur = redis.call('HMGET', KEYS[1], 'epoch', 'version', 'settleUntil', 'changes')
if not cur[1] then return { 'absent' } end
local changes = cur[4] or ''
if string.find(' ' .. changes .. ' ', ' ' .. ARGV[4] .. ' ', 1, true) then return { 'applied' } end
if cur[1] ~= ARGV[1] or tonumber(cur[2]) ~= tonumber(ARGV[2]) then return { 'conflict' } end
local settle = tonumber(cur[3] or '0')
if now < settle then return { 'settling', settle - now } end
local version = tonumber(cur[2]) + 1
local ids = {}
for id in string.gmatch(changes, '%S+') do ids[#ids + 1] = id end
ids[#ids + 1] = ARGV[4]
local first = math.max(1, #ids - tonumber(ARGV[5]) + 1)
redis.call('HSET', KEYS[1], 'version', version, 'entries', ARGV[3], 'origin', 'history',
  'changes', table.concat(ids, ' ', first, #ids))
redis.call('PUBLISH', ARGV[6], '{"t":"list","epoch":"' .. cur[1] .. '","v":' .. version .. '}')
return { 'written', version }`;

/**
 * When the last of these leases lapses. KEYS: the leases. The longest PTTL: -2 when none is held,
 * -1 as soon as one has no TTL (it never lapses).
 */
export const lapseScript = `local last = -2
for _, key in ipairs(KEYS) do
  local ms = redis.call('PTTL', key)
  if ms == -1 then return -1 end
  if ms > last then last = ms end
end
return last`;

/**
 * The leases of the ids in ARGV[5] (a JSON array; ARGV[4] the lease key prefix) as a process that
 * follows the log (KEYS: its two) knows them, hashed: SHA-1 of one line per lease, `-` where free,
 * `|` where it is ARGV[3] (the asker's own lease), else `<bytes>:<instance>`. '' when anything was
 * logged after ARGV[1], ARGV[2] (seq, cursor): a look at leases that changed since must read them.
 * See {@link knownLeasesHash}. The ids go as one argument, as the renewal's do: ten thousand key
 * arguments cost the client megabytes of short-lived strings at every check. So the keys are not
 * declared, and the first line is Dragonfly's flag.
 */
export const checkScript = `--!df flags=allow-undeclared-keys
if tonumber(redis.call('GET', KEYS[1]) or '0') ~= tonumber(ARGV[1]) then return '' end
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
if (last[1] and last[1][1] or '0-0') ~= ARGV[2] then return '' end
local ids = cjson.decode(ARGV[5])
local n = #ids
local lines = {}
if n > 0 then
  local keys = {}
  for i = 1, n do keys[i] = ARGV[4] .. ids[i] end
  local values = redis.call('MGET', unpack(keys))
  for i = 1, n do
    local v = values[i]
    if not v then lines[i] = '-'
    elseif v == ARGV[3] then lines[i] = '|'
    else
      local p = string.sub(v, 1, (string.find(v, '|', 1, true) or #v) - 1)
      lines[i] = #p .. ':' .. p
    end
  end
end
return redis.sha1hex(table.concat(lines, '\\n'))`;

/**
 * The hash {@link checkScript} makes, of what a process knows: one entry per lease, undefined where
 * free, `value` (its own lease) where it holds it, else the holder's instance.
 */
export function knownLeasesHash(known: readonly (string | undefined)[], value: string): string {
  const lines = known.map((k) =>
    k === undefined ? "-" : k === value ? "|" : `${Buffer.byteLength(k)}:${k}`,
  );
  return createHash("sha1").update(lines.join("\n")).digest("hex");
}
