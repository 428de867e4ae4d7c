/**
 * The customer value models: `POST /v1/insights/fit` fits them on the whole customer base now (admin
 * keys); `GET /v1/insights` shows the newest fit. Each customer's predictions are in their facts
 * (`customer.predicted`) and in `GET /v1/customers/<ref>`.
 */
import { z } from 'zod';
import { fitCustomerBase, latestModel } from '../../../../activities/insights/models';
import type { App } from '../app';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';

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
              .describe('fit on the orders up to this time (default now), to check the models against what came after'),
          })
          .strict()
          .optional(),
      },
    },
    async (req, reply) => {
      const started = Date.now();
      try {
        const model = await fitCustomerBase(deps.db, {
          ...(req.body?.asOf ? { now: new Date(req.body.asOf) } : {}),
          progress: (text) => deps.logger.info({ component: 'insights' }, text),
        });
        deps.logger.info(
          { component: 'insights', customers: model.customers, ms: Date.now() - started },
          'customer value models fitted',
        );
        return model;
      } catch (err) {
        const message = (err as Error).message;
        if (message.startsWith('too few')) return sendProblem(reply, 422, 'Cannot fit', message);
        throw err;
      }
    },
  );
}
