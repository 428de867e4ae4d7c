/**
 * The activities as workflow code calls them, with their timeouts and retry policies. Only the
 * `Activities` type comes from activities/: no activity code enters the workflow bundle.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { OUTBOUND_MAX_ATTEMPTS } from '../definitions/retry';

const outbound = proxyActivities<Activities>({
  startToCloseTimeout: '2 minutes',
  // The send heartbeats while the provider works: a worker that died is noticed in seconds, not minutes.
  heartbeatTimeout: '20s',
  // Bounded: a provider that keeps failing ends as a recorded failure, never an endless retry.
  retry: {
    initialInterval: '2s',
    backoffCoefficient: 2,
    maximumInterval: '10 minutes',
    maximumAttempts: OUTBOUND_MAX_ATTEMPTS,
  },
});

const records = proxyActivities<Activities>({
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

const segments = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

/** Each activity with its policy. The mapped type makes a new activity a compile error until it is listed. */
export const acts: { [K in keyof Activities]: Activities[K] } = {
  sendMessage: outbound.sendMessage,
  callWebhook: outbound.callWebhook,
  loadCustomer: records.loadCustomer,
  markStep: records.markStep,
  recordSplit: records.recordSplit,
  recordGoal: records.recordGoal,
  updateCustomer: records.updateCustomer,
  createTask: records.createTask,
  markTaskTimedOut: records.markTaskTimedOut,
  finishEnrollment: records.finishEnrollment,
  segmentPage: records.segmentPage,
  enrollSegment: segments.enrollSegment,
};
