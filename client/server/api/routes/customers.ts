/** Customers: create or update, the single view with its timeline, explain, merge, erase. */
import { z } from 'zod';
import { eraseOutbox } from '../../../../activities/channels/outbox';
import { recordAudit } from '../../../../activities/store/audit';
import { recordConsent } from '../../../../activities/store/consent';
import { topicChoices } from '../../../../activities/store/topics';
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
import { CUSTOMER_SORTS } from '../../../../activities/store/customer-sorts';
import {
  CustomerListError,
  listCustomers,
  listCustomersBrief,
  SEARCH_MAX,
} from '../../../../activities/store/customer-list';
import { erasurePreview } from '../../../../activities/store/erasure';
import { listTimeline, timelinePage } from '../../../../activities/store/timeline';
import { timelineQuery } from './timeline-query';
import { cancelEnrollment } from '../../events/enrollments';
import { accountRef, customerRef, profileFields } from '../../events/schema';
import { setCustomerAccount } from '../../../../activities/store/accounts';
import type { App } from '../app';
import { actorOf } from '../auth';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';
import { journeyStateQuery } from '../../../../workflows/messages';

const refParam = z.object({ ref: z.string().min(1).describe('customer id, email or phone (E.164)') });

/** The most timeline entries one page may ask for. */

/** The most customers one page of the list holds. */
const LIST_PAGE_MAX = 1000;

