/** The test stack lives with the product's testing tools: client/testing/stack.ts. */
export * from '../../client/testing/stack';
