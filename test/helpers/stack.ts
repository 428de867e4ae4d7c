/** The test stack lives with the product's testing tools: client/tools/testing/stack.ts. */
export * from '../../client/tools/testing/stack';
