/**
 * The activities as workflow code calls them, with their timeouts and retry policies. Only the
 * `Activities` type comes from activities/: no activity code enters the workflow bundle.
 */
import { proxyActivities, proxyLocalActivities } from '@temporalio/workflow';
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

const recordPolicy = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
} as const;

const records = proxyActivities<Activities>(recordPolicy);

/**
 * The same records as local activities: short database writes and reads that the worker runs inside
 * the workflow task, without a round trip through the Temporal server for each (a marker in the
 * history instead of three events and two extra workflow tasks).
 */
const localRecords = proxyLocalActivities<Activities>({ ...recordPolicy, localRetryThreshold: '10s' });

const segments = proxyActivities<Activities>({
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 30 },
});

type Acts = { [K in keyof Activities]: Activities[K] };

/** Each activity with its policy. The mapped type makes a new activity a compile error until it is listed. */
function withRecords(r: typeof records): Acts {
  return {
    sendMessage: outbound.sendMessage,
    callWebhook: outbound.callWebhook,
    loadCustomer: r.loadCustomer,
    markStep: r.markStep,
    recordSplit: r.recordSplit,
    recordGoal: r.recordGoal,
    updateCustomer: r.updateCustomer,
    createTask: r.createTask,
    markTaskTimedOut: r.markTaskTimedOut,
    finishEnrollment: r.finishEnrollment,
    segmentPage: records.segmentPage,
    enrollSegment: segments.enrollSegment,
    refitModels: segments.refitModels,
    refreshCustomers: segments.refreshCustomers,
  };
}

/** The activities, records as local activities. */
export const acts: Acts = withRecords(localRecords);

/**
 * Records as (remote) activities: how journeys started before the `records-local` patch run them,
 * so their histories replay unchanged.
 */
export const remoteRecordActs: Acts = withRecords(records);

/** The patch behind which journeys run their records as local activities (see journey.ts). */
export const LOCAL_RECORDS_PATCH = 'records-local';
