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

/**
 * A slot's wait queue: its waiters past their deadline dropped, its head served while slots are free. Placed where the
 * slot's keys H, Q, D, W, L and the time `now` are locals (the per-key prelude, the batch script's `serve_queue`).
 */
const QUEUE = `
local function drop_waiter(token)
  redis.call('ZREM', Q, token)
  redis.call('ZREM', D, token)
  redis.call('HDEL', W, token)
end

local function drop_overdue_waiters()
  for _, token in ipairs(redis.call('ZRANGEBYSCORE', D, '-inf', now)) do drop_waiter(token) end
end

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
`;

const PRELUDE = `
local H, Q, D, W, L = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)

local expired = redis.call('ZRANGEBYSCORE', H, '-inf', now)
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', H, '-inf', now) end
${QUEUE}
drop_overdue_waiters()

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
 * batch — the hot path's pair admits and releases, many in one step (one script run per event-loop turn of the
 * replica instead of one per operation: the Lua entry and the round trip are paid once). KEYS: the slot keys'
 * bases (`<prefix>{<slot key>}`); a slot's five keys are the base plus `:h`, `:q`, `:d`, `:w`, `:l` (the layout of
 * the per-key scripts above). ARGV: the operations in order, each a tag and its fields:
 *
 * - `P` (pair): holder, ttlMs, choice count n, first slot's key index and limit, then per choice its key index,
 *   limit, rank and lead (1/0) — {@link LeaseStore.acquirePair}: a slot on the first key and on the best free choice
 *   (lowest rank, then lowest holders/limit, then list order), or nothing. A key with anyone queued counts as busy
 *   and is left untouched (its waiters are served by the per-key scripts). Answers status (GRANTED | BUSY) and b
 *   (granted: the choice's index; busy: 0 = the first key is busy, 1 = no choice is free, or the lead is not).
 * - `R` (release): holder, key count n, the key indexes — the release script on each key in turn. Answers one 1/0
 *   per key (held or not).
 *
 * Operations run in order; each key's expired holders are pruned once per run, before its first use. The answer is
 * every operation's answer in order, then the expired holders as "<key index>|<holder>" (1-based key indexes).
 */
const BATCH = `
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local expired, pruned = {}, {}
local function prune(i)
  if pruned[i] then return end
  pruned[i] = true
  local H = KEYS[i] .. ':h'
  local gone = redis.call('ZRANGEBYSCORE', H, '-inf', now)
  if #gone > 0 then
    redis.call('ZREMRANGEBYSCORE', H, '-inf', now)
    for _, h in ipairs(gone) do expired[#expired + 1] = i .. '|' .. h end
  end
end
local function queued(i) return redis.call('ZCARD', KEYS[i] .. ':q') > 0 end
-- holders / limit when a slot is free for the holder, 0 when unlimited or already held, -1 when busy
local function free_load(i, limit, holder)
  if queued(i) then return -1 end
  prune(i)
  if limit == 0 or redis.call('ZSCORE', KEYS[i] .. ':h', holder) then return 0 end
  local used = redis.call('ZCARD', KEYS[i] .. ':h')
  if used >= limit then return -1 end
  return used / limit
end
-- The per-key scripts' queue service on slot i, after a release freed a slot there.
local function serve_queue(i)
  local base = KEYS[i]
  local H, Q, D, W, L = base .. ':h', base .. ':q', base .. ':d', base .. ':w', base .. ':l'
${QUEUE}
  drop_overdue_waiters()
  promote(stored_limit())
  if redis.call('ZCARD', Q) == 0 then redis.call('DEL', L) end
end
local answer, at = {}, 1
local function pair()
  local holder, ttl, n = ARGV[at + 1], tonumber(ARGV[at + 2]), tonumber(ARGV[at + 3])
  local first, first_limit = tonumber(ARGV[at + 4]), tonumber(ARGV[at + 5])
  local choices = at + 6
  at = choices + n * 4
  if free_load(first, first_limit, holder) < 0 then return ${ScriptStatus.BUSY}, 0 end
  local best, best_rank, best_load = -1, 0, 0
  for c = 0, n - 1 do
    local base = choices + c * 4
    local key, limit, rank = tonumber(ARGV[base]), tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2])
    local load = free_load(key, limit, holder)
    if load < 0 then
      if ARGV[base + 3] == '1' then return ${ScriptStatus.BUSY}, 1 end
    elseif best < 0 or rank < best_rank or (rank == best_rank and load < best_load) then
      best, best_rank, best_load = c, rank, load
    end
  end
  if best < 0 then return ${ScriptStatus.BUSY}, 1 end
  redis.call('ZADD', KEYS[first] .. ':h', now + ttl, holder)
  redis.call('ZADD', KEYS[tonumber(ARGV[choices + best * 4])] .. ':h', now + ttl, holder)
  return ${ScriptStatus.GRANTED}, best
end
while at <= #ARGV do
  local tag = ARGV[at]
  if tag == 'P' then
    local status, b = pair()
    answer[#answer + 1] = status
    answer[#answer + 1] = b
  else
    local holder, n = ARGV[at + 1], tonumber(ARGV[at + 2])
    for k = 1, n do
      local i = tonumber(ARGV[at + 2 + k])
      prune(i)
      answer[#answer + 1] = redis.call('ZREM', KEYS[i] .. ':h', holder)
      if queued(i) then serve_queue(i) end
    end
    at = at + 3 + n
  end
end
answer[#answer + 1] = expired
return answer
`;

/** Scripts over several slot keys; ioredis takes their key count as the first argument. */
export const MULTI_KEY_SCRIPTS = { leaseBatch: BATCH } as const;

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
