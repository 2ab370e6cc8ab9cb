// Hive Gateway configuration for LoyalNest. Everything is derived from the root router.yaml
// (or the file named by LOYALNEST_ROUTER_CONFIG); see gateway/router/README.md.
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { defineConfig } from '@graphql-hive/gateway';
import { GraphQLError, Kind, type DocumentNode } from 'graphql';
import YAML from 'yaml';

import { useQueryCost } from './cost.ts';
import { createCredentialVerifier, headerFromConnectionParams, type CredentialSettings } from './credentials.ts';
import { useInputErrorCodes } from './input-errors.ts';
import { useRateLimits, type RateLimitSettings } from './rate-limits.ts';
import { socketAuthentication } from './socket-auth.ts';

type Log = {
  info: (...args: unknown[]) => void;
  warn: (...args: unknown[]) => void;
  error: (...args: unknown[]) => void;
};

// Replaced by the gateway's own logger as soon as the runtime hands it to `plugins()`.
let log: Log = {
  info: (...args) => console.error('[loyalnest-router] INFO', ...args),
  warn: (...args) => console.error('[loyalnest-router] WARN', ...args),
  error: (...args) => console.error('[loyalnest-router] ERROR', ...args),
};

class RouterConfigError extends Error {}

// ---------------------------------------------------------------------------------------------
// router.yaml loading
// ---------------------------------------------------------------------------------------------

const routerConfigPath = process.env.LOYALNEST_ROUTER_CONFIG
  ? resolve(process.env.LOYALNEST_ROUTER_CONFIG)
  : fileURLToPath(new URL('../../router.yaml', import.meta.url));
const routerConfigDir = dirname(routerConfigPath);

/** `${VAR}`, `${VAR:-default}`, `${VAR:?message}`; `$$` is a literal `$`. */
function expandEnv(value: string, key: string): string {
  return value.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}/g,
    (match, name: string | undefined, op: string | undefined, arg: string | undefined) => {
      if (match === '$$') return '$';
      const current = process.env[name!];
      if (current !== undefined && current !== '') return current;
      if (op === ':?') {
        throw new RouterConfigError(`${key}: environment variable ${name} is required (${arg || 'not set'})`);
      }
      return op === ':-' ? (arg ?? '') : '';
    },
  );
}

function expandTree(node: unknown, key: string): unknown {
  if (typeof node === 'string') return expandEnv(node, key);
  if (Array.isArray(node)) return node.map((item, i) => expandTree(item, `${key}[${i}]`));
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([k, v]) => [k, expandTree(v, key ? `${key}.${k}` : k)]),
    );
  }
  return node;
}

function loadRouterYaml(): Record<string, any> {
  let text: string;
  try {
    text = readFileSync(routerConfigPath, 'utf8');
  } catch (err) {
    throw new RouterConfigError(`cannot read router config ${routerConfigPath}: ${(err as Error).message}`);
  }
  const parsed = YAML.parse(text) ?? {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new RouterConfigError(`${routerConfigPath}: top level must be a mapping`);
  }
  return expandTree(parsed, '') as Record<string, any>;
}

// Typed readers: values may arrive as strings after env expansion, so they are coerced here.
function section(root: Record<string, any>, name: string, known: string[]): Record<string, any> {
  const value = root[name] ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RouterConfigError(`${name}: must be a mapping`);
  }
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) log.warn(`router.yaml: unknown key ${name}.${key} (ignored)`);
  }
  return value;
}

function str(value: unknown, key: string, fallback: string): string {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value !== 'string' && typeof value !== 'number') throw new RouterConfigError(`${key}: expected a string`);
  return String(value);
}

