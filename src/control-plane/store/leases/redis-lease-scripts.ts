/**
 * The Lua scripts behind {@link RedisLeaseStore}: one atomic script per operation, registered with ioredis
 * `defineCommand`. Every script takes the same five keys of one slot key (all sharing one hash tag):
 *
 * - `H` holders ZSET: member = holder, score = expiry (Redis server ms);
 * - `Q` queue ZSET: member = waiter token, score = arrival sequence (FIFO);
 * - `D` deadlines ZSET: member = waiter token, score = the waiter's own deadline (server ms);
 * - `W` waiter HASH: token → JSON `{h: holder, t: ttlMs, c: wake-up channel}`;
 * - `L` limit STRING: the key's limit, kept while anyone waits (the scripts that serve the queue read it).
 *
 * Each script starts with the same prelude: read the server clock, drop expired holders (returned to the caller,
 * who reports them), drop waiters past their deadline, then hand free slots to waiters in order — each grant
 * adds the holder and PUBLISHes the waiter's token on its replica's channel in the same atomic step.
 *
 * Every script answers `{a, b, c, expiredHolders}`; what a, b and c mean is given per script.
 */

/** Numeric status codes the scripts answer in slot `a`. */
export const ScriptStatus = {
  GRANTED: 1,
  QUEUED: 2,
  QUEUE_FULL: 3,
  BUSY: 4,
  /** The waiter is no longer queued and its holder holds nothing (past its deadline, or given back). */
  GONE: 5,
  /** The waiter left the queue before any grant. */
  REMOVED: 6,
  /** A grant raced the cancel: the slot was given back and handed on. */
  RELEASED: 7,
} as const;

const PRELUDE = `
local H, Q, D, W, L = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local expired = redis.call('ZRANGEBYSCORE', H, '-inf', now)
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', H, '-inf', now) end

local function drop_waiter(token)
  redis.call('ZREM', Q, token)
  redis.call('ZREM', D, token)
  redis.call('HDEL', W, token)
end

for _, token in ipairs(redis.call('ZRANGEBYSCORE', D, '-inf', now)) do drop_waiter(token) end

local function stored_limit()
  return tonumber(redis.call('GET', L) or '-1')
end

-- Serves the queue head first while slots are free; limit -1 (unknown) serves nobody, 0 is unlimited.
local function promote(limit)
  while limit >= 0 do
    local token = redis.call('ZRANGE', Q, 0, 0)[1]
    if not token then return end
    local raw = redis.call('HGET', W, token)
    if raw then
      local waiter = cjson.decode(raw)
      local holds = redis.call('ZSCORE', H, waiter.h)
      if not holds and limit > 0 and redis.call('ZCARD', H) >= limit then return end
      drop_waiter(token)
      redis.call('ZADD', H, now + waiter.t, waiter.h)
      redis.call('PUBLISH', waiter.c, token)
    else
      drop_waiter(token)
    end
  end
end

local function next_expiry_in()
  local first = redis.call('ZRANGE', H, 0, 0, 'WITHSCORES')[2]
  if not first then return -1 end
  return tonumber(first) - now
end

local function finish(a, b, c)
  if redis.call('ZCARD', Q) == 0 then redis.call('DEL', L) end
  return {a, b, c, expired}
end
`;

/**
 * acquire — ARGV: holder, limit, ttlMs, maxWaiting (-1: do not wait), timeoutMs, channel, token.
 * Answers a = status (GRANTED | QUEUED | QUEUE_FULL | BUSY), b = ms to the earliest holder expiry (-1: none),
 * c = the waiter's place in the queue (0 = head).
 */
