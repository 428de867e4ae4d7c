/**
 * A refresh of the customer value models: refit them on the customer base (unless the fit was just
 * made), then follow every customer's segments and lifecycle stage page by page, since new predictions
 * can move anyone into a segment or make them lapse. A restart goes on from the last page done; the
 * progress is readable with the `insightsRefreshState` query.
 */
import { continueAsNew, log, setHandler, workflowInfo } from '@temporalio/workflow';
import { acts } from './activities';
import { insightsRefreshStateQuery, type InsightsRefreshWorkflow } from './messages';
import type { InsightsRefreshInput, InsightsRefreshState } from './types';

export async function insightsRefreshWorkflow(input: InsightsRefreshInput): Promise<InsightsRefreshState> {
  const state: InsightsRefreshState = input.resume?.state ?? {
    customers: 0,
    entered: 0,
    left: 0,
    lapsed: 0,
    done: false,
  };
  setHandler(insightsRefreshStateQuery, () => state);
  if (input.refit && !input.resume) {
    const fit = await acts.refitModels();
    if (fit.skipped) {
      state.skipped = fit.skipped;
      state.done = true;
      return state;
    }
    if (fit.modelId !== undefined) state.modelId = fit.modelId;
  }
  let after = input.resume?.after ?? null;
  for (;;) {
    const page = await acts.refreshCustomers({ after, limit: input.pageSize ?? 500 });
    state.customers += page.customers;
    state.entered += page.entered;
    state.left += page.left;
    state.lapsed += page.lapsed;
    log.info('customers refreshed', { ...state });
    if (!page.next) break;
    after = page.next;
    if (workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof insightsRefreshWorkflow>({ ...input, resume: { after, state } });
    }
  }
  state.done = true;
  return state;
}

// The definition callers start it by (workflows/messages.ts) is this function's type.
insightsRefreshWorkflow satisfies InsightsRefreshWorkflow;