function int(value: unknown, key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined || value === null || value === '') return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new RouterConfigError(`${key}: expected an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
  }
  return n;
}

function bool(value: unknown, key: string, fallback: boolean): boolean {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'boolean') return value;
  const s = String(value).trim().toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(s)) return true;
  if (['false', 'no', 'off', '0'].includes(s)) return false;
  throw new RouterConfigError(`${key}: expected true or false, got ${JSON.stringify(value)}`);
}

function list(value: unknown, key: string): string[] {
  if (value === undefined || value === null) return [];
  const items = Array.isArray(value) ? value : [value];
  return items
    .flatMap((item) => {
      if (typeof item !== 'string') throw new RouterConfigError(`${key}: expected strings`);
      return item.split(',');
    })
    .map((item) => item.trim())
    .filter((item) => item !== '');
}

function configPath(value: string): string {
  return isAbsolute(value) ? value : resolve(routerConfigDir, value);
}

function readSettings() {
  const root = loadRouterYaml();
  const knownSections = [
    'listen', 'subgraphs', 'persistedDocuments', 'limits', 'cors', 'headers', 'security', 'logging',
    'rateLimits', 'auth',
  ];
  for (const key of Object.keys(root)) {
    if (!knownSections.includes(key)) log.warn(`router.yaml: unknown section ${key} (ignored)`);
  }

  const listen = section(root, 'listen', ['host', 'port']);
  const subgraphSection = section(root, 'subgraphs', Object.keys(root.subgraphs ?? {}));
  const subgraphUrls: Record<string, string> = {};
  for (const [name, entry] of Object.entries(subgraphSection)) {
    const spec = (entry ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(spec)) {
      if (key !== 'url') log.warn(`router.yaml: unknown key subgraphs.${name}.${key} (ignored)`);
    }
    const url = str(spec.url, `subgraphs.${name}.url`, '');
    if (url) {
      if (!/^https?:\/\//.test(url)) throw new RouterConfigError(`subgraphs.${name}.url: expected an http(s) URL, got ${url}`);
      subgraphUrls[name] = url;
    }
  }
  const pd = section(root, 'persistedDocuments', ['manifest', 'allowArbitraryDocuments']);
  const limits = section(root, 'limits', [
    'maxDepth', 'maxTokens', 'maxBodyBytes', 'maxHeaderBytes', 'subgraphTimeoutMs', 'subgraphKeepAliveMs',
    'maxCost',
  ]);
  const cors = section(root, 'cors', ['origins', 'credentials', 'maxAgeSeconds']);
  const headers = section(root, 'headers', ['propagate']);
  const security = section(root, 'security', [
    'introspection', 'graphiql', 'blockFieldSuggestions', 'exposeSubgraphErrorDetails',
  ]);
  const logging = section(root, 'logging', ['level']);
  const level = str(logging.level, 'logging.level', 'info').toLowerCase();
  if (!['error', 'warn', 'info', 'debug'].includes(level)) {
    throw new RouterConfigError(`logging.level: expected error, warn, info or debug, got ${level}`);
  }

  return {
    host: str(listen.host, 'listen.host', '127.0.0.1'),
    port: int(listen.port, 'listen.port', 4000, 1, 65535),
    subgraphUrls,
    manifestPath: configPath(str(pd.manifest, 'persistedDocuments.manifest', 'schema/operations/manifest.json')),
    allowArbitraryDocuments: bool(pd.allowArbitraryDocuments, 'persistedDocuments.allowArbitraryDocuments', true),
    maxDepth: int(limits.maxDepth, 'limits.maxDepth', 12),
    maxTokens: int(limits.maxTokens, 'limits.maxTokens', 2000),
    maxBodyBytes: int(limits.maxBodyBytes, 'limits.maxBodyBytes', 1048576),
    maxHeaderBytes: int(limits.maxHeaderBytes, 'limits.maxHeaderBytes', 16384, 1024),
    subgraphTimeoutMs: int(limits.subgraphTimeoutMs, 'limits.subgraphTimeoutMs', 10000),
    subgraphKeepAliveMs: int(limits.subgraphKeepAliveMs, 'limits.subgraphKeepAliveMs', 4000),
    corsOrigins: list(cors.origins, 'cors.origins'),
    corsCredentials: bool(cors.credentials, 'cors.credentials', true),
    corsMaxAge: int(cors.maxAgeSeconds, 'cors.maxAgeSeconds', 600),
    propagateHeaders: [...new Set(list(headers.propagate ?? ['authorization'], 'headers.propagate').map((h) => h.toLowerCase()))],
    introspection: bool(security.introspection, 'security.introspection', true),
    graphiql: bool(security.graphiql, 'security.graphiql', true),
    blockFieldSuggestions: bool(security.blockFieldSuggestions, 'security.blockFieldSuggestions', false),
    exposeSubgraphErrorDetails: bool(security.exposeSubgraphErrorDetails, 'security.exposeSubgraphErrorDetails', false),
    logLevel: level as 'error' | 'warn' | 'info' | 'debug',
    // Rate limits and the cost limit (gateway/router/rate-limits.ts, cost.ts).
    maxCost: int(limits.maxCost, 'limits.maxCost', 10000),
    rateLimits: readRateLimits(root),
    // Token verification for the rate limits and WebSocket connection_init (credentials.ts).
    credentials: readCredentialSettings(root),
  };
}

// ---------------------------------------------------------------------------------------------
// router.yaml: rateLimits
// ---------------------------------------------------------------------------------------------

function readRateLimits(root: Record<string, any>): RateLimitSettings {
  const rl = section(root, 'rateLimits', ['enabled', 'redisUrl', 'timeoutMs', 'windowSeconds', 'perWindow']);
  // Keyed by their full path, so a typo is reported as rateLimits.perWindow.<key>.
  const per = section({ 'rateLimits.perWindow': rl.perWindow }, 'rateLimits.perWindow', [
    'session', 'customer', 'staff', 'apiKey', 'anonymous',
  ]);
  return {
    enabled: bool(rl.enabled, 'rateLimits.enabled', true),
    redisUrl: str(rl.redisUrl, 'rateLimits.redisUrl', 'redis://127.0.0.1:6379/0'),
    timeoutMs: int(rl.timeoutMs, 'rateLimits.timeoutMs', 100, 1),
    windowSeconds: int(rl.windowSeconds, 'rateLimits.windowSeconds', 60, 1),
    perWindow: {
      session: int(per.session, 'rateLimits.perWindow.session', 600, 1),
      customer: int(per.customer, 'rateLimits.perWindow.customer', 120, 1),
      staff: int(per.staff, 'rateLimits.perWindow.staff', 600, 1),
      apiKey: int(per.apiKey, 'rateLimits.perWindow.apiKey', 1200, 1),
      anonymous: int(per.anonymous, 'rateLimits.perWindow.anonymous', 120, 1),
    },
  };
}

// ---------------------------------------------------------------------------------------------
// router.yaml: auth
// ---------------------------------------------------------------------------------------------

// The development secrets of subgraphs/kit/settings.py: a dev stack works without any set.
const DEV_SECRETS = {
  sessionAudience: 'loyalnest-dev-api-key',
  session: 'loyalnest-dev-app-secret',
  customer: 'loyalnest-dev-customer-token-secret',
  staff: 'loyalnest-dev-staff-token-secret',
};

function readCredentialSettings(root: Record<string, any>): CredentialSettings {
  const auth = section(root, 'auth', ['sessionAudience', 'secrets']);
  const secrets = section({ 'auth.secrets': auth.secrets }, 'auth.secrets', ['session', 'customer', 'staff']);
  const result: CredentialSettings = {
    sessionAudience: str(auth.sessionAudience, 'auth.sessionAudience', DEV_SECRETS.sessionAudience),
    secrets: {
      session: str(secrets.session, 'auth.secrets.session', DEV_SECRETS.session),
      customer: str(secrets.customer, 'auth.secrets.customer', DEV_SECRETS.customer),
      staff: str(secrets.staff, 'auth.secrets.staff', DEV_SECRETS.staff),
    },
  };
  if (process.env.LOYALNEST_ENV === 'production') {
    const dev = (['session', 'customer', 'staff'] as const).filter((k) => result.secrets[k] === DEV_SECRETS[k]);
    if (dev.length > 0) throw new RouterConfigError(`auth.secrets: production needs real secrets (${dev.join(', ')})`);
  }
  return result;
}

let settings: ReturnType<typeof readSettings>;
try {
  settings = readSettings();
} catch (err) {
  // Fail loudly: a router running with a half-understood config is worse than no router.
  console.error(`[loyalnest-router] invalid router config ${routerConfigPath}: ${(err as Error).message}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// Persisted documents (Apollo persisted-query manifest)
// ---------------------------------------------------------------------------------------------

type ManifestState = { mtimeMs: number | null; documents: Map<string, string> };

function parseManifest(path: string, text: string): Map<string, string> {
  const manifest = JSON.parse(text);
  if (manifest?.format !== 'apollo-persisted-query-manifest' || manifest?.version !== 1) {
    throw new Error(`${path}: expected {"format": "apollo-persisted-query-manifest", "version": 1, ...}`);
  }
  if (!Array.isArray(manifest.operations)) throw new Error(`${path}: "operations" must be a list`);
  const documents = new Map<string, string>();
  for (const [i, op] of manifest.operations.entries()) {
    if (typeof op?.id !== 'string' || typeof op?.body !== 'string') {
      throw new Error(`${path}: operations[${i}] needs string "id" and "body"`);
    }
    const digest = createHash('sha256').update(op.body).digest('hex');
    if (digest !== op.id) {
      log.warn(`persisted document ${op.name ?? i}: id ${op.id} is not the sha256 of its body (${digest})`);
    }
    documents.set(op.id, op.body);
  }
  return documents;
}

const manifest: ManifestState = { mtimeMs: null, documents: new Map() };
let manifestChecked = 0;

/** (Re)loads the manifest when its mtime changed. A broken file at startup is fatal; later, the
 * previous documents stay in service. A missing file means an empty set. */
function refreshManifest(startup: boolean): void {
  let mtimeMs: number | null;
  try {
    mtimeMs = statSync(settings.manifestPath).mtimeMs;
  } catch {
    mtimeMs = null;
  }
  if (mtimeMs === manifest.mtimeMs && !startup) return;
  if (mtimeMs === null) {
    if (startup || manifest.documents.size > 0) {
      log.warn(`persisted documents manifest ${settings.manifestPath} not found; serving no persisted documents`);
    }
    manifest.mtimeMs = null;
    manifest.documents = new Map();
    return;
  }
  try {
    manifest.documents = parseManifest(settings.manifestPath, readFileSync(settings.manifestPath, 'utf8'));
    manifest.mtimeMs = mtimeMs;
    log.info(`loaded ${manifest.documents.size} persisted document(s) from ${settings.manifestPath}`);
  } catch (err) {
    if (startup) {
      console.error(`[loyalnest-router] invalid persisted documents manifest: ${(err as Error).message}`);
      process.exit(1);
    }
    manifest.mtimeMs = mtimeMs; // do not re-parse the same broken file on every request
    log.error(`persisted documents manifest not reloaded, keeping the previous one: ${(err as Error).message}`);
  }
}

function persistedDocument(id: string): string | null {
  const hit = manifest.documents.get(id);
  if (hit !== undefined) return hit;
  // A miss may mean the Python side wrote new operations: look again, at most once a second.
  const now = Date.now();
  if (now - manifestChecked >= 1000) {
    manifestChecked = now;
    refreshManifest(false);
  }
  return manifest.documents.get(id) ?? null;
}

function requestedDocumentId(params: any): string | undefined {
  return params?.documentId ?? params?.extensions?.persistedQuery?.sha256Hash ?? undefined;
}

// ---------------------------------------------------------------------------------------------
// Plugins
// ---------------------------------------------------------------------------------------------

/**
 * Puts the caller's credentials on the context as `loyalnestAuthorization`, whatever the
 * client transport: the connection_init payload of a router WebSocket (`Authorization` or
 * `authorization`), else the HTTP request's Authorization header. The WebSocket transport to
 * subgraphs interpolates it into the upstream connection_init payload.
 */
function useAuthorizationContext() {
  return {
    onContextBuilding({ context, extendContext }: any) {
      const authorization =
        headerFromConnectionParams(context.connectionParams, 'authorization') ??
        context.request?.headers?.get?.('authorization') ??
        undefined;
      extendContext({ loyalnestAuthorization: authorization });
    },
  };
}

/**
 * Copies the configured client headers onto HTTP requests to subgraphs, the way the built-in
 * `propagateHeaders` does (through `extensions.headers`, which the HTTP executor turns into
 * headers), but not for subscriptions: the WebSocket executor would send those extensions
 * along in the subscribe message. The token reaches subgraph sockets via connectionParams.
 *
 * Do NOT move this to an onFetch hook: the HTTP executor deduplicates identical in-flight
 * queries and only includes headers in the dedupe key when they come from here; headers
 * added in onFetch would let one user's concurrent request receive another user's response.
 */
function useHeaderPropagation(names: string[]) {
  return {
    onSubgraphExecute({ executionRequest }: any) {
      if (isSubscription(executionRequest)) return;
      const context = executionRequest?.context;
      if (!context) return;
      const request: Request | undefined = context.request;
      const headers: Record<string, string> = { ...(executionRequest.extensions?.headers ?? {}) };
      let changed = false;
      for (const name of names) {
        if (headers[name] != null) continue;
        const value =
          request?.headers?.get(name) ?? headerFromConnectionParams(context.connectionParams, name);
        if (value == null) continue;
        headers[name] = value;
        changed = true;
      }
      if (changed) {
        executionRequest.extensions = { ...(executionRequest.extensions ?? {}), headers };
      }
    },
  };
}

function graphqlErrorResponse(fetchAPI: any, status: number, message: string, code: string): Response {
  return new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code } }] }), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8' },
  });
}

