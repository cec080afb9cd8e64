/**
 * The Lua scripts of cluster mode. Redis runs each one atomically, so a check and the change it
 * guards never interleave with another instance's. Leases are `<instance>|<fence>` strings under
 * `…:lease:<endpoint>` with a TTL; `…:fence:<endpoint>` counts every time the endpoint changed hands.
 */

/**
 * Takes the free leases among KEYS (lease, fence pairs) with `SET NX PX`; ARGV: instance, ttl.
 * Returns, per pair, the new fence, or 0 where another instance holds it.
 */
export const acquireScript = `
local out = {}
for i = 1, #KEYS, 2 do
  local fence = tonumber(redis.call('GET', KEYS[i + 1]) or '0') + 1
  if redis.call('SET', KEYS[i], ARGV[1] .. '|' .. fence, 'NX', 'PX', ARGV[2]) then
    redis.call('SET', KEYS[i + 1], fence)
    out[#out + 1] = fence
  else
    out[#out + 1] = 0
  end
end
return out`;

/**
 * Renews this instance's leases among KEYS (lease, fence pairs); ARGV: instance, ttl, then one
 * fence per pair. A lease that expired while Redis was out of reach is taken again only if its
 * fence shows nobody held it since. Returns the 1-based indexes of the pairs that were lost.
 */
export const renewScript = `
local lost = {}
for i = 1, #KEYS, 2 do
  local n = (i + 1) / 2
  local fence = ARGV[2 + n]
  local mine = ARGV[1] .. '|' .. fence
  local holder = redis.call('GET', KEYS[i])
  if holder == mine then
    redis.call('PEXPIRE', KEYS[i], ARGV[2])
  elseif not holder and (redis.call('GET', KEYS[i + 1]) or fence) == fence then
    redis.call('SET', KEYS[i], mine, 'PX', ARGV[2])
    redis.call('SET', KEYS[i + 1], fence)
  else
    lost[#lost + 1] = n
  end
end
return lost`;

/** Deletes the leases among KEYS that this instance still holds; ARGV: instance, one fence per key. */
export const releaseScript = `
local released = 0
for i = 1, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] .. '|' .. ARGV[1 + i] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
return released`;

/**
 * An instance's heartbeat, on Redis's clock. KEYS: the live set (score = last beat), the info hash,
 * the endpoint list hash. ARGV: instance, its info (JSON), ttl. Forgets instances silent for a ttl
 * and returns `now, list version, then id, last beat, info` for each live instance.
 */
export const beatScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[3])))
for _, id in ipairs(dead) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('HDEL', KEYS[2], id)
end
local out = { now, tonumber(redis.call('HGET', KEYS[3], 'version') or '0') }
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #live, 2 do
  out[#out + 1] = live[i]
  out[#out + 1] = tonumber(live[i + 1])
  out[#out + 1] = redis.call('HGET', KEYS[2], live[i]) or '{}'
end
return out`;

/**
 * Writes the endpoint list (KEYS[1], a hash of version and entries) if its version is still
 * ARGV[1] (0: no list yet), and announces it on channel ARGV[3]. Returns the new version, or minus
 * the version found when another write came first.
 */
export const writeListScript = `
local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
if version ~= tonumber(ARGV[1]) then return -version end
version = version + 1
redis.call('HSET', KEYS[1], 'version', version, 'entries', ARGV[2])
redis.call('PUBLISH', ARGV[3], '{"t":"list","v":' .. version .. '}')
return version`;