const ACQUIRE = `${PRELUDE}
local holder, limit, ttl = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local max_waiting, timeout, channel, token = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], ARGV[7]
redis.call('SET', L, limit)
promote(limit)
local waiting = redis.call('ZCARD', Q)
if redis.call('ZSCORE', H, holder) or (waiting == 0 and (limit == 0 or redis.call('ZCARD', H) < limit)) then
  redis.call('ZADD', H, now + ttl, holder)
  return finish(${ScriptStatus.GRANTED}, 0, 0)
end
if max_waiting < 0 then return finish(${ScriptStatus.BUSY}, 0, 0) end
if waiting >= max_waiting then return finish(${ScriptStatus.QUEUE_FULL}, 0, 0) end
local last = redis.call('ZRANGE', Q, -1, -1, 'WITHSCORES')[2]
redis.call('ZADD', Q, (tonumber(last) or 0) + 1, token)
redis.call('ZADD', D, now + timeout, token)
redis.call('HSET', W, token, cjson.encode({h = holder, t = ttl, c = channel}))
return finish(${ScriptStatus.QUEUED}, next_expiry_in(), waiting)
`;

/**
 * poll (the safety net behind pub/sub) — ARGV: token, holder.
 * Answers a = QUEUED (still waiting) | GRANTED | GONE, b = ms to the earliest holder expiry, c = queue place.
 */
const POLL = `${PRELUDE}
local token, holder = ARGV[1], ARGV[2]
promote(stored_limit())
local rank = redis.call('ZRANK', Q, token)
if rank then return finish(${ScriptStatus.QUEUED}, next_expiry_in(), rank) end
if redis.call('ZSCORE', H, holder) then return finish(${ScriptStatus.GRANTED}, 0, 0) end
return finish(${ScriptStatus.GONE}, 0, 0)
`;

/**
 * cancel (timeout or abort) — ARGV: token, holder. Leaves the queue; if a grant got there first, gives the slot
 * back and hands it on. Answers a = REMOVED | RELEASED | GONE.
 */
const CANCEL = `${PRELUDE}
local token, holder = ARGV[1], ARGV[2]
local limit = stored_limit()
local status = ${ScriptStatus.GONE}
if redis.call('ZSCORE', Q, token) then
  drop_waiter(token)
  status = ${ScriptStatus.REMOVED}
elseif redis.call('ZREM', H, holder) == 1 then
  status = ${ScriptStatus.RELEASED}
end
promote(limit)
return finish(status, 0, 0)
`;

/** release — ARGV: holder. Answers a = 1 if the holder held the slot, else 0. */
const RELEASE = `${PRELUDE}
local removed = redis.call('ZREM', H, ARGV[1])
promote(stored_limit())
return finish(removed, 0, 0)
`;

/** renew — ARGV: holder, ttlMs. Answers a = 1 if the holder still held the slot (now extended), else 0. */
const RENEW = `${PRELUDE}
promote(stored_limit())
if not redis.call('ZSCORE', H, ARGV[1]) then return finish(0, 0, 0) end
redis.call('ZADD', H, 'XX', now + tonumber(ARGV[2]), ARGV[1])
return finish(1, 0, 0)
`;

/**
 * reassert — ARGV: holder, ttlMs. Renews the holder's slot, or adds it back when it had expired or vanished, whatever
 * the limit: a holder that is still running upstream counts (new acquirers then wait). Added before the queue is
 * served, so a slot freed by the holder's own expiry is not handed to a waiter first. Answers a = 1 when the slot
 * was recreated, 0 when it was still held.
 */
const REASSERT = `${PRELUDE}
local held = redis.call('ZSCORE', H, ARGV[1])
redis.call('ZADD', H, now + tonumber(ARGV[2]), ARGV[1])
promote(stored_limit())
if held then return finish(0, 0, 0) end
return finish(1, 0, 0)
`;

/** load — no ARGV. Answers a = holders, b = waiters. */
const LOAD = `${PRELUDE}
promote(stored_limit())
return finish(redis.call('ZCARD', H), redis.call('ZCARD', Q), 0)
`;

/**
 * acquirePair — KEYS: the five keys of the first slot key, then five per choice. ARGV: holder, ttlMs, first limit,
 * then limit, rank, lead (1/0) per choice. Takes a slot on the first key and on the best free choice (lowest rank,
 * then lowest holders/limit, then list order), or nothing. A key with anyone queued counts as busy and is left
 * untouched (its waiters are served by the per-key scripts). Answers a = GRANTED (b = the choice's index) | BUSY
 * (b = 0: the first key is busy; b = 1: no choice is free, or the lead is not), and the expired holders as
 * "<key index>|<holder>" (0 = the first key).
 */