async function readBodyWithLimit(request: Request, maxBytes: number): Promise<Uint8Array | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      return null;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    body.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return body;
}

/** 413 for request bodies over the limit: by Content-Length up front, by counting otherwise. */
function useBodyLimit(maxBytes: number) {
  const message = `Request body is larger than the ${maxBytes} bytes this router accepts`;
  return {
    onRequestParse({ request, requestParser, setRequestParser, endResponse, fetchAPI }: any) {
      if (request.method === 'GET' || request.method === 'HEAD') return;
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        // Node's HTTP parser never delivers more than Content-Length bytes.
        if (Number(declared) > maxBytes) endResponse(graphqlErrorResponse(fetchAPI, 413, message, 'PAYLOAD_TOO_LARGE'));
        return;
      }
      if (!requestParser) return;
      setRequestParser(async (req: Request) => {
        const body = await readBodyWithLimit(req, maxBytes);
        if (body === null) return graphqlErrorResponse(fetchAPI, 413, message, 'PAYLOAD_TOO_LARGE');
        return requestParser(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, body }));
      });
    },
  };
}

function stripUpstreamDetails(result: any): void {
  for (const error of result?.errors ?? []) {
    if (error?.extensions) {
      delete error.extensions.request;
      delete error.extensions.response;
    }
  }
}

