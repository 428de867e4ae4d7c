/**
 * Accounts (client organisations): `GET /v1/accounts/<id>` shows one with its contacts, the orders
 * placed for it and what its contacts are predicted to be worth; `/timeline` every contact's
 * timeline, newest first, a page at a time. Accounts are made by naming them (events, profiles).
 */
import { z } from 'zod';
import { getAccount } from '../../../../activities/store/accounts';
import { timelinePage } from '../../../../activities/store/timeline';
import { timelineQuery } from './timeline-query';
import type { App } from '../app';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';

/** The most timeline entries one page may ask for. */

const idParam = z.object({ id: z.string().min(1).max(200).describe('the account id, as the other system gives it') });

export function accountRoutes(app: App, deps: ApiDeps): void {
  const { db } = deps;

  app.get(
    '/v1/accounts/:id',
    {
      schema: {
        summary: 'An account: its contacts, the orders placed for it (revenue), and its predicted value',
        tags: ['accounts'],
        params: idParam,
      },
    },
    async (req, reply) => {
      const account = await getAccount(db, req.params.id);
      return account ?? sendProblem(reply, 404, 'Not found', `no account ${req.params.id}`);
    },
  );

  app.get(
    '/v1/accounts/:id/timeline',
    {
      schema: {
        summary: 'Every contact’s timeline entries, newest first, a page at a time',
        tags: ['accounts'],
        params: idParam,
        querystring: timelineQuery,
      },
    },
    async (req, reply) => {
      const known = await db.selectFrom('accounts').select('id').where('id', '=', req.params.id).executeTakeFirst();
      if (!known) return sendProblem(reply, 404, 'Not found', `no account ${req.params.id}`);
      const page = await timelinePage(db, { accountId: req.params.id }, req.query);
      return { account: req.params.id, ...page };
    },
  );
}
