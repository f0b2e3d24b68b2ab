//! The server-side scripts of the shared state. Each runs atomically in Redis, so a check and
//! the reservation it allows can never interleave with another replica's. They are named by
//! version in their first line: a change of behaviour gets a new name, so replicas of two
//! versions never run each other's script under one digest.
//!
//! Amounts are integers (nano-dollars, tokens), never floats: every replica adds and
//! subtracts the same integers, so nothing drifts. A window is a hash `{spent, reserved}` with
//! its leases in `KEY:lease` (reservation id → lease end, ms) and their amounts in `KEY:amt`;
//! a lease past its end is given back by the next script that touches the window.

/// Budgets: reserves `amount` against every window, all or nothing.
/// KEYS: the windows. ARGV: now_ms, lease_until_ms, id, amount, exempt (1/0), then one limit
/// per window, then one ttl_ms per window. Returns `{0,0,0}`, or `{i, spent, reserved}` of the
/// first window that refused.
pub const BUDGET_RESERVE: &str = r"-- tollgate_budget_reserve_v1
local now = tonumber(ARGV[1])
local id = ARGV[3]
local amount = tonumber(ARGV[4])
local exempt = ARGV[5] == '1'
local n = #KEYS
for i = 1, n do
  local k = KEYS[i]
  local dead = redis.call('ZRANGEBYSCORE', k .. ':lease', '-inf', now)
  for _, rid in ipairs(dead) do
    local a = tonumber(redis.call('HGET', k .. ':amt', rid) or '0')
    redis.call('HINCRBY', k, 'reserved', -a)
    redis.call('HDEL', k .. ':amt', rid)
    redis.call('ZREM', k .. ':lease', rid)
  end
end
if not exempt then
  for i = 1, n do
    local limit = tonumber(ARGV[5 + i])
    local spent = tonumber(redis.call('HGET', KEYS[i], 'spent') or '0')
    local reserved = tonumber(redis.call('HGET', KEYS[i], 'reserved') or '0')
    if reserved < 0 then reserved = 0 end
    local used = spent + reserved
    if used + amount > limit or used >= limit then
      return {i, spent, reserved}
    end
  end
end
for i = 1, n do
  local k = KEYS[i]
  local ttl = ARGV[5 + n + i]
  if amount > 0 then
    redis.call('HINCRBY', k, 'reserved', amount)
    redis.call('HSET', k .. ':amt', id, amount)
    redis.call('ZADD', k .. ':lease', ARGV[2], id)
    redis.call('PEXPIRE', k .. ':amt', ttl)
    redis.call('PEXPIRE', k .. ':lease', ttl)
  end
  redis.call('HSETNX', k, 'spent', 0)
  redis.call('PEXPIRE', k, ttl)
end
return {0, 0, 0}
";

/// Budgets: gives a reservation back and charges the real cost, once per reservation id.
/// KEYS: the id's done-marker, then `n` reserved windows, then the windows to charge.
/// ARGV: id, n, cost, marker_ttl_ms, then one ttl_ms per charged window.
/// Returns 1, or 0 when this id was settled already.
pub const BUDGET_SETTLE: &str = r"-- tollgate_budget_settle_v1
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[4]) then
  return 0
end
local id = ARGV[1]
local n = tonumber(ARGV[2])
for i = 2, 1 + n do
  local k = KEYS[i]
  local a = redis.call('HGET', k .. ':amt', id)
  if a then
    redis.call('HINCRBY', k, 'reserved', -tonumber(a))
    redis.call('HDEL', k .. ':amt', id)
    redis.call('ZREM', k .. ':lease', id)
  end
end
local cost = tonumber(ARGV[3])
if cost > 0 then
  for i = 2 + n, #KEYS do
    redis.call('HINCRBY', KEYS[i], 'spent', cost)
    redis.call('PEXPIRE', KEYS[i], ARGV[4 + i - 1 - n])
  end
end
return 1
";

/// Rate limits: one request, `tokens` tokens and one concurrency slot from every scope, all
/// or nothing, by the rule of `ratelimit::check`.
/// KEYS: per scope, its minute hash `{requests, tokens}` and its slots (id → lease end).
/// ARGV: now_ms, lease_until_ms, id, tokens, minute_ttl_ms, then per scope rpm, tpm,
/// concurrent (-1: no limit). Returns `{1, requests, tokens, concurrent, ...}` (per scope, as
/// used before this request), or `{0, scope, kind (1 requests, 2 tokens, 3 concurrent), limit,
/// used}`.
pub const RATE_ADMIT: &str = r"-- tollgate_rate_admit_v1
local now = tonumber(ARGV[1])
local id = ARGV[3]
local tokens = tonumber(ARGV[4])
local n = #KEYS / 2
local out = {1}
for i = 1, n do
  local m, c = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('ZREMRANGEBYSCORE', c, '-inf', now)
  local req = tonumber(redis.call('HGET', m, 'requests') or '0')
  local tok = tonumber(redis.call('HGET', m, 'tokens') or '0')
  local conc = redis.call('ZCARD', c)
  local rpm = tonumber(ARGV[3 + 3 * i])
  local tpm = tonumber(ARGV[4 + 3 * i])
  local cl = tonumber(ARGV[5 + 3 * i])
  if rpm >= 0 and req + 1 > rpm then return {0, i, 1, rpm, req} end
  if tpm >= 0 and tok > 0 and tok + tokens > tpm then return {0, i, 2, tpm, tok} end
  if cl >= 0 and conc + 1 > cl then return {0, i, 3, cl, conc} end
  out[#out + 1] = req
  out[#out + 1] = tok
  out[#out + 1] = conc
end
for i = 1, n do
  local m, c = KEYS[2 * i - 1], KEYS[2 * i]
  redis.call('HINCRBY', m, 'requests', 1)
  redis.call('HINCRBY', m, 'tokens', tokens)
  redis.call('PEXPIRE', m, ARGV[5])
  redis.call('ZADD', c, ARGV[2], id)
  redis.call('PEXPIREAT', c, tonumber(ARGV[2]) + 60000)
end
return out
";

/// Rate limits: gives the slots back and corrects the tokens by `delta` (used − reserved),
/// once per id. KEYS: the id's done-marker, then per scope its minute hash and its slots.
/// ARGV: id, delta, marker_ttl_ms. Returns 1, or 0 when settled already.
pub const RATE_SETTLE: &str = r"-- tollgate_rate_settle_v1
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[3]) then
  return 0
end
local delta = tonumber(ARGV[2])
for i = 2, #KEYS, 2 do
  redis.call('ZREM', KEYS[i + 1], ARGV[1])
  if delta ~= 0 and redis.call('EXISTS', KEYS[i]) == 1 then
    local tok = tonumber(redis.call('HGET', KEYS[i], 'tokens') or '0')
    local d = delta
    if tok + d < 0 then d = -tok end
    redis.call('HINCRBY', KEYS[i], 'tokens', d)
  end
end
return 1
";
