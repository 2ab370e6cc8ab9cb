// Who may keep a router WebSocket open (graphql-transport-ws), decided at connection_init and
// for as long as the socket lives, so clients see the subgraphs' rules (subgraphs/kit/graphql/
// app.py) from the router, before any connection_ack:
// - a missing, malformed, forged or expired token is refused by the router itself
//   (credentials.ts): close 4401 with the reason; no subgraph is bothered with it;
// - what only the database knows — an API key that is not live, a shop that uninstalled, a
//   token without the capability to subscribe — the router asks a subgraph: it opens a socket
//   to one with the client's token and passes on the refusal (4401 or 4403, with its reason). The rule stays in one place (kit/permissions.py `may_subscribe`, the same
//   in every subgraph). Without this, a 4403 from a subgraph reached the client as silence:
//   the router's upstream graphql-ws client retries 4403 (five times, with backoff) before it
//   fails the subscription with DOWNSTREAM_SERVICE_ERROR.
//   Verdicts are kept for a few seconds per token, so a dashboard of 1,000 sockets with one
//   token costs one check; a subgraph that cannot be reached lets the socket in (its first
//   subscribe then fails as it would have).
// - a socket does not outlive its token: when the token's `exp` passes, the socket (and every
//   subscription on it) is closed with 4401 "token expired".
//
// These are graphql-ws server options; server.ts hands them to graphql-ws' `useServer` (the
// `hive-gateway` CLI offers no way to, see server.ts).
import { createHash } from 'node:crypto';

import type { Context as SocketContext } from 'graphql-ws';
import { WebSocket } from 'ws';

import { CredentialRefused, headerFromConnectionParams, type CredentialVerifier } from './credentials.ts';

// graphql-transport-ws close codes, as HTTP's 401 (get a token) and 403 (this token may not).
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN = 4403;
const TOKEN_EXPIRED = 'token expired';

// setTimeout's longest delay (~24.8 days); a later expiry is waited for in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

// How long a subgraph's verdict on a token is reused, and for how many tokens at most.
const VERDICT_TTL_MS = 10_000;
const MAX_VERDICTS = 10_000;
// A subgraph that has not answered by then is taken as unreachable (the client waits for it).
const SUBGRAPH_ANSWER_MS = 800;

type Log = { info: (...args: unknown[]) => void; warn: (...args: unknown[]) => void };
type Refusal = { code: number; reason: string };
type Extra = { socket: WebSocket };

/** Closes `socket` with 4401 "token expired" at `expiresAtMs`, unless it closed before. */
function closeAtExpiry(socket: WebSocket, expiresAtMs: number): void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const remaining = expiresAtMs - Date.now();
    if (remaining <= 0) {
      socket.close(CLOSE_UNAUTHENTICATED, TOKEN_EXPIRED);
      return;
    }
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
    timer.unref(); // an open socket keeps the process alive, not its expiry timer
  };
  arm();
  socket.once('close', () => clearTimeout(timer));
}

/** A subgraph's answer to connection_init with `authorization`: null when it acknowledges (or cannot
 * be reached: logged), else its 4401/4403 refusal. */
function askSubgraph(url: string, authorization: string, log: () => Log): Promise<Refusal | null> {
  return new Promise((settle) => {
    const socket = new WebSocket(url, 'graphql-transport-ws');
    let settled = false;
    const done = (refusal: Refusal | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      socket.close(1000);
      settle(refusal);
    };
    const unreachable = (why: string) => {
      log().warn(`WebSocket admission: subgraph ${url} did not answer connection_init (${why}); socket let in`);
      done(null);
    };
    const deadline = setTimeout(() => unreachable('timeout'), SUBGRAPH_ANSWER_MS);
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { Authorization: authorization } })));
    socket.on('message', (data) => {
      let message: { type?: unknown };
      try {
        message = JSON.parse(String(data));
      } catch {
        return unreachable('not JSON');
      }
      if (message.type === 'connection_ack') done(null);
    });
    socket.on('close', (code, reason) => {
      if (code === CLOSE_UNAUTHENTICATED || code === CLOSE_FORBIDDEN) done({ code, reason: String(reason) });
      else unreachable(`closed with ${code}`);
    });
    socket.on('error', (err) => unreachable(err.message));
  });
}

/** The subgraph's verdicts, per token, for VERDICT_TTL_MS; concurrent sockets with one token
 * share one question. */
function subgraphAdmission(url: string, log: () => Log) {
  const verdicts = new Map<string, { until: number; verdict: Promise<Refusal | null> }>();
  return (authorization: string): Promise<Refusal | null> => {
    const key = createHash('sha256').update(authorization).digest('hex');
    const now = Date.now();
    const known = verdicts.get(key);
    if (known && known.until > now) return known.verdict;
    if (verdicts.size >= MAX_VERDICTS) {
      for (const [stale, entry] of verdicts) if (entry.until <= now) verdicts.delete(stale);
      // Still full of live entries: drop the oldest (a Map iterates in insertion order).
      if (verdicts.size >= MAX_VERDICTS) verdicts.delete(verdicts.keys().next().value!);
    }
    const verdict = askSubgraph(url, authorization, log);
    verdicts.set(key, { until: now + VERDICT_TTL_MS, verdict });
    return verdict;
  };
}

/** graphql-ws server options. `subgraphUrl`: the ws:// URL of the subgraph asked about what
 * only the database knows (any subgraph: they share the rule); undefined skips that check. */
export function socketAuthentication(credentials: CredentialVerifier, subgraphUrl: string | undefined, log: () => Log) {
  const admit = subgraphUrl ? subgraphAdmission(subgraphUrl, log) : undefined;
  return {
    async onConnect(ctx: SocketContext<Record<string, unknown> | undefined, Extra>): Promise<boolean> {
      const { socket } = ctx.extra;
      const authorization = headerFromConnectionParams(ctx.connectionParams, 'authorization');
      let expiresAtMs: number | null;
      try {
        ({ expiresAtMs } = await credentials.verify(authorization));
      } catch (err) {
        if (!(err instanceof CredentialRefused)) {
          log().warn(`WebSocket connection_init refused: token verification failed (${(err as Error).message})`);
        }
        // Closed here with our code and reason; returning false makes graphql-ws close the
        // socket with its generic 4403, which is a no-op on a socket already closing.
        socket.close(CLOSE_UNAUTHENTICATED, closeReason(err));
        return false;
      }
      const refusal = await admit?.(authorization!);
      if (refusal) {
        socket.close(refusal.code, refusal.reason);
        return false;
      }
      // The client may have gone while we asked; its socket needs no expiry.
      if (socket.readyState !== WebSocket.OPEN) return false;
      if (expiresAtMs !== null) closeAtExpiry(socket, expiresAtMs);
      return true;
    },
  };
}

function closeReason(err: unknown): string {
  const reason = err instanceof CredentialRefused ? err.message : 'Unauthorized';
  // A WebSocket close reason is at most 123 bytes (RFC 6455 5.5: 125 minus the code).
  return Buffer.byteLength(reason) <= 123 ? reason : 'Unauthorized';
}
