// Signs what Shopify signs, with Shopify's own Node library (@shopify/shopify-api, a dev
// dependency of gateway/router), so the suite checks our verifiers against the official
// implementation rather than against our reading of the docs.
//
// stdin: {"secret": "...", "kind": "oauth" | "proxy" | "webhook", "query": {...} | "body": "..."}
// stdout: the hex HMAC (oauth, proxy) or the base64 HMAC (webhook)
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const routerDir = join(dirname(fileURLToPath(import.meta.url)), "../gateway/router");
const packageDir = join(routerDir, "node_modules/@shopify/shopify-api");
// The library's own query signer is not exported from its entry point; load its module file
// (the same code `shopify.utils.validateHmac` and `shopify.auth.callback` run).
const { generateLocalHmac } = await import(
  pathToFileURL(join(packageDir, "dist/esm/lib/utils/hmac-validator.mjs")).href
);
const { getHmac } = await import(
  pathToFileURL(join(packageDir, "dist/esm/test-helpers/get-hmac.mjs")).href
);

const request = JSON.parse(readFileSync(0, "utf8"));
if (request.kind === "webhook") {
  process.stdout.write(getHmac(request.body, request.secret));
} else {
  const sign = generateLocalHmac({ apiSecretKey: request.secret });
  const signator = request.kind === "proxy" ? "appProxy" : "admin";
  process.stdout.write(await sign(request.query, signator));
}