const listQuery = z
  .object({
    where: z
      .string()
      .min(1)
      .max(4000, 'expected at most 4,000 characters')
      .optional()
      .describe('a CEL condition over customer (and now), as a segment reads it: customer.rfm.segment == "at_risk"'),
    stage: z.enum(['prospect', 'new_customer', 'repeat_customer', 'lapsed']).optional().describe('lifecycle stage'),
    tag: z.string().min(1).optional().describe('customers with this tag'),
    email: z.string().min(1).optional().describe('the customer with this email (any case)'),
    q: z
      .string()
      .trim()
      .min(1)
      .max(320, 'expected at most 320 characters')
      .optional()
      .describe(
        `a search: an exact email (any case), phone (E.164, typed with spaces or dashes, or 00 for +), external id (as given, or system:id), or the start of a first, last or full name (any case); at most ${SEARCH_MAX} customers match, exact matches first, then names in order, and the other fields and the sort apply to those`,
      ),
    sort: z
      .enum(CUSTOMER_SORTS)
      .default('revenue')
      .describe(
        'revenue (lifetime value), profit (from the lines with a cost; revenue for a customer with none), orders, lastOrder, clv (predicted 12-month value), pAlive (chance of being active), rfm (RFM score), created (when the customer was first seen: the cheapest on a large base, as it adds up no orders)',
      ),
    order: z.enum(['asc', 'desc']).default('desc'),
    fields: z
      .enum(['full', 'brief'])
      .default('full')
      .describe(
        'full: each customer with metrics, predictions and RFM; brief: the profile and order totals only (orders, lifetime value, first and last order), much cheaper for a long page',
      ),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(LIST_PAGE_MAX, `expected at most ${LIST_PAGE_MAX}`)
      .default(50)
      .describe(`customers per page (at most ${LIST_PAGE_MAX})`),
    cursor: z.string().min(1).optional().describe('the `next` of the page before'),
  })
  .strict();

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
    const [facts, identities, enrollments, timeline, consents, topics] = await Promise.all([
      customerFacts(db, row),
      db
        .selectFrom('identities')
        .select(['kind', 'value', 'created_at'])
        .where('customer_id', '=', row.id)
        .orderBy('created_at')
        .execute(),
      listEnrollments(db, row.id),
      listTimeline(db, row.id),
      db
        .selectFrom('consents')
        .select(['channel', 'purpose', 'granted', 'method', 'source', 'recorded_at', 'evidence'])
        .where('customer_id', '=', row.id)
        .orderBy('channel')
        .orderBy('purpose')
        .execute(),
      db
        .selectFrom('topic_consents')
        .select(['channel', 'topic', 'subscribed', 'method', 'source', 'recorded_at', 'evidence'])
        .where('customer_id', '=', row.id)
        .orderBy('channel')
        .orderBy('topic')
        .execute(),
    ]);
    return {
      customer: {
        ...toCustomerView(row),
        metrics: facts.metrics,
        predicted: facts.predicted,
        rfm: facts.rfm,
        score: facts.score,
        account: facts.account ?? null,
        learnedChannel: facts.learnedChannel ?? null,
        consent: facts.consent,
        topics: await topicChoices(db, row.id),
      },
      identities: identities.map((i) => ({ kind: i.kind, value: i.value, since: i.created_at.toISOString() })),
      /** Each consent answer and topic choice on record, with how, where and when it was given. */
      evidence: {
        consent: consents.map((c) => ({
          channel: c.channel,
          purpose: c.purpose,
          granted: c.granted,
          method: c.method,
          source: c.source,
          recordedAt: new Date(c.recorded_at).toISOString(),
          details: c.evidence,
        })),
        topics: topics.map((t) => ({
          channel: t.channel,
          topic: t.topic,
          subscribed: t.subscribed,
          method: t.method,
          source: t.source,
          recordedAt: new Date(t.recorded_at).toISOString(),
          details: t.evidence,
        })),
      },
      enrollments,
      timeline,
    };
  }

  async function saveProfile(
    customerId: string | undefined,
    ref: z.output<typeof customerRef>,
    profile: z.output<typeof profileFields>,
    account: z.output<typeof accountRef> | null | undefined = profile.account,
  ) {
    const result = await db.transaction().execute(async (tx) => {
      const result = await upsertCustomer(tx, customerId ? { id: customerId } : ref, profile);
      if (account !== undefined) result.customer = await setCustomerAccount(tx, result.customer, account);
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
    // The profile may have moved the customer into or out of a segment a journey enters on.
    await deps.intake.segments.check(result.customer.id);
    return result;
  }

  app.post(
    '/v1/customers',
    {
      schema: {
        summary: 'Create a customer, or update the one these identities name',
        tags: ['customers'],
        body: z
          .object({
            customer: customerRef,
            profile: profileFields.default({}),
            /** The account the customer is a contact of (the same as `profile.account`). */
            account: accountRef.nullable().optional(),
          })
          .strict(),
      },
    },
    async (req, reply) => {
      try {
        const { customer, created } = await saveProfile(
          undefined,
          req.body.customer,
          req.body.profile,
          req.body.account !== undefined ? req.body.account : req.body.profile.account,
        );
        return reply.code(created ? 201 : 200).send(await detail(customer.id));
      } catch (err) {
        if (err instanceof Error && err.name === 'CustomerNotFoundError')
          return sendProblem(reply, 404, 'Not found', err.message, [{ path: 'customer.id', message: err.message }]);
        throw err;
      }
    },
  );

  app.get(
    '/v1/customers',
    {
      schema: {
        summary: 'Find and rank customers: filter by fields or a CEL condition, sort by a figure, page by cursor',
        tags: ['customers'],
        querystring: listQuery,
      },
    },
    async (req, reply) => {
      try {
        const { fields, ...query } = req.query;
        return fields === 'brief' ? await listCustomersBrief(db, query) : await listCustomers(db, query);
      } catch (err) {
        if (err instanceof CustomerListError)
          return sendProblem(reply, 400, 'Bad request', `${err.parameter}: ${err.message}`, [
            { path: err.parameter, message: err.message },
          ]);
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

  app.get(
    '/v1/customers/:ref/timeline',
    {
      schema: {
        summary: 'A customer’s timeline a page at a time, newest first',
        tags: ['customers'],
        params: refParam,
        querystring: timelineQuery.strict(),
      },
    },
    async (req, reply) => {
      const row = await resolveRef(req.params.ref);
      if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${req.params.ref}`);
      return { customerId: row.id, ...(await timelinePage(db, { customerId: row.id }, req.query)) };
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
      await db.transaction().execute(async (tx) => {
        await mergeCustomers(tx, into.id, from.id, req.body.reason ?? 'merged through the API');
        await recordAudit(tx, {
          actor: actorOf(req),
          action: 'customer.merge',
          target: `customer:${into.id}`,
          detail: { merged: from.id },
        });
      });
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
        querystring: z
          .object({
            dryRun: z
              .enum(['true', 'false'])
              .default('false')
              .transform((v) => v === 'true')
              .describe('true: change nothing, answer what an erasure would remove (`wouldRemove`)'),
          })
          .strict(),
      },
    },
    async (req, reply) => {
      const row = await resolveRef(req.params.ref);
      if (!row) return sendProblem(reply, 404, 'Not found', `no customer ${req.params.ref}`);
      const active = (await listEnrollments(db, row.id)).filter((e) => e.status === 'active');
      // What goes, counted before anything changes: the dry run's answer, and the erasure's record of it.
      const removed = await erasurePreview(db, row.id, deps.outboxDir);
      if (req.query.dryRun) {
        return {
          customer: row.id,
          erased: false,
          dryRun: true,
          wouldCancel: active.map((e) => ({ journey: e.journeyId, currentStep: e.currentStep })),
          wouldRemove: removed,
        };
      }
      for (const e of active)
        await cancelEnrollment(deps, e.id, e.workflowId, row.id, e.journeyId, 'personal data erased');
      const erased = await db.transaction().execute(async (tx) => {
        const erased = await eraseCustomer(tx, row.id);
        // The customer by id only (the request may have named them by address), and what was done.
        await recordAudit(tx, {
          actor: actorOf(req),
          action: 'customer.erase',
          target: `customer:${row.id}`,
          detail: {
            mergedIds: erased.customers.filter((id) => id !== row.id),
            keysDestroyed: erased.keyIds.length,
            cancelled: active.map((e) => e.journeyId),
          },
        });
        return erased;
      });
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
        removed: {
          ...removed,
          identities: removed.identities.length,
          dataKeys: erased.keyIds.length,
          outboxMessages: outbox,
        },
      };
    },
  );
}
