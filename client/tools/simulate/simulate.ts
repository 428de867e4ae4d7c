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
import { scheduledEventType } from '../../../activities/segments';
import type { TimelineItem } from '../../../activities/store/timeline';
import { durationMs } from '../../../definitions/duration';
import type { StepOutcome, StepRecord } from '../../../workflows/types';
import { customerRef, eventType, profileFields } from '../../server/events/schema';
import { compileFile } from '../../server/journeys/load';
import { createHarness, type Harness } from '../testing/harness';
import { importOrders } from '../../../activities/store/imports';
import { builtinTemplatesDir } from '../../../paths';

/** An offset from the enrollment: `+2d`, `+36h`, `+0m`. */
export const offset = z
  .string()
  .regex(/^\+?\d+[wdhms](\d+[wdhms])*$/, 'expected an offset from the enrollment such as +2d or +36h')
  .transform((v) => {
    const d = v.replace(/^\+/, '');
    return /^0+[wdhms]$/.test(d) ? 0 : durationMs(d);
  });

/** The customer of a simulation: who they are and their profile, as an event would carry them. */
const simulatedCustomer = z
  .object({
    id: z.string().optional(),
    email: z.string().optional(),
    phone: z.string().optional(),
    externalId: z.object({ system: z.string(), id: z.string() }).optional(),
  })
  .catchall(z.unknown())
  .transform((c, ctx) => {
    const { id: _id, email, phone, externalId, ...profile } = c;
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
    return { ref: ref.data, profile: parsedProfile.data };
  });

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

export interface SimulatedMessage {
  at: string;
  local: string;
  offset: string;
  channel: 'email' | 'sms';
  step: string;
  template: string | null;
  subject: string | null;
  text: string;
}

export interface SimulationResult {
  journey: string;
  version: number;
  customer: { id: string; timezone: string };
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
    throw new SimulationError(`customer: ${customer.error.issues.map((i) => i.message).join('; ')}`);
  const events = z.array(simulatedEvent).safeParse(input.events ?? []);
  if (!events.success) {
    throw new SimulationError(
      events.error.issues.map((i) => `events[${i.path.map(String).join('.')}]: ${i.message}`).join('\n'),
    );
  }

  const harness = await createHarness({
    journeys: { [path.basename(input.journeyFile)]: compiled.source },
    templatesDir,
    ...(input.env ? { env: input.env } : {}),
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
    const triggerType = def.trigger.event ?? scheduledEventType(def.journey);
    // Offsets count from the moment the enrolling event is sent.
    const enrolledAt = (await harness.now()).getTime();
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
      customer: { id: enrollment.customerId, timezone: zone },
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
  return [
    `${r.journey} (version ${r.version}), customer ${r.customer.id}, enrolled ${r.enrolledAt.slice(0, 16).replace('T', ' ')} UTC`,
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
