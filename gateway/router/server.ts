// The router's process: Hive Gateway's runtime served by our own Node HTTP server, with
// graphql-ws on the same port — what `hive-gateway supergraph <file> -c <config>
// --hive-router-runtime` does, plus the WebSocket hooks the CLI leaves out.
//
// Why not the CLI: Hive Gateway 2.15's CLI calls graphql-ws' `useServer` with only the
// runtime's execute/subscribe/onSubscribe, and no plugin hook sees connection_init (the first
// hook that sees a socket runs at its first subscribe). So a socket with no token, or a forged or
// expired one, got connection_ack, and its first subscribe failed as DOWNSTREAM_SERVICE_ERROR
// when the subgraph refused the upstream socket. The runtime's documented programmatic use
// (`createGatewayRuntime` + a Node server + graphql-ws `useServer`,
// https://the-guild.dev/graphql/hive/docs/gateway/deployment/runtimes/nodejs) lets the config
// module add graphql-ws server options: gateway.config.ts exports `graphqlWsOptions(
// { supergraphPath })` (socket-auth.ts: 4401/4403 at connection_init, 4401 "token expired").
//
// Kept from the CLI, by calling the same exported functions: the config module's
// `gatewayConfig`, the built-in plugins it enables (depth and token limits, field-suggestion
// blocking, ...), the cache, the Laboratory page, the Rust query planner (--hive-router-runtime),
// the hot reload of the supergraph file, /healthcheck and /readiness (the runtime's), graceful
// shutdown on SIGINT/SIGTERM. Added: a client's X-Request-Id the subgraphs would not keep is
// replaced (dropUnusableRequestId). The command line is the CLI's subset that we use:
//   server.ts supergraph <file> [-c <config>] [-p <port>] [-h <host>] [--hive-router-runtime]
// PORT / HOST in the environment stand in for -p / -h, as with the CLI. Not kept: --fork, the
// Hive/Apollo registry and reporting flags (none is used here).
import { watch } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import {
  createGatewayRuntime,
  createLoggerFromLogging,
  defaultOptions,
  getBuiltinPluginsFromConfig,
  getCacheInstanceFromConfig,
  getGraphQLWSOptions,
  Logger,
  MemPubSub,
} from '@graphql-hive/gateway';
import { normalizeNodeRequest } from '@whatwg-node/server';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';

function usage(message: string): never {
  console.error(`[loyalnest-router] ${message}`);
  console.error('usage: server.ts supergraph <file> [-c <config>] [-p <port>] [-h <host>] [--hive-router-runtime]');
  process.exit(2);
}

function commandLine() {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        'config-path': { type: 'string', short: 'c', default: 'gateway.config.ts' },
        port: { type: 'string', short: 'p' },
        host: { type: 'string', short: 'h' },
        'hive-router-runtime': { type: 'boolean', default: false },
      },
    });
  } catch (err) {
    usage((err as Error).message);
  }
  const [command, supergraph, ...rest] = parsed.positionals;
  if (command !== 'supergraph' || !supergraph || rest.length > 0) usage('expected: supergraph <file>');
  const portText = parsed.values.port ?? process.env.PORT;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) usage(`invalid port ${portText}`);
  return {
    supergraphPath: resolve(supergraph),
    configPath: resolve(parsed.values['config-path']),
    port,
    host: parsed.values.host ?? process.env.HOST,
    hiveRouterRuntime: parsed.values['hive-router-runtime'],
  };
}

