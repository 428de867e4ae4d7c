/** Customers: create or update, the single view with its timeline, explain, merge, erase. */
import { z } from 'zod';
import { eraseOutbox } from '../../../../activities/channels/outbox';
import { recordConsent } from '../../../../activities/store/consent';
import {
  eraseCustomer,
  findCustomer,
  getCustomer,
  mergeCustomers,
  toCustomerView,
  upsertCustomer,
} from '../../../../activities/store/customers';
import { listEnrollments } from '../../../../activities/store/enrollments';
import { explainCustomer } from '../../../../activities/store/explain';
import { customerFacts } from '../../../../activities/store/facts';
import { listTimeline } from '../../../../activities/store/timeline';
import { cancelEnrollment } from '../../events/enrollments';
import { customerRef, profileFields } from '../../events/schema';
import type { App } from '../app';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';
import { journeyStateQuery } from '../../../../workflows/messages';

const refParam = z.object({ ref: z.string().min(1).describe('customer id, email or phone (E.164)') });

export function customerRoutes(app: App, deps: ApiDeps): void {
  const { db } = deps;

  /** A customer by id, email or phone (E.164). */
  const resolveRef = async (ref: string) =>
    ref.includes('@')
      ? findCustomer(db, { email: ref })
      : ref.startsWith('+')
        ? findCustomer(db, { phone: ref })
        : getCustomer(db, ref);

  async function detail(id: string) {
    const row = (await getCustomer(db, id))!;
    const [facts, identities, enrollments, timeline] = await Promise.all([
      customerFacts(db, row),
      db
        .selectFrom('identities')
        .select(['kind', 'value', 'created_at'])
        .where('customer_id', '=', row.id)
        .orderBy('created_at')
        .execute(),
      listEnrollments(db, row.id),
      listTimeline(db, row.id),
    ]);
    return {
      customer: { ...toCustomerView(row), metrics: facts.metrics, predicted: facts.predicted, consent: facts.consent },
      identities: identities.map((i) => ({ kind: i.kind, value: i.value, since: i.created_at.toISOString() })),
      enrollments,
      timeline,
    };
  }

  async function saveProfile(
    customerId: string | undefined,
    ref: z.output<typeof customerRef>,
    profile: z.output<typeof profileFields>,
  ) {
    const result = await db.transaction().execute(async (tx) => {
      const result = await upsertCustomer(tx, customerId ? { id: customerId } : ref, profile);
      if (profile.consent) {
        await recordConsent(tx, result.customer.id, profile.consent, {
          method: 'api',
          source: 'customer update',
          at: new Date(),
        });
      }
      return result;
    });
    if (result.merged.length) await deps.intake.settleMerges([result.customer.id]);
    return result;
  }

  app.post(
    '/v1/customers',
    {
      schema: {
        summary: 'Create a customer, or update the one these identities name',
        tags: ['customers'],
        body: z.object({ customer: customerRef, profile: profileFields.default({}) }).strict(),
      },
    },
    async (req, reply) => {
      try {
        const { customer, created } = await saveProfile(undefined, req.body.customer, req.body.profile);
        return reply.code(created ? 201 : 200).send(await detail(customer.id));
      } catch (err) {
        if (err instanceof Error && err.name === 'CustomerNotFoundError')
          return sendProblem(reply, 404, 'Not found', err.message, [{ path: 'customer.id', message: err.message }]);
        throw err;
      }
    },
  );

  app.get(
    '/v1/customers/:ref',
    {
      schema: {
        summary: 'A customer: profile, identities, consent, metrics, journeys, timeline',
        tags: ['customers'],
        params: refParam,
      },
    },
    async (req, reply) => {
      const row = await resolveRef(req.params.ref);
      if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${req.params.ref}`);
      return detail(row.id);
    },
  );

  app.patch(
    '/v1/customers/:ref',
    {
      schema: { summary: 'Update a customer’s profile', tags: ['customers'], params: refParam, body: profileFields },
    },
    async (req, reply) => {
      const row = await resolveRef(req.params.ref);
      if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${req.params.ref}`);
      await saveProfile(row.id, {}, req.body);
      return detail(row.id);
    },
  );

  app.get(
    '/v1/customers/:ref/explain',
    {
      schema: {
        summary: 'Why the customer got, or did not get, each message; where they are and what they wait for',
        tags: ['customers'],
        params: refParam,
        querystring: z.object({ journey: z.string().optional() }),
      },
    },
    async (req, reply) => {
      const row = await resolveRef(req.params.ref);
      if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${req.params.ref}`);
      const enrollments = await explainCustomer(db, row.id, req.query.journey);
      const live = await Promise.all(
        enrollments.map(async (e) => {
          if (e.status !== 'active') return { ...e, waitingFor: null };
          try {
            const state = await deps.temporal.workflow.getHandle(e.workflowId).query(journeyStateQuery);
            return { ...e, currentStep: state.currentStep, waitingFor: state.waitingFor };
          } catch {
            return { ...e, waitingFor: null };
          }
        }),
      );
      return { customerId: row.id, enrollments: live };
    },
  );

  app.post(
    '/v1/customers/merge',
    {
      schema: {
        summary: 'Merge two records of one person',
        tags: ['customers'],
        body: z
          .object({ into: z.string().min(1), from: z.string().min(1), reason: z.string().max(500).optional() })
          .strict(),
      },
    },
    async (req, reply) => {
      const into = await getCustomer(db, req.body.into);
      const from = await getCustomer(db, req.body.from);
      if (!into || !from)
        return sendProblem(reply, 404, 'Not found', `no customer ${!into ? req.body.into : req.body.from}`);
      if (into.id === from.id) return sendProblem(reply, 409, 'Conflict', 'these are already one customer');
      await db
        .transaction()
        .execute((tx) => mergeCustomers(tx, into.id, from.id, req.body.reason ?? 'merged through the API'));
      const cancelled = await deps.intake.settleMerges([into.id]);
      return { customer: into.id, merged: from.id, cancelledEnrollments: cancelled };
    },
  );

  app.post(
    '/v1/customers/:ref/erase',
    {
      schema: {
        summary: 'Erase a customer’s personal data on request; their journeys are cancelled and nothing more is sent',
        tags: ['customers'],
        params: refParam,
      },
    },
    async (req, reply) => {
      const row = await resolveRef(req.params.ref);
      if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${req.params.ref}`);
      const active = (await listEnrollments(db, row.id)).filter((e) => e.status === 'active');
      for (const e of active)
        await cancelEnrollment(deps, e.id, e.workflowId, row.id, e.journeyId, 'personal data erased');
      const erased = await db.transaction().execute((tx) => eraseCustomer(tx, row.id));
      // What lies outside the database: keys this process holds, and the local outbox's copies.
      deps.protection.forget(erased.keyIds);
      const outbox = await eraseOutbox(deps.outboxDir, erased.addresses);
      return {
        customer: row.id,
        erased: true,
        cancelled: active.map((e) => e.journeyId),
        mergedRecords: erased.customers.length - 1,
        keysDestroyed: erased.keyIds.length,
        outboxMessages: outbox,
      };
    },
  );
}
