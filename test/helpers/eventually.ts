/** Waiting for what happens on its own time: client/tools/testing/eventually.ts. */
export * from '../../client/tools/testing/eventually';
