#!/usr/bin/env node
// Composes the subgraph SDL files listed in supergraph.yaml into a Federation v2 supergraph.
//
//   node gateway/router/compose.mjs --config supergraph/supergraph.yaml --out supergraph/supergraph.graphql
//
// --config and --out resolve against the current working directory; schema paths inside the
// config resolve against the config file's directory. `--out -` prints to stdout.
//
//   node gateway/router/compose.mjs --public supergraph/supergraph.graphql
//
// prints the API schema a supergraph serves (no join__/link__ machinery, @inaccessible parts
// removed), transformed by the same library the router uses, for the breaking-change check.
// Exit codes: 0 composed, 1 composition errors, 2 usage / input errors.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import {
  composeServices,
  compositionHasErrors,
  transformSupergraphToPublicSchema,
} from '@theguild/federation-composition';
import { GraphQLError, parse, print } from 'graphql';
import YAML from 'yaml';

class InputError extends Error {}

function parseCli(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      out: { type: 'string', short: 'o' },
      public: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(
      'usage: node compose.mjs --config <supergraph.yaml> --out <supergraph.graphql | ->\n' +
        '       node compose.mjs --public <supergraph.graphql>\n',
    );
    process.exit(0);
  }
  if (values.public) return { publicOf: resolve(values.public) };
  if (!values.config || !values.out) {
    throw new InputError('both --config and --out are required (use "--out -" for stdout)');
  }
  return { configPath: resolve(values.config), out: values.out };
}

function readText(path, what) {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${what} ${path}: ${err.message}`);
  }
}

function loadServices(configPath) {
  let config;
  try {
    config = YAML.parse(readText(configPath, 'config'));
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`${configPath}: invalid YAML: ${err.message}`);
  }
  const subgraphs = config?.subgraphs;
  if (!subgraphs || typeof subgraphs !== 'object' || Array.isArray(subgraphs)) {
    throw new InputError(`${configPath}: expected a "subgraphs" mapping of name -> {routing_url, schema}`);
  }
  const baseDir = dirname(configPath);
  // Sorted by name so that reordering supergraph.yaml never changes the output.
  return Object.keys(subgraphs)
    .sort()
    .map((name) => {
      const entry = subgraphs[name] ?? {};
      if (typeof entry.routing_url !== 'string' || entry.routing_url === '') {
        throw new InputError(`${configPath}: subgraph "${name}" needs a routing_url`);
      }
      const schemaRef = typeof entry.schema === 'string' ? entry.schema : entry.schema?.file;
      if (typeof schemaRef !== 'string' || schemaRef === '') {
        throw new InputError(`${configPath}: subgraph "${name}" needs a schema file path`);
      }
      const schemaPath = resolve(baseDir, schemaRef);
      const sdl = readText(schemaPath, `schema of subgraph "${name}"`);
      let typeDefs;
      try {
        typeDefs = parse(sdl, { noLocation: false });
      } catch (err) {
        const where = err instanceof GraphQLError && err.locations?.[0];
        const at = where ? `:${where.line}:${where.column}` : '';
        throw new InputError(`${schemaPath}${at}: GraphQL syntax error: ${err.message}`);
      }
      return { name, url: entry.routing_url, typeDefs };
    });
}

function formatCompositionError(error) {
  const code = error.extensions?.code ? `[${error.extensions.code}] ` : '';
  return `  - ${code}${error.message}`;
}

function printPublicSchema(supergraphPath) {
  const text = readText(supergraphPath, 'supergraph');
  let document;
  try {
    document = parse(text);
  } catch (err) {
    throw new InputError(`${supergraphPath}: GraphQL syntax error: ${err.message}`);
  }
  process.stdout.write(`${print(transformSupergraphToPublicSchema(document))}\n`);
}

function main() {
  let args;
  let services;
  try {
    args = parseCli(process.argv.slice(2));
    if (args.publicOf) {
      printPublicSchema(args.publicOf);
      return;
    }
    services = loadServices(args.configPath);
  } catch (err) {
    process.stderr.write(`compose: ${err.message}\n`);
    process.exit(2);
  }

  const result = composeServices(services);
  if (compositionHasErrors(result)) {
    process.stderr.write(
      `compose: composition of ${services.map((s) => s.name).join(', ')} failed with ` +
        `${result.errors.length} error(s):\n${result.errors.map(formatCompositionError).join('\n')}\n`,
    );
    process.exit(1);
  }

  const sdl = result.supergraphSdl.endsWith('\n') ? result.supergraphSdl : `${result.supergraphSdl}\n`;
  if (args.out === '-') {
    process.stdout.write(sdl);
    return;
  }
  const outPath = resolve(args.out);
  let previous = null;
  try {
    previous = readFileSync(outPath, 'utf8');
  } catch {
    // first composition
  }
  if (previous === sdl) {
    process.stderr.write(`compose: ${outPath} is up to date\n`);
    return;
  }
  // Written in place, not via rename: the running gateway watches this path and stops
  // watching (keeping the old schema) when the file is replaced by a rename.
  writeFileSync(outPath, sdl);
  process.stderr.write(`compose: wrote ${outPath} (${services.length} subgraphs)\n`);
}

main();
