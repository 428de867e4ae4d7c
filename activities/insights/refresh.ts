/**
 * The refresh of the customer value models as activities: the nightly Temporal Schedule (and a fit
 * through the API) refits the models, then follows every customer's segments and lifecycle stage
 * page by page (workflows/insights-refresh.ts), since new predictions can move anyone.
 */
import { heartbeat, log } from '@temporalio/activity';
import type { Db } from '../db/database';
import type { SegmentWatch, WatchCounts } from '../segment-watch';
import { rebuildCopurchases } from '../store/copurchases';
import { fitCustomerBase } from './models';

export interface RefitOutcome {
  /** The new fit's id; absent when the base was too small to fit. */
  modelId?: number;
  customers?: number;
  /** Why nothing was fitted. */
  skipped?: string;
}

export function createInsightActivities(db: Db, segments?: SegmentWatch) {
  return {
    async refitModels(): Promise<RefitOutcome> {
      // The co-purchase counts behind recommendations are counted again with it, mending any drift.
      log.info('co-purchases counted again', await rebuildCopurchases(db));
      try {
        const model = await fitCustomerBase(db, {
          progress: (text) => {
            log.info(text);
          },
        });
        return { modelId: model.id, customers: model.customers };
      } catch (err) {
        // A base too small to fit is an answer, not a failure to retry.
        const message = (err as Error).message;
        if (message.startsWith('too few')) return { skipped: message };
        throw err;
      }
    },

    async refreshCustomers(req: {
      after: string | null;
      limit: number;
    }): Promise<WatchCounts & { next: string | null }> {
      if (!segments) throw new Error('following segments needs the event intake');
      return segments.refreshPage({
        ...req,
        onProgress: (done) => {
          if (done % 50 === 0) heartbeat(done);
        },
      });
    },
  };
}
