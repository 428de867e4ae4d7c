/**
 * Fault points inside workflow code, for `npm run faults` only (built into its own workflow bundle,
 * never into Rapport's): where a journey continues as new, and where a scheduled segment run goes
 * on to its next page. Each reports through a sink, which the worker calls once the workflow task is
 * decided and before Temporal hears of it: a process killed there has decided and told no one.
 */
import { proxySinks, workflowInfo, type Sinks, type WorkflowInterceptorsFactory } from '@temporalio/workflow';

export type WorkflowFaultPoint = 'continue-as-new' | 'segment-page';

export interface FaultSinks extends Sinks {
  faults: { reached(point: WorkflowFaultPoint, key: string): void };
}

const { faults } = proxySinks<FaultSinks>();

export const interceptors: WorkflowInterceptorsFactory = () => ({
  outbound: [
    {
      async continueAsNew(input, next) {
        faults.reached('continue-as-new', workflowInfo().workflowId);
        return next(input);
      },
      scheduleActivity(input, next) {
        // The next page is read only after the page before was enrolled and that result recorded.
        if (input.activityType === 'segmentPage' && input.seq > 1) {
          faults.reached('segment-page', `${workflowInfo().runId}-${input.seq}`);
        }
        return next(input);
      },
    },
  ],
});
