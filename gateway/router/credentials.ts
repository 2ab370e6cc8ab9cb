// What the router can tell about a caller's Authorization on its own: which kind of credential
// it is, and — for JWTs — whether it verifies (HS256 with the secret of its audience, the time
// claims, a Shopify shop in `dest`, a person in `sub` for customer and staff tokens). Used by the
// rate limits (a shop's budget is spent only by tokens that verify) and by the WebSocket
// connection_init check (server.ts / socket-auth.ts): one verification, the same rules.
//
// What only the database knows — a live API key, an installed shop, a customer of that shop —
// stays with the subgraphs (subgraphs/kit/authenticate.py): an API key is recognised here by its
// shape only.
import { createHash } from 'node:crypto';

import { decodeJwt, errors as joseErrors, jwtVerify } from 'jose';

export type CredentialKind = 'session' | 'customer' | 'staff' | 'apiKey';

export type CredentialSettings = {
  sessionAudience: string;
  secrets: { session: string; customer: string; staff: string };
};

export type Credential = {
  kind: CredentialKind;
  // Stable per caller: the shop for session tokens, shop/person for customer and staff tokens,
  // the sha256 of an API key.
  id: string;
  // When a JWT stops being valid (ms since the epoch); API keys do not expire on their own.
  expiresAtMs: number | null;
};

/** Why a credential was refused, in words a client can act on. */
export class CredentialRefused extends Error {}

const CUSTOMER_AUDIENCE = 'loyalnest:storefront';
const STAFF_AUDIENCE = 'loyalnest:staff';
const API_KEY_PREFIX = 'lnk_';
// The subgraphs' leeway for clocks that disagree a little (kit/auth.py).
const CLOCK_TOLERANCE_SECONDS = 10;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function shopOf(dest: unknown): string | null {
  try {
    const host = new URL(String(dest)).hostname;
    return host.endsWith('.myshopify.com') ? host : null;
  } catch {
    return null;
  }
}

export function createCredentialVerifier(settings: CredentialSettings) {
  const secrets = {
    session: new TextEncoder().encode(settings.secrets.session),
    customer: new TextEncoder().encode(settings.secrets.customer),
    staff: new TextEncoder().encode(settings.secrets.staff),
  };

  /** The caller's credential, or CredentialRefused: no `Bearer <token>`, a token of no kind
   * LoyalNest issues, a JWT that does not verify or has expired. */
  async function verify(authorization: string | undefined): Promise<Credential> {
    if (!authorization) {
      throw new CredentialRefused('a bearer token is required (session token, customer token, staff token or API key)');
    }
    const match = /^bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new CredentialRefused("Authorization must be 'Bearer <token>'");
    const token = match[1];
    if (token.startsWith(API_KEY_PREFIX)) return { kind: 'apiKey', id: sha256(token), expiresAtMs: null };
    let audience: unknown;
    try {
      audience = decodeJwt(token).aud; // routing only: verified below with that kind's secret
    } catch {
      throw new CredentialRefused('invalid token: neither a JWT nor a LoyalNest API key');
    }
    const kind =
      audience === settings.sessionAudience ? 'session'
      : audience === CUSTOMER_AUDIENCE ? 'customer'
      : audience === STAFF_AUDIENCE ? 'staff'
      : null;
    if (kind === null) throw new CredentialRefused('invalid token: its audience is not one LoyalNest accepts');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, secrets[kind], {
        algorithms: ['HS256'],
        audience: String(audience),
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp'],
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new CredentialRefused(`${kind} token expired`);
      throw new CredentialRefused(`invalid ${kind} token`);
    }
    const shop = shopOf(payload.dest);
    if (!shop) throw new CredentialRefused(`invalid ${kind} token: dest is not a Shopify shop`);
    const expiresAtMs = payload.exp! * 1000;
    if (kind === 'session') return { kind, id: shop, expiresAtMs };
    if (typeof payload.sub !== 'string' || !payload.sub) {
      throw new CredentialRefused(`invalid ${kind} token: sub must be a non-empty string`);
    }
    return { kind, id: `${shop}/${payload.sub}`, expiresAtMs };
  }

  return { verify };
}

export type CredentialVerifier = ReturnType<typeof createCredentialVerifier>;

/** A header a router WebSocket's client sent in its connection_init payload (browsers cannot
 * set headers on a WebSocket), e.g. {"Authorization": "Bearer <jwt>"}, whatever the key's case. */
export function headerFromConnectionParams(params: unknown, name: string): string | undefined {
  if (!params || typeof params !== 'object') return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === name && typeof value === 'string') return value;
  }
  return undefined;
}
