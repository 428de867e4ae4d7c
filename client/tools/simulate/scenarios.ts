/**
 * Scenario files: tests of a journey that ops teams keep beside it, `<journey>.scenarios.yaml`.
 *
 *   journey: onboarding.yaml          # default: the file's name without .scenarios
 *   scenarios:
 *     - name: activates, gets the tips
 *       customer: { email: ada@example.com, firstName: Ada, consent: { email: { marketing: true } } }
 *       data: { orderId: A-1, total: 30 }          # the enrolling event's data
 *       population:                                # other customers' orders, there before the run
 *         - { email: bob@example.com, orders: [{ orderId: B-1, total: 10, category: jazz }] }
 *       events:
 *         - +2d: app.activated                     # or { at: +2d, type: app.activated, data: {...} }
 *         - { at: +4h, complete: resolve, outcome: resolved }   # a person completes a task
 *       expect:
 *         - "by +3d: email onboarding/tips sent"
 *         - no sms
 *         - completed
 *
 * Expectations, each optionally prefixed by `by +<offset>:` where it has a time:
 *   email|sms|message [<template> | "<words of the subject or text>"] sent
 *   no email|sms|message [<template> | "<words>"]
 *   task <step id> created
 *   step <step id> reached | step <step id> not reached
 *   branch <step id> took case <n> | branch <step id> took otherwise
 *   split <step id> took <path name>
 *   goal met [by +<offset>] | goal not met
 *   completed | exited ["<reason words>"]
 *
 * Each scenario runs the journey on the time-skipping server (see simulate.ts); an expectation that
 * does not hold says what happened instead. Coverage lists the steps and branches no scenario reached.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parse } from 'yaml';
import { z } from 'zod';
import type { JourneyDefinition, Step } from '../../../definitions/schema/journey';
import { armsOf } from '../../../definitions/steps';
import { compileFile } from '../../server/journeys/load';
import { timeSkippingEnv } from '../testing/environment';
import {
  formatOffset,
  offset,
  simulate,
  type SimulatedMessage,
  type SimulationResult,
  SimulationError,
} from './simulate';
import { builtinTemplatesDir } from '../../../paths';

const eventEntry = z.union([
  z.object({ at: z.string(), type: z.string(), data: z.record(z.string(), z.unknown()).optional() }).strict(),
  z.object({ at: z.string(), complete: z.string(), outcome: z.string(), note: z.string().optional() }).strict(),
  z
    .record(z.string(), z.string())
    .refine((o) => Object.keys(o).length === 1, 'expected one "+<offset>: <event type>" pair')
    .transform((o) => {
      const [at, type] = Object.entries(o)[0]!;
      return { at, type };
    }),
]);

const scenario = z
  .object({
    name: z.string().min(1),
    customer: z.record(z.string(), z.unknown()),
    data: z.record(z.string(), z.unknown()).optional(),
    population: z.array(z.unknown()).optional(),
    events: z.array(eventEntry).default([]),
    expect: z.array(z.string().min(1)).min(1, 'expected at least one expectation'),
  })
  .strict();

const scenarioFile = z
  .object({ journey: z.string().optional(), scenarios: z.array(scenario).min(1, 'expected at least one scenario') })
  .strict();

export type Scenario = z.output<typeof scenario>;

interface ScenarioOutcome {
  name: string;
  passed: boolean;
  failures: { expectation: string; happened: string }[];
  /** The run, when it got that far. */
  run?: SimulationResult;
  /** Why the scenario could not run (a bad file, an event refused). */
  error?: string;
}

export interface FileOutcome {
  file: string;
  journeyFile: string;
  scenarios: ScenarioOutcome[];
  coverage: Coverage;
}

interface Coverage {
  /** Every step and branch of the journey: `step welcome`, `branch vip case 1`, `wait_for activated on_timeout`. */
  arms: string[];
  reached: string[];
  missed: string[];
}

export function loadScenarioFile(file: string): { journeyFile: string; scenarios: Scenario[] } {
  let data: unknown;
  try {
    data = parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new SimulationError(`${file}: ${(err as Error).message.split('\n')[0]}`);
  }
  const parsed = scenarioFile.safeParse(data);
  if (!parsed.success) {
    throw new SimulationError(
      parsed.error.issues.map((i) => `${file}: ${i.path.map(String).join('.') || '(file)'}: ${i.message}`).join('\n'),
    );
  }
  const journeyFile = path.resolve(
    path.dirname(file),
    parsed.data.journey ?? path.basename(file).replace(/\.scenarios\.ya?ml$/, '.yaml'),
  );
  return { journeyFile, scenarios: parsed.data.scenarios };
}

