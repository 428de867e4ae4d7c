/**
 * Simulation: the real journey workflow on Temporal's time-skipping server, with the real contact
 * policy, templates and branches, email and SMS captured instead of sent, an in-memory database, and
 * no running instance. A customer enrolls, events arrive at offsets from the enrollment, and the
 * journey runs to its end: 90 days of simulated time take about a second.
 */
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { DateTime } from 'luxon';
import { z } from 'zod';
import { triggerEventType } from '../../../definitions/triggers';
import type { TimelineItem } from '../../../activities/store/timeline';
import { durationMs } from '../../../definitions/duration';
import type { StepOutcome, StepRecord } from '../../../workflows/types';
import { customerRef, eventType, profileFields } from '../../server/events/schema';
import { compileFile, readScoringFile } from '../../server/journeys/load';
import { createHarness, type Harness } from '../testing/harness';
import { importOrders } from '../../../activities/store/imports';
import { upsertCustomer } from '../../../activities/store/customers';
import { customerMetrics } from '../../../activities/store/facts';
import { orderData, recordOrder } from '../../../activities/store/orders';
import type { CustomerMetrics } from '../../../definitions/facts';
import type { CustomerDetail } from '../../sdk';
import type { SimulationView } from '../../server/journeys/simulation';
import { builtinScoringFile, builtinTemplatesDir } from '../../../paths';
import type { Scoring } from '../../../definitions/scoring';

/** An offset from the enrollment: `+2d`, `+36h`, `+0m`. */
export const offset = z
  .string()
  .regex(/^\+?\d+[wdhms](\d+[wdhms])*$/, 'expected an offset from the enrollment such as +2d or +36h')
  .transform((v) => {
    const d = v.replace(/^\+/, '');
    return /^0+[wdhms]$/.test(d) ? 0 : durationMs(d);
  });

/** Before the enrollment: an ISO 8601 time, or an offset back from it such as -30d. */
const pastTime = z.string().transform((v, ctx) => {
  if (/^-\d+[wdhms](\d+[wdhms])*$/.test(v)) return { before: durationMs(v.slice(1)) };
  const at = Date.parse(v);
  if (/^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(at)) return { at };
  ctx.addIssue({
    code: 'custom',
    message: 'expected an ISO 8601 time, or an offset back from the enrollment such as -30d',
  });
  return z.NEVER;
});

/**
 * A past order of the simulated customer, as an `order.placed` event carries it (the order id may be
 * left out), with when it was placed. Recorded as the intake records orders, so the customer's
 * metrics come from them exactly as a live customer's do.
 */
const pastOrder = orderData.extend({ orderId: orderData.shape.orderId.optional(), placedAt: pastTime }).strict();

const lifecycleStages = ['prospect', 'new_customer', 'repeat_customer', 'lapsed'] as const;

/**
 * The customer of a simulation: who they are and their profile, as an event would carry them; and
 * their history: past orders, tags and lifecycle stage. Their metrics are never given: they follow
 * from the orders, as for a live customer, so a given `metrics` is refused rather than trusted.
 */
const simulatedCustomer = z
  .object({
    id: z.string().optional(),
    email: z.string().optional(),
    phone: z.string().optional(),
    externalId: z.object({ system: z.string(), id: z.string() }).optional(),
    orders: z.array(pastOrder).optional(),
    tags: z.array(z.string().min(1).max(100)).optional(),
    lifecycleStage: z.enum(lifecycleStages).optional(),
  })
  .catchall(z.unknown())
  .transform((c, ctx) => {
    const { id: _id, email, phone, externalId, orders, tags, lifecycleStage, ...profile } = c;
    if ('metrics' in profile) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics'],
        message:
          'metrics are worked out from the customer’s orders, as for a live customer: give orders instead, such as orders: [{ total: 40, placedAt: "-30d" }]',
      });
      return z.NEVER;
    }
    const ref = customerRef.safeParse({
      ...(email ? { email } : {}),
      ...(phone ? { phone } : {}),
      ...(externalId ? { externalId } : {}),
    });
    if (!ref.success) {
      ctx.addIssue({ code: 'custom', message: 'expected an email, a phone or an externalId for the customer' });
      return z.NEVER;
    }
    const parsedProfile = profileFields.safeParse(profile);
    if (!parsedProfile.success) {
      for (const i of parsedProfile.error.issues) ctx.addIssue({ ...i, code: 'custom', message: i.message });
      return z.NEVER;
    }
    return {
      ref: ref.data,
      profile: parsedProfile.data,
      history: { orders: orders ?? [], tags, lifecycleStage },
    };
  });

