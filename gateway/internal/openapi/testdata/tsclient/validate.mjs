// Validates an OpenAPI document as OpenAPI 3.1 with Redocly's linter
// (offline: the document has no external references): its structure against
// the specification, and the rules of Redocly's "recommended" set, which
// include that every operation declares its security.
import { createConfig, formatProblems, getTotals, lint } from '@redocly/openapi-core';

const ref = process.argv[2];
if (!ref) {
  console.error('usage: node validate.mjs <openapi.json>');
  process.exit(2);
}
const config = await createConfig({
  extends: ['recommended'],
  rules: {
    struct: 'error',
    'no-unresolved-refs': 'error',
    'security-defined': 'error',
    'operation-operationId': 'error',
    'operation-operationId-unique': 'error',
    // The Go test of the document (openapi_test.go) checks error responses,
    // with the few routes that have none (a liveness probe, the documents).
    'operation-4xx-response': 'off',
    // The project has not chosen a license yet.
    'info-license': 'off',
    'no-invalid-media-type-examples': 'error',
    'no-invalid-schema-examples': 'error',
  },
});
const problems = await lint({ ref, config });
const totals = getTotals(problems);
formatProblems(problems, { format: 'stylish', totals, version: '' });
if (totals.errors > 0) {
  process.exit(1);
}
console.log(`${ref}: valid OpenAPI 3.1 (${totals.warnings} warnings)`);
