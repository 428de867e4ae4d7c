/** Temporal environments for tests: client/testing/environment.ts. */
export * from '../../client/testing/environment';