type History = z.output<typeof simulatedCustomer>['history'];

/**
 * Puts the customer's history in the simulation's database before they enroll: their record, their
 * past orders (recorded as the intake records an order, which also moves the lifecycle stage), then
 * the tags and stage given, which win over the stage the orders made. Returns their metrics then.
 */
async function seedHistory(
  harness: Harness,
  ref: z.output<typeof customerRef>,
  history: History,
  enrolledAt: number,
): Promise<CustomerMetrics | undefined> {
  if (history.orders.length === 0 && !history.tags && !history.lifecycleStage) return undefined;
  const db = harness.stack.db;
  const { customer } = await upsertCustomer(db, ref);
  for (const [i, o] of history.orders.entries()) {
    const { placedAt, orderId, ...order } = o;
    const at = 'at' in placedAt ? placedAt.at : enrolledAt - placedAt.before;
    if (at > enrolledAt) {
      throw new SimulationError(
        `customer.orders[${i}].placedAt: expected a time before the enrollment (${new Date(enrolledAt).toISOString()})`,
      );
    }
    const id = orderId ?? `past-${i + 1}`;
    await recordOrder(db, customer.id, `simulation:${id}`, { ...order, orderId: id }, new Date(at).toISOString());
  }
  if (history.tags || history.lifecycleStage) {
    await db
      .updateTable('customers')
      .set({
        ...(history.tags ? { tags: JSON.stringify(history.tags) } : {}),
        ...(history.lifecycleStage ? { lifecycle_stage: history.lifecycleStage } : {}),
      })
      .where('id', '=', customer.id)
      .execute();
  }
  return customerMetrics(db, customer.id);
}

const simulatedEvent = z.union([
  z.object({ at: offset, type: eventType, data: z.record(z.string(), z.unknown()).default({}) }).strict(),
  /** A person completes the task a step created, with an outcome (as through the API). */
  z
    .object({ at: offset, complete: z.string().min(1), outcome: z.string().min(1), note: z.string().optional() })
    .strict(),
]);

/** Other customers and their orders, there before the run (what a recommendation learns from). */
const population = z.array(
  z
    .object({
      email: z.string(),
      orders: z.array(
        z
          .object({
            orderId: z.string(),
            total: z.number(),
            product: z.string().optional(),
            category: z.string().optional(),
            at: z.string().optional(),
          })
          .strict(),
      ),
    })
    .strict(),
);

export interface SimulationInput {
  journeyFile: string;
  templatesDir?: string;
  customer: z.input<typeof simulatedCustomer>;
  /** Data of the event that enrolls the customer. */
  triggerData?: Record<string, unknown>;
  events?: z.input<typeof simulatedEvent>[];
  population?: z.input<typeof population>;
  /** When the customer enrolls (ISO 8601); default now. The simulated clock starts now. */
  start?: string;
  /** Called once Temporal and the worker are up, before the customer enrolls. */
  onReady?: () => void;
  /** A time-skipping environment to run in (scenario files share one); default: a new one. */
  env?: TestWorkflowEnvironment;
  /**
   * The lead scoring rules the simulation scores events by; default: those `rapport start` reads
   * (RAPPORT_SCORING_FILE, else definitions/scoring.yaml); null: none.
   */
  scoring?: Scoring | null;
}

