/**
 * The customer value models: `POST /v1/insights/fit` fits them on the whole customer base now (admin
 * keys); `GET /v1/insights` shows the newest fit. Each customer's predictions are in their facts
 * (`customer.predicted`) and in `GET /v1/customers/<ref>`. A fit also counts the co-purchases behind
 * recommendations again (activities/store/copurchases.ts).
 */
import { z } from 'zod';
import { fitCustomerBase, latestModel } from '../../../../activities/insights/models';
import { recordAudit } from '../../../../activities/store/audit';
import { rebuildCopurchases } from '../../../../activities/store/copurchases';
import type { App } from '../app';
import { actorOf } from '../auth';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';
import { INSIGHTS_REFRESH_WORKFLOW, type InsightsRefreshWorkflow } from '../../../../workflows/messages';

export function insightsRoutes(app: App, deps: ApiDeps): void {
  app.get(
    '/v1/insights',
    { schema: { summary: 'The newest fit of the customer value models (BG/NBD, Gamma-Gamma)', tags: ['insights'] } },
    async (_req, reply) => {
      const model = await latestModel(deps.db);
      return model ?? sendProblem(reply, 404, 'Not found', 'no model has been fitted yet: POST /v1/insights/fit');
    },
  );

  app.post(
    '/v1/insights/fit',
    {
      schema: {
        summary: 'Fit the customer value models on every customer’s orders now; the fit predicts from then on',
        tags: ['insights'],
        body: z
          .object({
            asOf: z.iso
              .datetime({ offset: true, error: 'expected an ISO 8601 time' })
              .optional()
              .describe(
                'fit on the orders up to this time (default now), to check the models against what came after; such a fit moves no customer',
              ),
          })
          .strict()
          .optional(),
      },
    },
    async (req, reply) => {
      const started = Date.now();
      try {
        // The co-purchase counts behind recommendations are counted again from the orders too,
        // mending any drift from orders recorded at the same moment.
        const copurchases = await rebuildCopurchases(deps.db);
        deps.logger.info({ component: 'insights', ...copurchases }, 'co-purchases counted again');
        const model = await fitCustomerBase(deps.db, {
          ...(req.body?.asOf ? { now: new Date(req.body.asOf) } : {}),
          progress: (text) => deps.logger.info({ component: 'insights' }, text),
        });
        deps.logger.info(
          { component: 'insights', customers: model.customers, ms: Date.now() - started },
          'customer value models fitted',
        );
        await recordAudit(deps.db, {
          actor: actorOf(req),
          action: 'insights.fit',
          target: `insights:${model.id}`,
          detail: { customers: model.customers, ...(req.body?.asOf ? { asOf: req.body.asOf } : {}) },
        });
        // A fit as of now moves customers: their segments and lifecycle stages are followed in the
        // background, by a workflow whose progress Temporal shows. A fit as of a past time checks
        // the models against history and moves nobody.
        if (req.body?.asOf || !deps.taskQueue) return { ...model, refresh: null };
        const refresh = await deps.temporal.workflow.start<InsightsRefreshWorkflow>(INSIGHTS_REFRESH_WORKFLOW, {
          taskQueue: deps.taskQueue,
          workflowId: `insights-refresh:${model.id}`,
          args: [{ refit: false }],
        });
        return { ...model, refresh: { workflowId: refresh.workflowId } };
      } catch (err) {
        const message = (err as Error).message;
        if (message.startsWith('too few')) return sendProblem(reply, 422, 'Cannot fit', message);
        throw err;
      }
    },
  );
}