/** Subgraph transport errors carry the subgraph URL and the full upstream request body
 * (variables included) in `extensions.request`; clients should not see either. */
function useHideUpstreamDetails() {
  const onDone = ({ result }: any) => {
    if (result && typeof result[Symbol.asyncIterator] === 'function') {
      return { onNext: ({ result: item }: any) => stripUpstreamDetails(item) };
    }
    stripUpstreamDetails(result);
    return undefined;
  };
  return {
    onExecute: () => ({ onExecuteDone: onDone }),
    onSubscribe: () => ({ onSubscribeResult: onDone }),
  };
}

/** The depth limit (graphql-armor, enabled by `maxDepth` below) throws its refusal out of
 * validation instead of reporting it, so Yoga's own coding of validation errors never sees
 * it and clients got an error without `extensions.code`. Nothing else throws out of
 * validation: what does is a limit, and gets QUERY_TOO_COMPLEX, the code a subgraph gives its
 * own depth limit (subgraphs/kit/graphql/schema.py). The token limit throws out of parsing,
 * which Yoga codes GRAPHQL_PARSE_FAILED, as a subgraph does. */
function useLimitErrorCodes() {
  const coded = (err: unknown): unknown => {
    const error = err as { extensions?: Record<string, unknown> } | null;
    if (error && typeof error === 'object' && error.extensions && !error.extensions.code) {
      error.extensions.code = 'QUERY_TOO_COMPLEX';
    }
    return err;
  };
  return {
    onValidate({ validateFn, setValidationFn }: any) {
      setValidationFn((...args: unknown[]) => {
        try {
          return validateFn(...args);
        } catch (err) {
          throw coded(err);
        }
      });
    },
  };
}