/** The scoring rules `rapport start` would read, for simulations that are not given theirs. */
function configuredScoring(): Scoring | undefined {
  const file = process.env.RAPPORT_SCORING_FILE || builtinScoringFile;
  try {
    return readScoringFile(file);
  } catch (err) {
    throw new SimulationError((err as Error).message);
  }
}

export interface SimulatedStep {
  at: string;
  local: string;
  /** Time since the enrollment, such as +2d 3h. */
  offset: string;
  step: string;
  type: string;
  outcome: string;
  /** In words, for people (it may be reworded). */
  detail: string;
  /** What the step did: what scenarios and coverage read. */
  result: StepOutcome;
}

export type SimulatedMessage = SimulationView['messages'][number];

export interface SimulationResult {
  journey: string;
  version: number;
  /** With a history given: the metrics its orders made, as the enrolling event found them. */
  customer: { id: string; timezone: string; metrics?: CustomerMetrics };
  enrolledAt: string;
  outcome: string;
  reason: string | null;
  goalMet: boolean;
  steps: SimulatedStep[];
  /** What the captured channels received, in order. */
  messages: SimulatedMessage[];
  /** The customer's timeline as the run left it. */
  timeline: TimelineItem[];
  /** What the captured email and SMS channels received, as written (oldest first). */
  captured: { channel: 'email' | 'sms'; to: string; subject: string | null; text: string }[];
  /** Events sent during the run, with the journeys each one enrolled or moved along. */
  events: { at: string; offset: string; type: string; enrolled: string[]; signalled: string[] }[];
}

export class SimulationError extends Error {}

/**
 * A live customer as a simulation's customer, from what GET /v1/customers/<ref> answers: who they are,
 * their profile, consent, account, tags and stage, and orders that remake their metrics (order count, lifetime
 * value, first and last order, categories). The answer holds the metrics, not the orders, so the orders
 * are made up to match them: the first and the last at their times, the others evenly between, the
 * value shared evenly, one line per category. What other customers bought (recommendations), the
 * value models (predicted) and the lead score are not copied: the simulation's database has none.
 */
export function customerFromLive(detail: CustomerDetail): Record<string, unknown> {
  const c = detail.customer;
  const external = detail.identities.find((i) => i.kind.startsWith('ext:'));
  const externalId = external ? { system: external.kind.slice(4), id: external.value } : undefined;
  if (!c.email && !c.phone && !externalId) {
    throw new SimulationError(`--from: customer ${c.id} has no email, phone or external id to simulate with`);
  }
  const purposes = ['marketing', 'service', 'transactional'] as const;
  const consent = Object.fromEntries(
    (['email', 'sms'] as const)
      .filter((ch) => c.consent[ch])
      .map((ch) => [
        ch,
        Object.fromEntries(purposes.filter((p) => p in c.consent[ch]!).map((p) => [p, c.consent[ch]![p]])),
      ]),
  );
  return {
    ...(c.email ? { email: c.email } : {}),
    ...(c.phone ? { phone: c.phone } : {}),
    ...(!c.email && !c.phone ? { externalId } : {}),
    ...(c.firstName ? { firstName: c.firstName } : {}),
    ...(c.lastName ? { lastName: c.lastName } : {}),
    timezone: c.timezone,
    locale: c.locale,
    ...(c.preferredChannel ? { preferredChannel: c.preferredChannel } : {}),
    attributes: c.attributes,
    consent,
    ...(c.account ? { account: { id: c.account.id, ...(c.account.name ? { name: c.account.name } : {}) } } : {}),
    tags: c.tags,
    lifecycleStage: c.lifecycleStage,
    orders: ordersFromMetrics(c.metrics),
  };
}

