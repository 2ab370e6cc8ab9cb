// Client mistakes the gateway itself would answer without `extensions.code`, or as an
// unexpected error, given the code a subgraph gives the same mistake (BAD_USER_INPUT, as
// subgraphs/kit/graphql/input_checks.py does). Both were found by tests/e2e/test_fuzz.py.
import { GraphQLError, type IntValueNode, type ValidationContext } from 'graphql';

export const BAD_USER_INPUT = 'BAD_USER_INPUT';

// The query planner (Rust) parses every document again, with 64-bit integers.
const INT64_MIN = BigInt('-9223372036854775808');
const INT64_MAX = BigInt('9223372036854775807');

/** Integer literals outside 64 bits. GraphQL allows them where a custom scalar is expected
 * (`discountPercent: 100000000000000000000` for a Decimal), graphql-js validates them, and
 * then the planner failed to parse the document: HTTP 500 "Unexpected error.". Refused in
 * validation instead, before planning; a string (or a variable) carries such a value. */
export function IntegerLiteralRangeRule(context: ValidationContext) {
  return {
    IntValue(node: IntValueNode) {
      const value = BigInt(node.value);
      if (value >= INT64_MIN && value <= INT64_MAX) return;
      const shown = node.value.length > 40 ? `${node.value.slice(0, 40)}...` : node.value;
      context.reportError(
        new GraphQLError(
          `Integer literal ${shown} is outside the 64-bit range a document may hold; send it as a string or in a variable`,
          { nodes: node, extensions: { code: BAD_USER_INPUT } },
        ),
      );
    },
  };
}

/** Variables that do not coerce to their declared types (an `Int` above 2^31 - 1, a required
 * variable missing): the router runtime's executor throws graphql-js's refusal
 * (`Variable "$first" got invalid value ...`), which reached clients with no code. Subgraphs
 * answer the same BAD_USER_INPUT. (graphql-js words every such refusal `Variable "$name" ...`;
 * anything else thrown is left alone, and stays masked if unexpected.) */
function coded(err: unknown): unknown {
  const errors = err instanceof AggregateError ? err.errors : [err];
  for (const error of errors) {
    if (!(error instanceof GraphQLError) || !error.message.startsWith('Variable "$')) continue;
    if (error.extensions?.code) continue;
    (error as { extensions: Record<string, unknown> }).extensions = { ...error.extensions, code: BAD_USER_INPUT };
  }
  return err;
}

function catching<Args extends unknown[], Result>(fn: (...args: Args) => Result) {
  return async (...args: Args): Promise<Awaited<Result>> => {
    try {
      return await fn(...args);
    } catch (err) {
      throw coded(err);
    }
  };
}

export function useInputErrorCodes() {
  return {
    onValidate({ addValidationRule }: any) {
      addValidationRule(IntegerLiteralRangeRule);
    },
    onExecute({ executeFn, setExecuteFn }: any) {
      setExecuteFn(catching(executeFn));
    },
    onSubscribe({ subscribeFn, setSubscribeFn }: any) {
      setSubscribeFn(catching(subscribeFn));
    },
  };
}
