/** Temporal environments for tests: client/tools/testing/environment.ts. */
export * from '../../client/tools/testing/environment';
