// Rate limits at the router: every GraphQL operation (an HTTP request, or a subscribe message
// on a router WebSocket) counts against its caller's credential — the shop of a session token,
// the customer of a customer token, the staff member of a staff token, the API key — or, when
// it carries no credential the router can verify, against its IP. Past the limit: HTTP 429
// with Retry-After and RateLimit-* headers, and a GraphQL error with extensions.code
// RATE_LIMITED and the seconds to wait (over a WebSocket, the error alone).
//
// Counters live in Redis (the same server as everything else) as a moving window, the
// algorithm the Python side takes from the `limits` library: per caller, a list of the times of
// its last `limit` operations, newest first; one more is allowed when the oldest of them has
// left the window. Exact (no burst across a window boundary, no estimate) and bounded by the
// limit itself. It is one Lua script, so concurrent routers count atomically.
//
// Hive Gateway's own `rateLimiting` was not used: it limits resolver calls of configured
// fields (Type.field), keys on the raw Authorization header, and answers neither 429 nor
// Retry-After.
//
// JWTs are verified (credentials.ts) before their shop counts: otherwise anyone could spend a
// victim shop's budget with made-up tokens. A token that does not verify counts against its IP,
// and the subgraph refuses it anyway. API keys can only be checked against the database, so
// each distinct key has its own counter.
//
// If Redis is down or slow the limiter lets every request through (fail open) and logs one
// line for the outage: limits protect the service, they must not become its single point of
// failure.
import { GraphQLError } from 'graphql';
import { Redis } from 'ioredis';

import {
  CredentialRefused,
  headerFromConnectionParams,
  type CredentialKind,
  type CredentialVerifier,
} from './credentials.ts';

type CallerKind = CredentialKind | 'anonymous';

export type RateLimitSettings = {
  enabled: boolean;
  redisUrl: string;
  timeoutMs: number;
  windowSeconds: number;
  // Operations per window, by kind of caller. A per-plan limit later is one more lookup in
  // `limitFor` (the shop is known for every kind but an API key and an anonymous caller).
  perWindow: Record<CallerKind, number>;
};

type Log = { info: (...args: unknown[]) => void; warn: (...args: unknown[]) => void };

type Identity = { kind: CallerKind; id: string };

type Decision = {
  allowed: boolean;
  limit: number;
  remaining: number;
  resetSeconds: number;
  windowSeconds: number;
};

const KEY_PREFIX = 'loyalnest:router-ratelimit';

// KEYS[1]: the caller's list of operation times (ms), newest first. ARGV: now (ms), limit,
// window (ms). Returns {allowed (0/1), operations in the window (this one included),
// time of the oldest of them (ms)}.
const MOVING_WINDOW = `
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local allowed = 1
local limitth = redis.call('LINDEX', KEYS[1], limit - 1)
if limitth and tonumber(limitth) > now - window then
  allowed = 0
else
  redis.call('LPUSH', KEYS[1], now)
  redis.call('LTRIM', KEYS[1], 0, limit - 1)
  redis.call('PEXPIRE', KEYS[1], window)
end
-- the oldest entry still in the window (the list is sorted, newest first): binary search
local low, high, found = 0, redis.call('LLEN', KEYS[1]) - 1, -1
while low <= high do
  local mid = math.floor((low + high) / 2)
  if tonumber(redis.call('LINDEX', KEYS[1], mid)) > now - window then
    found = mid
    low = mid + 1
  else
    high = mid - 1
  end
end
if found < 0 then return {allowed, 0, now} end
return {allowed, found + 1, tonumber(redis.call('LINDEX', KEYS[1], found))}
`;