// ---------------------------------------------------------------------------------------------
// Expectations

function sinceEnrollment(run: SimulationResult, iso: string): number {
  return Date.parse(iso) - Date.parse(run.enrolledAt);
}

function describeMessage(run: SimulationResult, m: SimulatedMessage): string {
  return `${m.channel} ${m.template ?? `"${m.subject ?? m.text.split('\n')[0]}"`} at ${formatOffset(sinceEnrollment(run, m.at))}`;
}

function matchesMessage(m: SimulatedMessage, channel: string, what: string | undefined): boolean {
  if (channel !== 'message' && m.channel !== channel) return false;
  if (!what) return true;
  if (what.startsWith('"')) {
    const words = what.slice(1, -1).toLowerCase();
    return (m.subject ?? '').toLowerCase().includes(words) || m.text.toLowerCase().includes(words);
  }
  return m.template === what;
}

type Channel = 'email' | 'sms' | 'message';

/** An expectation of a scenario, as parsed from its wording once, when the file is read. */
export type Expectation = { text: string } & (
  | { kind: 'sent'; channel: Channel; what: string | undefined; by: number }
  | { kind: 'not sent'; channel: Channel; what: string | undefined; by: number }
  | { kind: 'task created'; step: string; by: number }
  | { kind: 'step'; step: string; reached: boolean; by: number }
  /** `case`: the case's number, or null for otherwise. */
  | { kind: 'branch'; step: string; case: number | null }
  | { kind: 'split'; step: string; path: string }
  /** How many events a digest step gathered. */
  | { kind: 'digest'; step: string; count: number }
  | { kind: 'goal met'; by: number }
  | { kind: 'goal not met' }
  | { kind: 'completed' }
  | { kind: 'exited'; words: string | undefined }
);

