/**
 * The fast tier of workflow tests: one journey, given as YAML, run by the real interpreter on the
 * time-skipping server, with typed fakes for every activity (`Activities`): no database, no
 * channels, no API. What a fake receives is kept, and its answers can be set per test, so each step
 * kind is tested on its own, next to its executor: workflows/steps/<kind>.test.ts.
 */
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { WorkflowHandle } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import type { Activities, FinishRequest, SendOutcome, SendRequest } from '../../activities';
import type { TaskRequest, UpdateRequest } from '../../activities/journey-records';
import type { WebhookRequest } from '../../activities/webhook';
import { liquidChecker } from '../../activities/render';
import { toPlan } from '../../client/server/journeys/load';
import { timeSkippingEnv, workflowBundle } from '../../client/tools/testing/environment';
import { compileJourney } from '../../definitions/compile';
import type { CustomerFacts } from '../../definitions/facts';
import { JOURNEY_WORKFLOW, type JourneyWorkflow } from '../../workflows/messages';
import type { JourneyResult, StepOutcome } from '../../workflows/types';
import { historyName, recordHistories, recordingHistories } from './histories';

/** What the fake activities were asked, in order. */
interface Calls {
  sends: SendRequest[];
  updates: UpdateRequest[];
  tasks: TaskRequest[];
  timedOutTasks: string[];
  webhooks: WebhookRequest[];
  splits: { stepId: string; path: string; holdout: boolean }[];
  goals: string[];
  marks: { stepId: string | null; waitingFor: string }[];
  finished: FinishRequest[];
}

export function customer(overrides: Partial<CustomerFacts> = {}): CustomerFacts {
  return {
    id: 'cus_test',
    email: 'ada@example.com',
    phone: '+15005550006',
    firstName: 'Ada',
    lastName: 'Lovelace',
    timezone: 'UTC',
    locale: 'en',
    lifecycleStage: 'new_customer',
    tags: [],
    attributes: {},
    consent: { email: { marketing: true }, sms: { marketing: true } },
    preferredChannel: null,
    metrics: {
      orderCount: 1,
      lifetimeValue: 30,
      firstOrderAt: null,
      lastOrderAt: null,
      categories: [],
      recommendedCategory: null,
    },
    ...overrides,
  };
}

export interface RunOptions {
  /** The customer the fakes load; default customer(). */
  customer?: CustomerFacts;
  /** The enrolling event's data. */
  data?: Record<string, unknown>;
  /** Answers of the fake activities, instead of the defaults (a send is sent, a webhook answers 200). */
  activities?: Partial<Activities>;
  /** Continue as new after this many steps (the interpreter's own bound is Temporal's suggestion). */
  maxStepsPerRun?: number;
  /** Runs while the journey runs: signal it, let time pass. */
  during?: (handle: WorkflowHandle<JourneyWorkflow>, env: TestWorkflowEnvironment) => Promise<void>;
}

export interface Run {
  result: JourneyResult;
  calls: Calls;
  /** The outcome each step recorded, as `<step id>` → outcome, in order. */
  outcomes: { stepId: string; result: StepOutcome | undefined }[];
}

let counter = 0;

/** Runs `source` (a journey in YAML) for one customer, to its end. */
export async function runJourney(env: TestWorkflowEnvironment, source: string, options: RunOptions = {}): Promise<Run> {
  const compiled = compileJourney(source, 'journey.yaml', { liquid: liquidChecker, readTemplate: () => undefined });
  if (!compiled.ok) throw new Error(compiled.problems.map((p) => `${p.path}: ${p.message}`).join('\n'));
  const plan = toPlan(compiled.journey);
  const who = options.customer ?? customer();
  const calls: Calls = {
    sends: [],
    updates: [],
    tasks: [],
    timedOutTasks: [],
    webhooks: [],
    splits: [],
    goals: [],
    marks: [],
    finished: [],
  };
  const done = <T>(value: T) => Promise.resolve(value);
  const fakes: Activities = {
    sendMessage: (req) => {
      calls.sends.push(req);
      const channel = req.channel === 'preferred' ? 'email' : req.channel;
      return done<SendOutcome>({ status: 'sent', channel, sendKey: req.keyBase });
    },
    callWebhook: (req) => {
      calls.webhooks.push(req);
      return done({ ok: true, status: 200, detail: `${new URL(req.url).host} answered 200` });
    },
    loadCustomer: () => done(who),
    markStep: (req) => done(void calls.marks.push({ stepId: req.stepId, waitingFor: req.waitingFor })),
    recordSplit: (req) => done(void calls.splits.push({ stepId: req.stepId, path: req.path, holdout: req.holdout })),
    recordGoal: (req) => done(void calls.goals.push(req.eventType)),
    updateCustomer: (req) => done(void calls.updates.push(req)).then(() => 'updated'),
    createTask: (req) => done(`tsk_${calls.tasks.push(req)}`),
    markTaskTimedOut: (req) => done(void calls.timedOutTasks.push(req.taskId)),
    finishEnrollment: (req) => done(void calls.finished.push(req)),
    segmentPage: () => done({ customerIds: [], scanned: 0, next: null }),
    enrollSegment: () => done(0),
    refitModels: () => done({ skipped: 'not fitted in journey runs' }),
    refreshCustomers: () => done({ customers: 0, entered: 0, left: 0, lapsed: 0, next: null }),
    ...options.activities,
  };
  const taskQueue = `fast-${process.pid}-${++counter}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    workflowBundle: await workflowBundle(),
    activities: fakes,
  });
  const result = await worker.runUntil(async () => {
    const handle = await env.client.workflow.start<JourneyWorkflow>(JOURNEY_WORKFLOW, {
      taskQueue,
      workflowId: `fast-${taskQueue}`,
      args: [
        {
          plan,
          version: 1,
          customerId: who.id,
          enrollmentId: `enr_${counter}`,
          event: {
            id: `evt_${counter}`,
            type: 'test.started',
            occurredAt: new Date().toISOString(),
            data: options.data ?? {},
          },
          ...(options.maxStepsPerRun !== undefined ? { maxStepsPerRun: options.maxStepsPerRun } : {}),
        },
      ],
    });
    await options.during?.(handle, env);
    const result = await handle.result();
    // Each step kind's paths are guarded by the replay test as the built-in journeys' are.
    if (recordingHistories) {
      const test = expect.getState();
      const name = historyName(`${path.basename(test.testPath ?? '', '.test.ts')}-${test.currentTestName ?? ''}`);
      await recordHistories(env.client, handle.workflowId, `kinds--${name}`, handle.firstExecutionRunId);
    }
    return result;
  });
  return { result, calls, outcomes: result.history.map((h) => ({ stepId: h.stepId, result: h.result })) };
}

/** A journey around `steps` (YAML, indented as a list under `steps:`). */
export function journeyWith(steps: string, extra = ''): string {
  return `journey: fast
name: Fast
category: service
trigger: { event: test.started }
${extra}steps:
${steps}`;
}

/** The time-skipping server for one test file: started before its tests, stopped after. */
export function timeSkippingServer(): () => TestWorkflowEnvironment {
  let env: TestWorkflowEnvironment | undefined;
  beforeAll(async () => {
    env = await timeSkippingEnv();
  });
  afterAll(async () => {
    await env?.teardown();
  });
  return () => env!;
}
