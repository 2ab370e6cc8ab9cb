// The static cost of a client operation, computed on the supergraph before any subgraph is
// called, refused above the budget (QUERY_TOO_COMPLEX, with the cost and the budget), and told
// to the client in `extensions.cost` (Shopify's shape) when it runs.
//
// The same rules as subgraphs/kit/graphql/cost.py (each subgraph checks its own part there):
// - a connection (a field taking `first` / `last`) costs its page size (DEFAULT_PAGE_SIZE without
//   either) and multiplies everything selected inside it by that size;
// - a list fetched by ids (`nodes(ids:)`) costs, and multiplies by, the number of ids;
// - any other object costs 1; scalars, enums and introspection cost nothing; the page's own
//   structure (fields of `*Connection` / `*Edge` types) is paid for by its connection;
// - a mutation adds 10; aliases and fragments count each time they are selected.
//
// Hive Gateway's own demand control (`demandControl`) was not used: it prices the subgraph
// requests as they are made (so a refusal can come after the first subgraph already ran),
// sizes lists only through @listSize directives in the subgraph schemas (no default page size
// when `first` is absent), and reports `extensions.cost.estimated` rather than Shopify's shape.
import {
  GraphQLError,
  Kind,
  OperationTypeNode,
  getArgumentValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isCompositeType,
  isListType,
  isNonNullType,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type GraphQLType,
  type SelectionSetNode,
} from 'graphql';

export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';
const DEFAULT_PAGE_SIZE = 20; // subgraphs/kit/pagination.py
const MUTATION_COST = 10;
const PAGE_ARGUMENTS = ['first', 'last'];
const PAGE_STRUCTURE = /(Connection|Edge)$/;

function isList(type: GraphQLType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName?: string | null,
  variables?: Record<string, unknown> | null,
): number {
  const operation = getOperationAST(document, operationName);
  if (!operation) return 0;
  const root = schema.getRootType(operation.operation);
  if (!root) return 0;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  // Variables execution would refuse anyway count as absent (each list its default size).
  const variableValues = coerced.coerced ?? {};
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }

  function* fieldsOf(parent: GraphQLNamedType | undefined, set: SelectionSetNode): Generator<[FieldNode, GraphQLNamedType | undefined]> {
    for (const selection of set.selections) {
      if (selection.kind === Kind.FIELD) {
        yield [selection, parent];
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
        yield* fieldsOf(on ?? undefined, selection.selectionSet);
      } else {
        const fragment = fragments.get(selection.name.value);
        // Validation has ruled out fragment cycles.
        if (fragment) yield* fieldsOf(schema.getType(fragment.typeCondition.name.value) ?? undefined, fragment.selectionSet);
      }
    }
  }

  function listSize(field: GraphQLField<unknown, unknown>, node: FieldNode): number | null {
    const paginated = field.args.some((arg) => PAGE_ARGUMENTS.includes(arg.name));
    const listedBy = field.args.filter((arg) => isList(arg.type)).map((arg) => arg.name);
    if (!paginated && !(listedBy.length > 0 && isList(field.type))) return null;
    let values: Record<string, unknown> = {};
    try {
      values = getArgumentValues(field, node, variableValues);
    } catch {
      // a bad argument is refused by execution; count the default here
    }
    if (paginated) {
      const given = PAGE_ARGUMENTS.map((name) => values[name]).filter(
        (size): size is number => Number.isInteger(size) && (size as number) >= 0,
      );
      return given.length > 0 ? Math.max(...given) : DEFAULT_PAGE_SIZE;
    }
    return Math.max(...listedBy.map((name) => (Array.isArray(values[name]) ? (values[name] as unknown[]).length : 0)));
  }

  function selections(parent: GraphQLNamedType | undefined, set: SelectionSetNode, multiplier: number): number {
    let total = 0;
    for (const [node, parentType] of fieldsOf(parent, set)) {
      const fields = parentType && 'getFields' in parentType ? parentType.getFields() : undefined;
      const field = fields?.[node.name.value] as GraphQLField<unknown, unknown> | undefined;
      if (!field || !parentType) continue; // __typename, introspection
      const size = listSize(field, node);
      let inner = multiplier;
      if (size !== null) {
        total += multiplier * size;
        inner = multiplier * size;
      } else if (isCompositeType(getNamedType(field.type)) && !PAGE_STRUCTURE.test(parentType.name)) {
        total += multiplier;
      }
      if (node.selectionSet) total += selections(getNamedType(field.type), node.selectionSet, inner);
    }
    return total;
  }

  const base = operation.operation === OperationTypeNode.MUTATION ? MUTATION_COST : 0;
  return base + selections(root, operation.selectionSet, 1);
}

/** `extensions.cost` in Shopify's shape, with the fields that apply: what the operation asked
 * for and the most one operation may ask for (there is no cost bucket to restore). */
function costExtension(cost: number, budget: number) {
  return { requestedQueryCost: cost, throttleStatus: { maximumAvailable: budget } };
}

function tooComplex(cost: number, budget: number): GraphQLError {
  return new GraphQLError(
    `Query cost is ${cost}, which exceeds the single query max cost limit (${budget}). ` +
      'Ask for smaller pages (`first` / `last`) or fewer nested lists.',
    { extensions: { code: QUERY_TOO_COMPLEX, cost, maxCost: budget } },
  );
}

/** Refuses an operation over `budget` before it is planned; adds `extensions.cost` to the
 * result of a query or mutation that runs. */
export function useQueryCost(budget: number) {
  const check = ({ args, setResultAndStopExecution }: any): number | null => {
    const cost = operationCost(args.schema, args.document, args.operationName, args.variableValues);
    if (cost > budget) {
      setResultAndStopExecution({ errors: [tooComplex(cost, budget)] });
      return null;
    }
    return cost;
  };
  return {
    onExecute(payload: any) {
      const cost = check(payload);
      if (cost === null) return undefined;
      return {
        onExecuteDone({ result, setResult }: any) {
          if (!result || typeof result[Symbol.asyncIterator] === 'function') return;
          setResult({ ...result, extensions: { ...(result.extensions ?? {}), cost: costExtension(cost, budget) } });
        },
      };
    },
    onSubscribe(payload: any) {
      check(payload);
    },
  };
}