async function main(): Promise<void> {
  const args = commandLine();
  const configModule = await import(pathToFileURL(args.configPath).href);
  const loadedConfig = configModule.gatewayConfig;
  if (!loadedConfig) usage(`no "gatewayConfig" exported from ${args.configPath}`);
  const log: Logger = loadedConfig.logging != null ? createLoggerFromLogging(loadedConfig.logging) : new Logger();

  const pubsub = loadedConfig.pubsub ?? new MemPubSub();
  const cache = await getCacheInstanceFromConfig(loadedConfig, { pubsub, log, cwd: process.cwd() });
  const builtinPlugins = await getBuiltinPluginsFromConfig(loadedConfig, { log, cache });
  const config = {
    ...defaultOptions,
    ...loadedConfig,
    ...(args.port !== undefined ? { port: args.port } : {}),
    ...(args.host !== undefined ? { host: args.host } : {}),
    supergraph: args.supergraphPath,
    logging: log,
    pubsub,
    cache,
    plugins: (ctx: any) => [...builtinPlugins, ...(loadedConfig.plugins?.(ctx) ?? [])],
  };
  // A local file is watched, not polled.
  delete config.pollingInterval;
  if (args.hiveRouterRuntime && !config.unifiedGraphHandler) {
    log.info('Using Hive Router Runtime');
    config.unifiedGraphHandler = (await import('@graphql-hive/router-runtime')).unifiedGraphHandler;
  }

  const runtime = createGatewayRuntime(config);
  log.info({ path: args.supergraphPath }, 'Loading local supergraph');
  await runtime.getSchema();

  const server = createServer(
    {
      maxHeaderSize: config.maxHeaderSize ?? 16384,
      requestTimeout: config.requestTimeout,
      keepAliveTimeout: config.keepAliveTimeout,
    },
    (request, response) => {
      dropUnusableRequestId(request);
      return runtime(request, response);
    },
  );
  const webSockets = new WebSocketServer({ path: runtime.graphqlEndpoint, server });
  const webSocketServer = useServer(
    {
      ...getGraphQLWSOptions(runtime, (ctx: any) => ({
        req: ctx.extra.request,
        socket: ctx.extra.socket,
        request: normalizeNodeRequest(ctx.extra.request, runtime.fetchAPI),
      })),
      ...(configModule.graphqlWsOptions?.({ supergraphPath: args.supergraphPath }) ?? {}),
    },
    webSockets,
  );

  const stopWatching = watchSupergraph(args.supergraphPath, runtime, log);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info(`Stopping on ${signal}`);
    stopWatching.abort();
    server.closeIdleConnections();
    const closed = new Promise<void>((done) => server.close(() => done()));
    // Closes every client socket with 1001 "Going away"; a client that does not finish the
    // closing handshake within a second is cut.
    const fuse = setTimeout(() => webSockets.clients.forEach((client) => client.terminate()), 1000);
    fuse.unref();
    await webSocketServer.dispose().catch((err: Error) => log.warn(`WebSocket server: ${err.message}`));
    server.closeAllConnections();
    await closed;
    // Disposes the plugins too (the rate limiter's Redis client would keep the process alive).
    await runtime[Symbol.asyncDispose]();
    log.info('Stopped');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  const host = config.host;
  const port = config.port;
  await new Promise<void>((listening, failed) => {
    server.once('error', failed);
    server.listen(port, host, () => listening());
  });
  log.info(`Listening on http://${host}:${port}`);
}

// The request ids a subgraph keeps as its own (subgraphs/kit/graphql/context.py). The runtime's
// built-in `requestId` passes on whatever the client sent, and a subgraph would log another id
// in place of one it refuses: such a client value is dropped here, so the runtime makes one
// (a UUID) that the router, the subgraphs and the response all carry.
const USABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

function dropUnusableRequestId(request: IncomingMessage): void {
  const id = request.headers['x-request-id'];
  if (id !== undefined && !USABLE_REQUEST_ID.test(id as string)) delete request.headers['x-request-id'];
}

/** The CLI's hot reload: the supergraph file is watched and the unified graph invalidated when
 * it changes. Rewritten in place, never renamed (a rename ends the watch; see the README). */
function watchSupergraph(path: string, runtime: { invalidateUnifiedGraph(): void }, log: Logger): AbortController {
  const controller = new AbortController();
  (async () => {
    for await (const event of watch(path, { signal: controller.signal })) {
      if (event.eventType === 'rename') {
        log.error({ path }, 'Supergraph file was renamed: no longer watched');
        return;
      }
      log.info({ path }, 'Supergraph changed. Invalidating...');
      runtime.invalidateUnifiedGraph();
    }
  })().catch((err: Error) => {
    if (err.name !== 'AbortError') log.error({ path, err }, 'Supergraph watcher closed with an error');
  });
  return controller;
}

main().catch((err) => {
  console.error('[loyalnest-router] failed to start:', err);
  process.exit(1);
});
