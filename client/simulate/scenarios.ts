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
import type { JourneyDefinition } from '../../definitions/schema/journey';
import { compileFile } from '../journeys/load';
import { timeSkippingEnv } from '../testing/environment';
import {
  formatOffset,
  offset,
  simulate,
  type SimulatedMessage,
  type SimulationResult,
  SimulationError,
} from './simulate';
import { projectRoot } from '../../worker/temporal/binaries';

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

export interface ScenarioOutcome {
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

export interface Coverage {
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

/** Whether the expectation holds for the run; if not, what happened instead. Unknown wording throws. */
export function checkExpectation(run: SimulationResult, text: string): string | undefined {
  const by = /^by (\+\S+):\s*(.+)$/.exec(text.trim());
  const parseOffset = (o: string) => {
    const r = offset.safeParse(o);
    if (!r.success) throw new SimulationError(`"${text}": ${o} is not an offset such as +3d or +36h`);
    return r.data;
  };
  // A minute of grace: the journey starts a moment after the enrolling event is accepted.
  const GRACE = 60_000;
  const deadline = by ? parseOffset(by[1]!) : Infinity;
  const body = (by ? by[2]! : text).trim();
  const within = (iso: string) => sinceEnrollment(run, iso) <= deadline + GRACE;
  const sentList = (channel: string) => {
    const list = run.messages.filter((m) => channel === 'message' || m.channel === channel);
    return list.length ? list.map((m) => describeMessage(run, m)).join(', ') : `no ${channel} was sent`;
  };
  let m: RegExpExecArray | null;

  if ((m = /^(email|sms|message)(?: ("[^"]+"|\S+))? sent$/.exec(body))) {
    const [, channel, what] = m as unknown as [string, string, string | undefined];
    const found = run.messages.filter((x) => matchesMessage(x, channel, what));
    if (found.some((x) => within(x.at))) return undefined;
    if (found.length) return `sent later: ${found.map((x) => describeMessage(run, x)).join(', ')}`;
    const skipped = run.steps.filter((s) => s.type === 'send' && (s.outcome === 'skipped' || s.outcome === 'failed'));
    return `${sentList(channel)}${skipped.length ? `; ${skipped.map((s) => `${s.step} ${s.outcome}: ${s.detail}`).join('; ')}` : ''}`;
  }
  if ((m = /^no (email|sms|message)(?: ("[^"]+"|\S+))?$/.exec(body))) {
    const [, channel, what] = m as unknown as [string, string, string | undefined];
    const found = run.messages.filter((x) => matchesMessage(x, channel, what) && within(x.at));
    return found.length ? `sent: ${found.map((x) => describeMessage(run, x)).join(', ')}` : undefined;
  }
  if ((m = /^task (\S+) created$/.exec(body))) {
    const step = m[1]!;
    const tasks = run.timeline.filter((t) => t.kind === 'task' && t.summary.startsWith('task created'));
    const created = tasks.find((t) => (t.data as { step?: string }).step === step);
    if (created && within(created.at)) return undefined;
    if (created) return `created later, at ${formatOffset(sinceEnrollment(run, created.at))}`;
    const names = tasks.map((t) => (t.data as { step?: string }).step);
    return names.length ? `tasks created: ${names.join(', ')}` : 'no task was created';
  }
  if ((m = /^step (\S+) (reached|not reached)$/.exec(body))) {
    const reached = run.steps.some((s) => s.step === m![1] && within(s.at));
    if ((m[2] === 'reached') === reached) return undefined;
    return reached
      ? `step ${m[1]} was reached`
      : `steps reached: ${[...new Set(run.steps.map((s) => s.step))].join(', ')}`;
  }
  if ((m = /^branch (\S+) took (case \d+|otherwise)$/.exec(body))) {
    const taken = run.steps.find((s) => s.step === m![1] && s.outcome === 'branch');
    if (!taken) return `branch ${m[1]} was not reached`;
    const which = taken.detail.startsWith('case') ? taken.detail.split(':')[0]! : 'otherwise';
    return which === m[2] ? undefined : `it took ${taken.detail}`;
  }
  if ((m = /^split (\S+) took (\S+)$/.exec(body))) {
    const taken = run.steps.find((s) => s.step === m![1] && s.outcome === 'path');
    if (!taken) return `split ${m[1]} was not reached`;
    return taken.detail === m[2] ? undefined : `it took path ${taken.detail}`;
  }
  if ((m = /^goal met(?: by (\+\S+))?$/.exec(body))) {
    const goal = run.timeline.find((t) => t.kind === 'enrollment' && /^goal of \S+ met/.test(t.summary));
    const limit = m[1] ? parseOffset(m[1]) : deadline;
    if (run.goalMet && (!goal || sinceEnrollment(run, goal.at) <= limit + GRACE)) return undefined;
    if (run.goalMet && goal) return `goal met later, at ${formatOffset(sinceEnrollment(run, goal.at))}`;
    return `goal not met; the journey ${run.outcome}${run.reason ? ` (${run.reason})` : ''}`;
  }
  if (body === 'goal not met') return run.goalMet ? 'the goal was met' : undefined;
  if (body === 'completed') {
    return run.outcome === 'completed'
      ? undefined
      : `the journey ${run.outcome}${run.reason ? ` (${run.reason})` : ''}`;
  }
  if ((m = /^exited(?: "([^"]+)")?$/.exec(body))) {
    if (run.outcome !== 'exited') return `the journey ${run.outcome}`;
    if (m[1] && !(run.reason ?? '').includes(m[1])) return `it exited: ${run.reason ?? 'no reason'}`;
    return undefined;
  }
  throw new SimulationError(
    `unknown expectation "${text}"; expected forms such as "email onboarding/tips sent", "no sms", "task vip-call created", "goal met by +9d", "exited"`,
  );
}

// ---------------------------------------------------------------------------------------------
// Coverage

type AnyStep = Record<string, unknown> & { id: string; type: string };

/** Every step and every way out of a branch, wait_for, split or waiting task. */
export function journeyArms(def: JourneyDefinition): string[] {
  const arms: string[] = [];
  const visit = (steps: readonly unknown[] | undefined) => {
    for (const s of (steps ?? []) as AnyStep[]) {
      arms.push(`step ${s.id}`);
      if (s.type === 'branch') {
        const cases = (s.cases as { steps: unknown[] }[]) ?? [];
        cases.forEach((c, i) => {
          arms.push(`branch ${s.id} case ${i + 1}`);
          visit(c.steps);
        });
        arms.push(`branch ${s.id} otherwise`);
        visit(s.otherwise as unknown[] | undefined);
      } else if (s.type === 'wait_for') {
        arms.push(`wait_for ${s.id} on_event`, `wait_for ${s.id} on_timeout`);
        visit(s.on_event as unknown[] | undefined);
        visit(s.on_timeout as unknown[] | undefined);
      } else if (s.type === 'split') {
        for (const p of (s.paths as { name: string; steps?: unknown[] }[]) ?? []) {
          arms.push(`split ${s.id} path ${p.name}`);
          visit(p.steps);
        }
      } else if (s.type === 'task' && s.wait) {
        arms.push(`task ${s.id} completed`, `task ${s.id} on_timeout`);
        visit((s.wait as { on_timeout?: unknown[] }).on_timeout);
      }
    }
  };
  visit(def.steps);
  return arms;
}

/** The arms one run went through. */
export function reachedArms(run: SimulationResult): string[] {
  const out = new Set<string>();
  for (const s of run.steps) {
    out.add(`step ${s.step}`);
    if (s.outcome === 'branch') {
      out.add(`branch ${s.step} ${s.detail.startsWith('case') ? s.detail.split(':')[0]! : 'otherwise'}`);
    }
    if (s.type === 'wait_for') out.add(`wait_for ${s.step} ${s.outcome === 'event' ? 'on_event' : 'on_timeout'}`);
    if (s.outcome === 'path') out.add(`split ${s.step} path ${s.detail}`);
    if (s.type === 'task' && s.outcome === 'timeout') out.add(`task ${s.step} on_timeout`);
    if (s.type === 'task' && s.detail.startsWith('completed')) out.add(`task ${s.step} completed`);
  }
  return [...out];
}

// ---------------------------------------------------------------------------------------------
// Running

export async function runScenario(
  journeyFile: string,
  s: Scenario,
  options: { env?: TestWorkflowEnvironment; templatesDir?: string } = {},
): Promise<ScenarioOutcome> {
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
  for (const expectation of s.expect) {
    try {
      const happened = checkExpectation(run, expectation);
      if (happened !== undefined) failures.push({ expectation, happened });
    } catch (err) {
      if (!(err instanceof SimulationError)) throw err;
      return { name: s.name, passed: false, failures, run, error: err.message };
    }
  }
  return { name: s.name, passed: failures.length === 0, failures, run };
}

export async function runScenarioFile(
  file: string,
  options: { env?: TestWorkflowEnvironment; templatesDir?: string; only?: (name: string) => boolean } = {},
): Promise<FileOutcome> {
  const { journeyFile, scenarios } = loadScenarioFile(file);
  const templatesDir = options.templatesDir ?? path.join(projectRoot, 'definitions', 'templates');
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