export function createRateLimiter(settings: RateLimitSettings, credentials: CredentialVerifier, log: () => Log) {
  let redis: Redis | null = null;
  let failingOpen = false;

  function client(): Redis {
    if (redis) return redis;
    redis = new Redis(settings.redisUrl, {
      // A check waits at most timeoutMs, connected or not (commands sent while connecting are
      // queued, and time out with the rest); a failed connection fails its queue at once.
      maxRetriesPerRequest: 0,
      commandTimeout: settings.timeoutMs,
      connectTimeout: Math.max(settings.timeoutMs, 1000),
    });
    // Reconnection attempts are ioredis' business; the outage is logged once, in `hit`.
    redis.on('error', () => {});
    redis.defineCommand('loyalnestMovingWindow', { numberOfKeys: 1, lua: MOVING_WINDOW });
    return redis;
  }

  async function identify(authorization: string | undefined, ip: string): Promise<Identity> {
    try {
      const { kind, id } = await credentials.verify(authorization);
      return { kind, id };
    } catch (err) {
      if (err instanceof CredentialRefused) return { kind: 'anonymous', id: ip };
      throw err;
    }
  }

  function limitFor(identity: Identity): number {
    return settings.perWindow[identity.kind];
  }

  async function hit(identity: Identity): Promise<Decision> {
    const limit = limitFor(identity);
    const windowMs = settings.windowSeconds * 1000;
    const key = `${KEY_PREFIX}:${identity.kind}:${limit}/${settings.windowSeconds}:${identity.id}`;
    const open: Decision = { allowed: true, limit, remaining: limit, resetSeconds: 0, windowSeconds: settings.windowSeconds };
    const now = Date.now();
    let reply: [number, number, number];
    try {
      reply = await (client() as any).loyalnestMovingWindow(key, now, limit, windowMs);
    } catch (err) {
      if (!failingOpen) {
        failingOpen = true;
        log().warn(`rate limits failing open: Redis at ${settings.redisUrl} unavailable (${(err as Error).message})`);
      }
      return open;
    }
    if (failingOpen) {
      failingOpen = false;
      log().info('rate limits restored: Redis answers again');
    }
    const [allowed, inWindow, oldest] = reply.map(Number);
    // Refused: room comes back when the oldest operation in the window leaves it.
    const resetSeconds = Math.ceil(Math.max(0, oldest + windowMs - now) / 1000);
    return {
      allowed: allowed === 1,
      limit,
      remaining: Math.max(0, limit - inWindow),
      resetSeconds: allowed === 1 ? resetSeconds : Math.max(1, resetSeconds),
      windowSeconds: settings.windowSeconds,
    };
  }

  function close(): void {
    // An open client (or its reconnect timer) would keep the process from exiting on SIGTERM.
    redis?.disconnect();
    redis = null;
  }

  client(); // connect now, not at the first request
  return { identify, hit, close };
}

function headersOf(decision: Decision): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Limit': String(decision.limit),
    'RateLimit-Remaining': String(decision.remaining),
    'RateLimit-Reset': String(decision.resetSeconds),
    'RateLimit-Policy': `${decision.limit};w=${decision.windowSeconds}`,
  };
  if (!decision.allowed) headers['Retry-After'] = String(decision.resetSeconds);
  return headers;
}

/** The Yoga/envelop plugin. `onParams` runs for every operation, HTTP or WebSocket, before it
 * is parsed or validated, so a refused operation costs one Redis round trip. */
export function useRateLimits(settings: RateLimitSettings, credentials: CredentialVerifier, log: () => Log) {
  const limiter = createRateLimiter(settings, credentials, log);
  const decisions = new WeakMap<object, Decision>();
  return {
    async onParams({ request, context, setResult }: any) {
      const overWebSocket = context?.connectionParams !== undefined;
      const authorization = overWebSocket
        ? headerFromConnectionParams(context.connectionParams, 'authorization')
        : (request?.headers?.get?.('authorization') ?? undefined);
      const ip = context?.req?.socket?.remoteAddress ?? 'unknown';
      const decision = await limiter.hit(await limiter.identify(authorization, ip));
      if (!overWebSocket && request) decisions.set(request, decision);
      if (decision.allowed) return;
      const extensions: Record<string, unknown> = {
        code: 'RATE_LIMITED',
        retryAfterSeconds: decision.resetSeconds,
        limit: decision.limit,
        windowSeconds: decision.windowSeconds,
      };
      // Yoga turns extensions.http into the response's status and headers (and strips it).
      if (!overWebSocket) extensions.http = { status: 429, headers: headersOf(decision) };
      setResult({
        errors: [
          new GraphQLError(
            `Rate limit of ${decision.limit} operations per ${decision.windowSeconds} s exceeded; retry after ${decision.resetSeconds} s`,
            { extensions },
          ),
        ],
      });
    },
    onDispose() {
      limiter.close();
    },
    onResponse({ request, response }: any) {
      const decision = decisions.get(request);
      if (!decision || !decision.allowed) return;
      for (const [name, value] of Object.entries(headersOf(decision))) response.headers.set(name, value);
    },
  };
}