/** Parses one expectation; a wording it does not know, or a bad offset, throws a SimulationError. */
export function parseExpectation(text: string): Expectation {
  const by = /^by (\+\S+):\s*(.+)$/.exec(text.trim());
  const parseOffset = (o: string) => {
    const r = offset.safeParse(o);
    if (!r.success) throw new SimulationError(`"${text}": ${o} is not an offset such as +3d or +36h`);
    return r.data;
  };
  const deadline = by ? parseOffset(by[1]!) : Infinity;
  const body = (by ? by[2]! : text).trim();
  let m: RegExpExecArray | null;
  if ((m = /^(email|sms|message)(?: ("[^"]+"|\S+))? sent$/.exec(body))) {
    return { text, kind: 'sent', channel: m[1] as Channel, what: m[2], by: deadline };
  }
  if ((m = /^no (email|sms|message)(?: ("[^"]+"|\S+))?$/.exec(body))) {
    return { text, kind: 'not sent', channel: m[1] as Channel, what: m[2], by: deadline };
  }
  if ((m = /^task (\S+) created$/.exec(body))) return { text, kind: 'task created', step: m[1]!, by: deadline };
  if ((m = /^step (\S+) (reached|not reached)$/.exec(body))) {
    return { text, kind: 'step', step: m[1]!, reached: m[2] === 'reached', by: deadline };
  }
  if ((m = /^branch (\S+) took (?:case (\d+)|otherwise)$/.exec(body))) {
    return { text, kind: 'branch', step: m[1]!, case: m[2] ? Number(m[2]) : null };
  }
  if ((m = /^split (\S+) took (\S+)$/.exec(body))) return { text, kind: 'split', step: m[1]!, path: m[2]! };
  if ((m = /^digest (\S+) gathered (\d+)$/.exec(body))) {
    return { text, kind: 'digest', step: m[1]!, count: Number(m[2]) };
  }
  if ((m = /^goal met(?: by (\+\S+))?$/.exec(body))) {
    return { text, kind: 'goal met', by: m[1] ? parseOffset(m[1]) : deadline };
  }
  if (body === 'goal not met') return { text, kind: 'goal not met' };
  if (body === 'completed') return { text, kind: 'completed' };
  if ((m = /^exited(?: "([^"]+)")?$/.exec(body))) return { text, kind: 'exited', words: m[1] };
  throw new SimulationError(
    `unknown expectation "${text}"; expected forms such as "email onboarding/tips sent", "no sms", "task vip-call created", "digest replies gathered 3", "goal met by +9d", "exited"`,
  );
}

/** Whether the expectation holds for the run; if not, what happened instead. Unknown wording throws. */
export function checkExpectation(run: SimulationResult, expectation: Expectation | string): string | undefined {
  const e = typeof expectation === 'string' ? parseExpectation(expectation) : expectation;
  // A minute of grace: the journey starts a moment after the enrolling event is accepted.
  const GRACE = 60_000;
  const within = (iso: string, by: number) => sinceEnrollment(run, iso) <= by + GRACE;
  const sentList = (channel: string) => {
    const list = run.messages.filter((m) => channel === 'message' || m.channel === channel);
    return list.length ? list.map((m) => describeMessage(run, m)).join(', ') : `no ${channel} was sent`;
  };
  const ended = () => `the journey ${run.outcome}${run.reason ? ` (${run.reason})` : ''}`;

  switch (e.kind) {
    case 'sent': {
      const found = run.messages.filter((x) => matchesMessage(x, e.channel, e.what));
      if (found.some((x) => within(x.at, e.by))) return undefined;
      if (found.length) return `sent later: ${found.map((x) => describeMessage(run, x)).join(', ')}`;
      const notSent = run.steps.flatMap((s) =>
        s.result.kind === 'send' && (s.result.status === 'skipped' || s.result.status === 'failed')
          ? [`${s.step} ${s.result.status}: ${s.result.reason ?? ''}`]
          : [],
      );
      return `${sentList(e.channel)}${notSent.length ? `; ${notSent.join('; ')}` : ''}`;
    }
    case 'not sent': {
      const found = run.messages.filter((x) => matchesMessage(x, e.channel, e.what) && within(x.at, e.by));
      return found.length ? `sent: ${found.map((x) => describeMessage(run, x)).join(', ')}` : undefined;
    }
    case 'task created': {
      // The timeline's entry of a task's creation, known by its reference rather than its wording.
      const tasks = run.timeline.filter((t) => t.kind === 'task' && t.ref?.startsWith('created:'));
      const created = tasks.find((t) => (t.data as { step?: string }).step === e.step);
      if (created && within(created.at, e.by)) return undefined;
      if (created) return `created later, at ${formatOffset(sinceEnrollment(run, created.at))}`;
      const names = tasks.map((t) => (t.data as { step?: string }).step);
      return names.length ? `tasks created: ${names.join(', ')}` : 'no task was created';
    }
    case 'step': {
      const reached = run.steps.some((s) => s.step === e.step && within(s.at, e.by));
      if (e.reached === reached) return undefined;
      return reached
        ? `step ${e.step} was reached`
        : `steps reached: ${[...new Set(run.steps.map((s) => s.step))].join(', ')}`;
    }
    case 'branch': {
      const taken = run.steps.find((s) => s.step === e.step && s.result.kind === 'branch');
      if (taken?.result.kind !== 'branch') return `branch ${e.step} was not reached`;
      return taken.result.case === e.case ? undefined : `it took ${taken.detail}`;
    }
    case 'split': {
      const taken = run.steps.find((s) => s.step === e.step && s.result.kind === 'split');
      if (taken?.result.kind !== 'split') return `split ${e.step} was not reached`;
      return taken.result.path === e.path ? undefined : `it took path ${taken.result.path}`;
    }
    case 'digest': {
      const taken = run.steps.find((s) => s.step === e.step && s.result.kind === 'digest');
      if (taken?.result.kind !== 'digest') return `digest ${e.step} was not reached`;
      return taken.result.count === e.count ? undefined : `it gathered ${taken.result.count}`;
    }
    case 'goal met': {
      const goal = run.timeline.find((t) => t.kind === 'enrollment' && t.ref?.startsWith('goal:'));
      if (run.goalMet && (!goal || within(goal.at, e.by))) return undefined;
      if (run.goalMet && goal) return `goal met later, at ${formatOffset(sinceEnrollment(run, goal.at))}`;
      return `goal not met; ${ended()}`;
    }
    case 'goal not met':
      return run.goalMet ? 'the goal was met' : undefined;
    case 'completed':
      return run.outcome === 'completed' ? undefined : ended();
    case 'exited':
      if (run.outcome !== 'exited') return `the journey ${run.outcome}`;
      if (e.words && !(run.reason ?? '').includes(e.words)) return `it exited: ${run.reason ?? 'no reason'}`;
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Coverage

/**
 * Every step and every way out of a branch, wait_for, split or waiting task (each kind's arms), in
 * reading order: a step, then each of its ways out followed by the steps it runs.
 */
export function journeyArms(def: JourneyDefinition): string[] {
  const arms: string[] = [];
  const visit = (steps: readonly Step[]) => {
    for (const step of steps) {
      arms.push(`step ${step.id}`);
      for (const arm of armsOf(step)) {
        arms.push(`${step.type} ${step.id} ${arm.name}`);
        visit(arm.steps);
      }
    }
  };
  visit(def.steps);
  return arms;
}

/** The arms one run went through, read from its steps' outcomes. */
export function reachedArms(run: SimulationResult): string[] {
  const out = new Set<string>();
  for (const { step, result } of run.steps) {
    out.add(`step ${step}`);
    switch (result.kind) {
      case 'branch':
        out.add(`branch ${step} ${result.case === null ? 'otherwise' : `case ${result.case}`}`);
        break;
      case 'wait_for':
        out.add(`wait_for ${step} ${result.status === 'event' ? 'on_event' : 'on_timeout'}`);
        break;
      case 'split':
        out.add(`split ${step} path ${result.path}`);
        break;
      case 'task':
        if (result.status === 'timeout') out.add(`task ${step} on_timeout`);
        if (result.status === 'completed') out.add(`task ${step} completed`);
        break;
      case 'send':
      case 'wait':
      case 'digest':
      case 'update':
      case 'webhook':
      case 'exit':
        break;
    }
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Running

async function runScenario(
  journeyFile: string,
  s: Scenario,
  options: { env?: TestWorkflowEnvironment; templatesDir?: string } = {},
): Promise<ScenarioOutcome> {
  // Each expectation is read once, before the run: a wording the runner does not know fails the
  // scenario without running it.
  let expectations: Expectation[];
  try {
    expectations = s.expect.map(parseExpectation);
  } catch (err) {
    if (!(err instanceof SimulationError)) throw err;
    return { name: s.name, passed: false, failures: [], error: err.message };
  }
  let run: SimulationResult;
  try {
    run = await simulate({
      journeyFile,
      customer: s.customer,
      ...(s.data ? { triggerData: s.data } : {}),
      events: s.events.map((e) =>
        'complete' in e ? e : { at: e.at, type: e.type, data: 'data' in e ? (e.data ?? {}) : {} },
      ),
      ...(s.population ? { population: s.population as never } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.templatesDir ? { templatesDir: options.templatesDir } : {}),
    });
  } catch (err) {
    if (!(err instanceof SimulationError)) throw err;
    return { name: s.name, passed: false, failures: [], error: err.message };
  }
  const failures: ScenarioOutcome['failures'] = [];
  for (const expectation of expectations) {
    const happened = checkExpectation(run, expectation);
    if (happened !== undefined) failures.push({ expectation: expectation.text, happened });
  }
  return { name: s.name, passed: failures.length === 0, failures, run };
}

export async function runScenarioFile(
  file: string,
  options: { env?: TestWorkflowEnvironment; templatesDir?: string; only?: (name: string) => boolean } = {},
): Promise<FileOutcome> {
  const { journeyFile, scenarios } = loadScenarioFile(file);
  const templatesDir = options.templatesDir ?? builtinTemplatesDir;
  const compiled = compileFile(journeyFile, templatesDir, { allowHttpWebhooks: true });
  if (!compiled.ok) {
    throw new SimulationError(compiled.problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n'));
  }
  const env = options.env ?? (await timeSkippingEnv());
  try {
    const outcomes: ScenarioOutcome[] = [];
    for (const s of scenarios) {
      if (options.only && !options.only(s.name)) continue;
      outcomes.push(await runScenario(journeyFile, s, { env, templatesDir }));
    }
    const arms = journeyArms(compiled.journey.definition);
    const reached = new Set(outcomes.flatMap((o) => (o.run ? reachedArms(o.run) : [])));
    return {
      file,
      journeyFile,
      scenarios: outcomes,
      coverage: { arms, reached: arms.filter((a) => reached.has(a)), missed: arms.filter((a) => !reached.has(a)) },
    };
  } finally {
    if (!options.env) await env.teardown();
  }
}

/** The scenario files of a folder, and of its subfolders. */
export function findScenarioFiles(dirs: string[]): string[] {
  return dirs
    .flatMap((d) =>
      fs.existsSync(d)
        ? fs
            .readdirSync(d, { recursive: true, encoding: 'utf8' })
            .filter((f) => /\.scenarios\.ya?ml$/.test(f))
            .map((f) => path.join(d, f))
        : [],
    )
    .sort();
}
