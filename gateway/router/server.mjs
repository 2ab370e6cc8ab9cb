#!/usr/bin/env node
// Starts the router (server.ts). Node 20 cannot import TypeScript by itself: this registers the
// loader the `hive-gateway` CLI uses for gateway.config.ts (@graphql-hive/importer), so
// server.ts, the config and its plugins load exactly as they did under the CLI.
import { register } from 'node:module';

register('@graphql-hive/importer/hooks', import.meta.url);
await import('./server.ts');
