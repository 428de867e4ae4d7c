/** Waiting for what happens on its own time: client/testing/eventually.ts. */
export * from '../../client/testing/eventually';
