/**
 * The test harness for journeys: Rapport on Temporal's time-skipping server, in this process, with
 * an in-memory database and email and SMS captured in an outbox folder. Enroll a customer, send
 * events, advance time, read what was sent, the timeline and the journey's state, and close.
 *
 *   const h = await createHarness({ journeys: { 'welcome.yaml': source } });
 *   const { workflowId, customerId } = await h.enroll('signup.completed', { email: 'ada@example.com' }, { firstName: 'Ada' });
 *   await h.advance('3d');
 *   expect((await h.outbox()).map((m) => m.subject)).toEqual(['Welcome, Ada!']);
 *   const result = await h.finish(workflowId);
 *   await h.close();
 *
 * Time moves only when the harness moves it (advance, finish), so what happened "by day 3" is exact.
 */
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { listOutbox, type OutboxEntry } from '../../../activities/channels/outbox';
import { listTimeline, type TimelineItem } from '../../../activities/store/timeline';
import { durationMs } from '../../../definitions/duration';
import type { JourneyResult, JourneyState } from '../../../workflows/types';
import type { IncomingEvent } from '../../server/events/schema';
import { timeSkippingEnv } from './environment';
import { eventually } from './eventually';
import { startTestStack, type TestStack, type TestStackOptions } from './stack';
import { journeyStateQuery, type JourneyWorkflow } from '../../../workflows/messages';

export interface Harness {
  env: TestWorkflowEnvironment;
  stack: TestStack;
  /** Publishes journeys given as YAML text (file name → source). */
  publish(sources: Record<string, string>): Promise<void>;
  /** Sends an event at the current simulated time; returns the intake's answer. */
  send(event: IncomingEvent): ReturnType<TestStack['sendEvent']>;
  /** Sends an event that enrolls the customer; returns the enrollment of the first journey it started. */
  enroll(
    type: string,
    customer: IncomingEvent['customer'],
    profile?: IncomingEvent['profile'],
    data?: Record<string, unknown>,
  ): Promise<{ customerId: string; workflowId: string; journey: string }>;
  /** Moves simulated time forward: a duration such as '3d' or '90m', or milliseconds. */
  advance(by: string | number): Promise<void>;
  /** The simulated time now. */
  now(): Promise<Date>;
  /** Runs the journey to its end, skipping time, and returns its result. */
  finish(workflowId: string): Promise<JourneyResult>;
  /** Where the journey is: its step, what it waits for, its history so far. */
  state(workflowId: string): Promise<JourneyState>;
  /** Email and SMS sent, oldest first. */
  outbox(): Promise<OutboxEntry[]>;
  /** The customer's timeline, oldest first. */
  timeline(customerId: string): Promise<TimelineItem[]>;
  close(): Promise<void>;
}

let counter = 0;

export async function createHarness(
  options: {
    journeys?: Record<string, string>;
    /** A time-skipping environment to share (kept open on close); default: a new one. */
    env?: TestWorkflowEnvironment;
  } & Pick<
    TestStackOptions,
    'journeysDirs' | 'logger' | 'templatesDir' | 'wrapActivities' | 'settings' | 'scoring'
  > = {},
): Promise<Harness> {
  const ownEnv = !options.env;
  const env = options.env ?? (await timeSkippingEnv());
  let stack: TestStack;
  try {
    stack = await startTestStack(env, {
      journeysDirs: options.journeysDirs ?? [],
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.templatesDir ? { templatesDir: options.templatesDir } : {}),
      ...(options.wrapActivities ? { wrapActivities: options.wrapActivities } : {}),
      ...(options.settings ? { settings: options.settings } : {}),
      ...(options.scoring ? { scoring: options.scoring } : {}),
    });
  } catch (err) {
    if (ownEnv) await env.teardown();
    throw err;
  }
  // Reads through a plain client: only advance() and finish() move the clock.
  const plain = stack.plainTemporal;
  if (options.journeys) await stack.publish(options.journeys);

  /** The journeys this harness started. */
  const journeys = new Set<string>();
  /**
   * Waits until every journey has done what the time so far calls for: ended, or waiting (for a time
   * or an event) with no activity under way. Fails, naming the journey and where it was, if one never
   * gets there.
   */
  async function settle(): Promise<void> {
    for (const id of journeys) {
      const handle = plain.workflow.getHandle(id);
      await eventually(
        `journey ${id} to end or to wait with no activity under way`,
        async () => {
          const d = await handle.describe();
          if (d.status.name !== 'RUNNING') return { status: d.status.name };
          const pendingActivities = d.raw.pendingActivities?.length ?? 0;
          const { currentStep, waitingFor } = await handle.query(journeyStateQuery);
          return { status: d.status.name, currentStep, waitingFor, pendingActivities };
        },
        { until: (s) => s.status !== 'RUNNING' || (s.pendingActivities === 0 && s.waitingFor != null), everyMs: 20 },
      );
    }
  }

  const harness: Harness = {
    env,
    stack,
    async publish(sources) {
      await stack.publish(sources);
    },
    async send(event) {
      const now = new Date(await env.currentTimeMs()).toISOString();
      const r = await stack.sendEvent({ id: `harness-${++counter}-${Date.now()}`, occurredAt: now, ...event });
      for (const e of r.enrolled) journeys.add(e.workflowId);
      await settle();
      return r;
    },
    async enroll(type, customer, profile, data) {
      const r = await harness.send({ type, customer, ...(profile ? { profile } : {}), ...(data ? { data } : {}) });
      const first = r.enrolled[0];
      if (!first) {
        throw new Error(
          `no journey enrolled the customer on ${type}: ${r.notEnrolled.map((n) => `${n.journey}: ${n.reason}`).join('; ') || 'no journey has this trigger'}`,
        );
      }
      return { customerId: r.customerId, workflowId: first.workflowId, journey: first.journey };
    },
    async advance(by) {
      await env.sleep(typeof by === 'number' ? by : durationMs(by));
      await settle();
    },
    async now() {
      return new Date(await env.currentTimeMs());
    },
    async finish(workflowId) {
      return stack.temporal.workflow.getHandle<JourneyWorkflow>(workflowId).result();
    },
    async state(workflowId) {
      return plain.workflow.getHandle(workflowId).query(journeyStateQuery);
    },
    async outbox() {
      return (await listOutbox(stack.outboxDir, 10_000)).reverse();
    },
    async timeline(customerId) {
      return listTimeline(stack.db, customerId);
    },
    async close() {
      await stack.close();
      if (ownEnv) await env.teardown();
    },
  };
  return harness;
}
