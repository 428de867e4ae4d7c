/**
 * One run of a scheduled journey: every customer its segment matches is enrolled, page by page. The
 * run is a workflow, so a restart in the middle goes on from the last page done; its progress is
 * readable with the `segmentRunState` query.
 */
import { continueAsNew, log, patched, setHandler, workflowInfo } from '@temporalio/workflow';
import { acts } from './activities';
import { segmentRunStateQuery, type SegmentRunWorkflow } from './messages';
import type { SegmentRunInput, SegmentRunState } from './types';

export type { SegmentRunInput, SegmentRunState };

/** Runs started before it keyed their events by the workflow id alone. */
const RUN_KEY_PATCH = 'segment-run-key';

export async function segmentRunWorkflow(input: SegmentRunInput): Promise<SegmentRunState> {
  const state: SegmentRunState = input.resume?.state ?? { scanned: 0, matched: 0, enrolled: 0, done: false };
  // The same run, resumed, enrolls by the same events; another run enrolls by its own. The schedule
  // names a run by its start time to the second, so two runs in one second share a workflow id:
  // the first run's id tells them apart.
  const { workflowId, firstExecutionRunId } = workflowInfo();
  const runKey = input.resume?.runKey ?? (patched(RUN_KEY_PATCH) ? `${workflowId}:${firstExecutionRunId}` : workflowId);
  let after = input.resume?.after ?? null;
  setHandler(segmentRunStateQuery, () => state);
  for (;;) {
    const page = await acts.segmentPage({ journeyId: input.journeyId, after, limit: input.pageSize ?? 500 });
    if (page.stopped) state.stopped = page.stopped;
    state.scanned += page.scanned;
    state.matched += page.customerIds.length;
    if (page.customerIds.length > 0) {
      state.enrolled += await acts.enrollSegment({
        journeyId: input.journeyId,
        runKey,
        customerIds: page.customerIds,
      });
    }
    log.info('scheduled run progress', { journey: input.journeyId, ...state });
    if (!page.next) break;
    after = page.next;
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof segmentRunWorkflow>({ ...input, resume: { after, state, runKey } });
    }
  }
  state.done = true;
  return state;
}

// The definition callers start it by (workflows/messages.ts) is this function's type.
segmentRunWorkflow satisfies SegmentRunWorkflow;
