/** A TCP port free on loopback right now: worker/child-process.ts. */
export { freePort } from '../../worker/child-process';