function isSubscription(executionRequest: any): boolean {
  if (executionRequest?.operationType) return executionRequest.operationType === 'subscription';
  const document: DocumentNode | undefined = executionRequest?.document;
  return Boolean(
    document?.definitions.some(
      (def) => def.kind === Kind.OPERATION_DEFINITION && def.operation === 'subscription',
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Gateway config
// ---------------------------------------------------------------------------------------------

// Pooled connections to subgraphs. Node's default agent keeps idle sockets for 5 s, exactly
// uvicorn's default keep-alive: a request sent on a socket the subgraph is closing at that
// moment fails with "socket hang up". An idle time below the subgraphs' keep-alive avoids it.
const agentOptions =
  settings.subgraphKeepAliveMs > 0
    ? { keepAlive: true, timeout: settings.subgraphKeepAliveMs, scheduling: 'lifo' as const }
    : { keepAlive: false };
const subgraphAgents = { http: new HttpAgent(agentOptions), https: new HttpsAgent(agentOptions) };

const perSubgraphEntries = Object.fromEntries(
  Object.entries(settings.subgraphUrls).map(([name, url]) => [name, { location: url }]),
);

export const gatewayConfig = defineConfig({
  host: settings.host,
  port: settings.port,
  maxHeaderSize: settings.maxHeaderBytes,
  logging: settings.logLevel,
  graphqlEndpoint: '/graphql',
  landingPage: false,
  graphiql: settings.graphiql,

  transportEntries: {
    ...perSubgraphEntries,
    // Every subgraph: queries/mutations over HTTP, subscriptions over graphql-transport-ws at
    // the subgraph's own URL (ws:// form). The client's token is interpolated per operation;
    // the WS transport keeps one upstream socket per distinct (url, connectionParams, headers),
    // so clients with different tokens never share an upstream socket.
    '*.http': {
      options: {
        subscriptions: {
          kind: 'ws',
          headers: [['authorization', '{context.loyalnestAuthorization}']],
          options: {
            connectionParams: { Authorization: '{context.loyalnestAuthorization}' },
          },
        },
      },
    },
  },

  customAgent: ({ url }: any) => (String(url).startsWith('https:') ? subgraphAgents.https : subgraphAgents.http),
  ...(settings.subgraphTimeoutMs > 0
    ? {
        upstreamTimeout: ({ executionRequest }: any) =>
          isSubscription(executionRequest) ? undefined : settings.subgraphTimeoutMs,
      }
    : {}),
  ...(settings.maxDepth > 0 ? { maxDepth: settings.maxDepth } : {}),
  ...(settings.maxTokens > 0 ? { maxTokens: settings.maxTokens } : {}),
  blockFieldSuggestions: settings.blockFieldSuggestions,
  ...(settings.introspection ? {} : { disableIntrospection: {} }),

  cors:
    settings.corsOrigins.length === 0
      ? false
      : {
          origin: settings.corsOrigins.includes('*') ? '*' : settings.corsOrigins,
          credentials: settings.corsCredentials,
          maxAge: settings.corsMaxAge,
        },

  // The router's own metrics (request and subgraph-call durations, errors) on /metrics,
  // beside the subgraphs' own: Prometheus scrapes each process.
  prometheus: { endpoint: '/metrics' },

  persistedDocuments: {
    allowArbitraryDocuments: settings.allowArbitraryDocuments,
    getPersistedOperation: (id: string) => persistedDocument(id),
    customErrors: {
      notFound: (payload: any) => {
        const id = requestedDocumentId(payload.params);
        // Via extensions.persistedQuery, answer with the APQ code so Apollo-style clients retry
        // with the full query (accepted when allowArbitraryDocuments is on).
        const viaApq = payload.params?.documentId == null;
        return new GraphQLError(`Persisted document "${id}" is not in this router's manifest`, {
          extensions: { code: viaApq ? 'PERSISTED_QUERY_NOT_FOUND' : 'PERSISTED_QUERY_NOT_IN_LIST' },
        });
      },
      keyNotFound: {
        message:
          'No GraphQL document: send "query", or "documentId" / extensions.persistedQuery.sha256Hash of a persisted document',
        extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' },
      },
      persistedQueryOnly: () =>
        new GraphQLError(
          'This router only runs persisted documents: send "documentId" (the sha256 of a document in the manifest) instead of "query"',
          { extensions: { code: 'PERSISTED_QUERY_ID_REQUIRED' } },
        ),
    },
  },

  plugins(ctx) {
    log = ctx.log.child('[loyalnest] ') as unknown as Log;
    if (!started) {
      started = true;
      startup();
    }
    return [
      useAuthorizationContext(),
      useHeaderPropagation(settings.propagateHeaders),
      useLimitErrorCodes(),
      useInputErrorCodes(),
      ...(settings.maxBodyBytes > 0 ? [useBodyLimit(settings.maxBodyBytes)] : []),
      ...(settings.exposeSubgraphErrorDetails ? [] : [useHideUpstreamDetails()]),
      // Limits: rate (per credential or IP, before parsing), then cost (before planning).
      ...(settings.rateLimits.enabled ? [rateLimitsPlugin()] : []),
      ...(settings.maxCost > 0 ? [useQueryCost(settings.maxCost)] : []),
    ] as any[];
  },
});

let started = false;

const credentials = createCredentialVerifier(settings.credentials);

/** graphql-ws server options for the router's WebSocket server (server.ts): who may keep a
 * socket (socket-auth.ts). What only the database knows is asked of the admin subgraph (any
 * would do: every subgraph applies kit's one rule), at its router.yaml URL or the supergraph's. */
export function graphqlWsOptions({ supergraphPath }: { supergraphPath: string }) {
  const url = settings.subgraphUrls.admin ?? routingUrl(supergraphPath, 'admin');
  if (!url) log.warn('no URL for the admin subgraph: WebSocket admission checks tokens only');
  return socketAuthentication(credentials, url && url.replace(/^http/, 'ws'), () => log);
}

/** A subgraph's routing URL as composed into the supergraph (`@join__graph(name:, url:)`). */
function routingUrl(supergraphPath: string, name: string): string | undefined {
  const sdl = readFileSync(supergraphPath, 'utf8');
  for (const match of sdl.matchAll(/@join__graph\(name: "([^"]+)", url: "([^"]+)"\)/g)) {
    if (match[1] === name) return match[2];
  }
  return undefined;
}

// One limiter (one Redis client) per process, however often the runtime asks for plugins.
let rateLimits: ReturnType<typeof useRateLimits> | undefined;
function rateLimitsPlugin() {
  rateLimits ??= useRateLimits(settings.rateLimits, credentials, () => log);
  return rateLimits;
}

function startup(): void {
  refreshManifest(true);
  // The CLI reads --port/--host and the PORT/HOST env vars and lets them win over this file.
  if (process.env.PORT && Number(process.env.PORT) !== settings.port) {
    log.warn(`env PORT=${process.env.PORT} overrides listen.port ${settings.port} from router.yaml`);
  }
  if (process.env.HOST && process.env.HOST !== settings.host) {
    log.warn(`env HOST=${process.env.HOST} overrides listen.host ${settings.host} from router.yaml`);
  }
  for (const [name, url] of Object.entries(settings.subgraphUrls)) {
    log.info(`subgraph ${name} overridden to ${url}`);
  }
}