/** Orders whose metrics are these: see customerFromLive. */
function ordersFromMetrics(m: CustomerMetrics) {
  const n = m.orderCount;
  if (n === 0 || !m.firstOrderAt || !m.lastOrderAt) return [];
  const first = Date.parse(m.firstOrderAt);
  const last = Date.parse(m.lastOrderAt);
  const cents = Math.round(m.lifetimeValue * 100);
  const each = Math.floor(cents / n);
  return Array.from({ length: n }, (_, i) => {
    const lines = m.categories
      .filter((_, k) => k % n === i)
      .map((category) => ({ product: `${category} (copied)`, category }));
    return {
      orderId: `copied-${i + 1}`,
      // The last order takes what an even share leaves, so the sum is the lifetime value to the cent.
      total: (i === n - 1 ? cents - each * (n - 1) : each) / 100,
      placedAt: new Date(n === 1 ? last : first + Math.round(((last - first) * i) / (n - 1))).toISOString(),
      ...(lines.length ? { lines } : {}),
    };
  });
}

async function completeTask(
  harness: Harness,
  customerId: string,
  e: { complete: string; outcome: string; note?: string | undefined },
  when: string,
): Promise<void> {
  const task = await harness.stack.db
    .selectFrom('tasks')
    .select('id')
    .where('customer_id', '=', customerId)
    .where('step_id', '=', e.complete)
    .where('status', '=', 'open')
    .executeTakeFirst();
  if (!task) throw new SimulationError(`at ${when}: no open task of step ${e.complete} to complete`);
  const res = await harness.stack.api.inject({
    method: 'POST',
    url: `/v1/tasks/${task.id}/complete`,
    payload: { outcome: e.outcome, ...(e.note ? { note: e.note } : {}) },
  });
  if (res.statusCode !== 200) throw new SimulationError(`at ${when}: completing task ${e.complete}: ${res.body}`);
}

