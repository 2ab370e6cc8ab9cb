// Who may keep a router WebSocket open (graphql-transport-ws), decided at connection_init and
// for as long as the socket lives — the rules the subgraphs apply to their own sockets
// (subgraphs/kit/graphql/app.py), so clients only ever see them from the router:
// - a missing, malformed, forged or expired token is refused at once, before any
//   connection_ack: close 4401 with the reason (clients get a token and reconnect);
// - a socket does not outlive its token: when the token's `exp` passes, the socket (and every
//   subscription on it) is closed with 4401 "token expired".
// Refusals only the database can decide — an API key that is not live, a shop that uninstalled,
// a token without the capability to subscribe (4403) — stay with the subgraphs: the router
// cannot know them at connect time, and the subgraph closes its upstream socket with 4401/4403
// on the first subscribe.
//
// These are graphql-ws server options; server.ts hands them to graphql-ws' `useServer` (the
// `hive-gateway` CLI offers no way to, see server.ts).
import type { Context as SocketContext } from 'graphql-ws';
import type { WebSocket } from 'ws';

import { CredentialRefused, headerFromConnectionParams, type CredentialVerifier } from './credentials.ts';

// graphql-transport-ws close codes, as HTTP's 401 (get a token) and 403 (this token may not).
export const CLOSE_UNAUTHENTICATED = 4401;
export const TOKEN_EXPIRED = 'token expired';

// setTimeout's longest delay (~24.8 days); a later expiry is waited for in steps.
const MAX_TIMER_MS = 2 ** 31 - 1;

type Log = { warn: (...args: unknown[]) => void };
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

export function socketAuthentication(credentials: CredentialVerifier, log: () => Log) {
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