const ACQUIRE_PAIR = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local holder, ttl, first_limit = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local expired = {}
local function holders_of(i) return KEYS[i * 5 + 1] end
local function quiet(i) return redis.call('ZCARD', KEYS[i * 5 + 2]) == 0 end
local function prune(i)
  local gone = redis.call('ZRANGEBYSCORE', holders_of(i), '-inf', now)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', holders_of(i), '-inf', now)
    for _, h in ipairs(gone) do expired[#expired + 1] = i .. '|' .. h end
  end
end
-- holders / limit when a slot is free for the holder, 0 when unlimited or already held, -1 when busy
local function free_load(i, limit)
  if not quiet(i) then return -1 end
  prune(i)
  if limit == 0 or redis.call('ZSCORE', holders_of(i), holder) then return 0 end
  local used = redis.call('ZCARD', holders_of(i))
  if used >= limit then return -1 end
  return used / limit
end
if free_load(0, first_limit) < 0 then return {${ScriptStatus.BUSY}, 0, 0, expired} end
local best, best_rank, best_load = -1, 0, 0
for i = 1, #KEYS / 5 - 1 do
  local base = 4 + (i - 1) * 3
  local limit, rank, lead = tonumber(ARGV[base]), tonumber(ARGV[base + 1]), ARGV[base + 2] == '1'
  local load = free_load(i, limit)
  if load < 0 then
    if lead then return {${ScriptStatus.BUSY}, 1, 0, expired} end
  elseif best < 0 or rank < best_rank or (rank == best_rank and load < best_load) then
    best, best_rank, best_load = i, rank, load
  end
end
if best < 0 then return {${ScriptStatus.BUSY}, 1, 0, expired} end
redis.call('ZADD', holders_of(0), now + ttl, holder)
redis.call('ZADD', holders_of(best), now + ttl, holder)
return {${ScriptStatus.GRANTED}, best - 1, 0, expired}
`;

/**
 * releaseAll — KEYS: five per slot key. ARGV: holder. The release script on each slot key in turn (its prelude
 * included), in one step. Answers one 1/0 per key (held or not), then the expired holders as "<key index>|<holder>".
 */
const RELEASE_ALL = `
local function release_slot(base, holder)
${PRELUDE.replace("local H, Q, D, W, L = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]", "local H, Q, D, W, L = KEYS[base + 1], KEYS[base + 2], KEYS[base + 3], KEYS[base + 4], KEYS[base + 5]")}
  local removed = redis.call('ZREM', H, holder)
  promote(stored_limit())
  if redis.call('ZCARD', Q) == 0 then redis.call('DEL', L) end
  return removed, expired
end
local answer, gone = {}, {}
for i = 0, #KEYS / 5 - 1 do
  local removed, expired = release_slot(i * 5, ARGV[1])
  answer[#answer + 1] = removed
  for _, h in ipairs(expired) do gone[#gone + 1] = i .. '|' .. h end
end
answer[#answer + 1] = gone
return answer
`;

/** Scripts over several slot keys; ioredis takes their key count as the first argument. */
export const MULTI_KEY_SCRIPTS = { leaseAcquirePair: ACQUIRE_PAIR, leaseReleaseAll: RELEASE_ALL } as const;

/** The scripts by the command name ioredis defines for each; each takes the five keys listed above. */
export const LEASE_SCRIPTS = {
  leaseAcquire: ACQUIRE,
  leasePoll: POLL,
  leaseCancel: CANCEL,
  leaseRelease: RELEASE,
  leaseRenew: RENEW,
  leaseReassert: REASSERT,
  leaseLoad: LOAD,
} as const;

/** The number of keys every lease script takes. */
export const LEASE_SCRIPT_KEYS = 5;