/** Time since the enrollment, as `+2d`, `+2d 3h` or `+0d 5m`. */
export function formatOffset(ms: number): string {
  ms = Math.max(0, ms);
  const d = Math.floor(ms / 86_400_000);
  const h = Math.floor((ms % 86_400_000) / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  return `+${d}d${h ? ` ${h}h` : ''}${m ? ` ${m}m` : ''}`;
}

export async function simulate(input: SimulationInput): Promise<SimulationResult> {
  const templatesDir = input.templatesDir ?? builtinTemplatesDir;
  const compiled = compileFile(input.journeyFile, templatesDir, { allowHttpWebhooks: true });
  if (!compiled.ok) {
    throw new SimulationError(
      compiled.problems
        .map((p) => `${p.file}:${p.line}:${p.column}: ${p.path ? `${p.path}: ` : ''}${p.message}`)
        .join('\n'),
    );
  }
  const def = compiled.journey.definition;
  const customer = simulatedCustomer.safeParse(input.customer);
  if (!customer.success)
    throw new SimulationError(
      customer.error.issues.map((i) => `${['customer', ...i.path.map(String)].join('.')}: ${i.message}`).join('\n'),
    );
  const events = z.array(simulatedEvent).safeParse(input.events ?? []);
  if (!events.success) {
    throw new SimulationError(
      events.error.issues.map((i) => `events[${i.path.map(String).join('.')}]: ${i.message}`).join('\n'),
    );
  }

  const scoring = input.scoring === undefined ? configuredScoring() : (input.scoring ?? undefined);
  const harness = await createHarness({
    journeys: { [path.basename(input.journeyFile)]: compiled.source },
    templatesDir,
    ...(input.env ? { env: input.env } : {}),
    ...(scoring ? { scoring } : {}),
  });
  try {
    const others = population.safeParse(input.population ?? []);
    if (!others.success)
      throw new SimulationError(`population: ${others.error.issues.map((i) => i.message).join('; ')}`);
    const rows = others.data.flatMap((c) =>
      c.orders.map((o) => ({
        line: 1,
        fields: {
          email: c.email,
          orderId: o.orderId,
          total: o.total,
          occurredAt: o.at ?? new Date().toISOString(),
          ...(o.product ? { product: o.product } : {}),
          ...(o.category ? { category: o.category } : {}),
        },
      })),
    );
    if (rows.length) {
      const report = await importOrders(harness.stack.db, rows);
      if (report.errors.length)
        throw new SimulationError(`population: ${report.errors[0]!.path}: ${report.errors[0]!.message}`);
    }
    input.onReady?.();
    const now = await harness.now();
    if (input.start) {
      const start = Date.parse(input.start);
      if (Number.isNaN(start)) throw new SimulationError(`--start: expected an ISO 8601 time, got ${input.start}`);
      if (start < now.getTime() - 60_000) {
        throw new SimulationError(`--start: the simulated clock starts now (${now.toISOString()}); give a later time`);
      }
      if (start > now.getTime()) await harness.advance(start - now.getTime());
    }
    const triggerType = triggerEventType(def);
    // Offsets count from the moment the enrolling event is sent.
    const enrolledAt = (await harness.now()).getTime();
    const history = await seedHistory(harness, customer.data.ref, customer.data.history, enrolledAt);
    const enrollment = await harness
      .enroll(triggerType, customer.data.ref, customer.data.profile, input.triggerData ?? {})
      .catch((err: unknown) => {
        throw new SimulationError(`the enrolling ${triggerType} event: ${(err as Error).message}`);
      });
    const sent: SimulationResult['events'] = [];
    for (const e of [...events.data].sort((a, b) => a.at - b.at)) {
      const current = (await harness.now()).getTime();
      if (enrolledAt + e.at > current) await harness.advance(enrolledAt + e.at - current);
      const at = await harness.now();
      if ('complete' in e) {
        await completeTask(harness, enrollment.customerId, e, formatOffset(e.at));
        sent.push({
          at: at.toISOString(),
          offset: formatOffset(at.getTime() - enrolledAt),
          type: `task ${e.complete} completed: ${e.outcome}`,
          enrolled: [],
          signalled: [],
        });
        continue;
      }
      const r = await harness
        .send({ type: e.type, customer: { id: enrollment.customerId }, data: e.data })
        .catch((err: unknown) => {
          throw new SimulationError(`the ${e.type} event at ${formatOffset(e.at)}: ${(err as Error).message}`);
        });
      sent.push({
        at: at.toISOString(),
        offset: formatOffset(at.getTime() - enrolledAt),
        type: e.type,
        enrolled: r.enrolled.map((x) => x.journey),
        signalled: r.signalled.map((x) => x.journey),
      });
    }
    const result = await harness.finish(enrollment.workflowId);
    const timeline = await harness.timeline(enrollment.customerId);
    const row = await harness.stack.db
      .selectFrom('customers')
      .select('timezone')
      .where('id', '=', enrollment.customerId)
      .executeTakeFirstOrThrow();
    const zone = row.timezone;
    const local = (iso: string) => DateTime.fromISO(iso, { zone }).toFormat('yyyy-MM-dd HH:mm');
    const since = (iso: string) => formatOffset(Date.parse(iso) - enrolledAt);
    const version = await harness.stack.db
      .selectFrom('enrollments')
      .select('version')
      .where('workflow_id', '=', enrollment.workflowId)
      .executeTakeFirstOrThrow();
    const outbox = await harness.outbox();
    const messageEntries = timeline.filter(
      (t) => t.kind === 'message' && (t.data as { status?: string }).status === 'sent',
    );
    const messages: SimulatedMessage[] = messageEntries.map((t, i) => {
      const data = t.data as { channel?: 'email' | 'sms'; step?: string; template?: string; subject?: string };
      const captured = outbox.filter((o) => o.channel === data.channel)[
        messageEntries.slice(0, i).filter((x) => (x.data as { channel?: string }).channel === data.channel).length
      ];
      return {
        at: t.at,
        local: local(t.at),
        offset: since(t.at),
        channel: data.channel ?? 'email',
        step: data.step ?? '',
        template: data.template ?? null,
        subject: data.subject ?? captured?.subject ?? null,
        text: captured?.text ?? '',
      };
    });
    return {
      journey: def.journey,
      version: version.version,
      customer: { id: enrollment.customerId, timezone: zone, ...(history ? { metrics: history } : {}) },
      enrolledAt: new Date(enrolledAt).toISOString(),
      outcome: result.outcome,
      reason: result.reason ?? null,
      goalMet: result.goalMet,
      steps: result.history.map((h: StepRecord) => ({
        at: h.at,
        local: local(h.at),
        offset: since(h.at),
        step: h.stepId,
        type: h.type,
        outcome: h.outcome,
        detail: h.detail ?? '',
        // Every journey a simulation starts records outcomes.
        result: h.result!,
      })),
      messages,
      timeline,
      captured: outbox.map((o) => ({ channel: o.channel, to: o.to, subject: o.subject ?? null, text: o.text })),
      events: sent,
    };
  } finally {
    await harness.close();
  }
}

/** The run as a person reads it: one line per step, in simulated time, UTC and local. */
export function formatSimulation(r: SimulationResult): string {
  const rows = r.steps.map((s) => [s.offset, s.at.slice(0, 16).replace('T', ' '), s.local, s.step, describe(s)]);
  for (const e of r.events) {
    const local = DateTime.fromISO(e.at, { zone: r.customer.timezone }).toFormat('yyyy-MM-dd HH:mm');
    const moved = [...e.enrolled.map((j) => `enrolled in ${j}`), ...e.signalled.map((j) => `received by ${j}`)];
    rows.push([
      e.offset,
      e.at.slice(0, 16).replace('T', ' '),
      local,
      `(event)`,
      `${e.type} arrived${moved.length ? `: ${moved.join(', ')}` : ''}`,
    ]);
  }
  rows.sort((a, b) => (a[1]! < b[1]! ? -1 : a[1]! > b[1]! ? 1 : 0));
  const head = ['', 'UTC', `local (${r.customer.timezone})`, 'step', 'what happened'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const m = r.customer.metrics;
  return [
    `${r.journey} (version ${r.version}), customer ${r.customer.id}, enrolled ${r.enrolledAt.slice(0, 16).replace('T', ' ')} UTC`,
    ...(m
      ? [
          `history: ${m.orderCount} order(s), lifetime value ${m.lifetimeValue}${m.lastOrderAt ? `, last ${m.lastOrderAt.slice(0, 10)}` : ''}${m.categories.length ? `, categories ${m.categories.join(', ')}` : ''}`,
        ]
      : []),
    '',
    line(head),
    ...rows.map(line),
    '',
    `outcome: ${r.outcome}${r.reason ? ` (${r.reason})` : ''}${r.goalMet ? ', goal met' : ''}; ${r.messages.length} message(s) sent`,
  ].join('\n');
}

function describe(s: SimulatedStep): string {
  switch (s.outcome) {
    case 'sent':
      return `sent ${s.detail}`;
    case 'skipped':
      return `skipped: ${s.detail}`;
    case 'deferred':
      return `deferred: ${s.detail}`;
    case 'waited':
      return `waited ${s.detail}`;
    case 'digested':
      return `gathered ${s.detail}`;
    case 'branch':
      return `branch: ${s.detail}`;
    case 'path':
      return `split: path ${s.detail}`;
    case 'task':
      return `task ${s.detail}`;
    case 'event':
      return `received ${s.detail}`;
    case 'timeout':
      return `timed out: ${s.detail}`;
    case 'exited':
      return `exit${s.detail ? `: ${s.detail}` : ''}`;
    default:
      return `${s.outcome}${s.detail ? `: ${s.detail}` : ''}`;
  }
}
