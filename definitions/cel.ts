/**
 * CEL conditions: type-checked against the variables each place may read (at validation time), and
 * evaluated deterministically (in workflow code: no I/O, no clock but the `now` it is given).
 */
import { Environment } from '@marcbachmann/cel-js';
import {
  CUSTOMER_FIELDS,
  type CustomerFacts,
  type DigestFacts,
  type EventFacts,
  type Facts,
  type RfmFacts,
  type TaskFacts,
  UNKNOWN_PREDICTION,
  UNKNOWN_RFM,
} from './facts';

/** Where an expression stands decides what it may read. */
export type CelPlace = 'trigger' | 'segment' | 'step' | 'wait_for' | 'goal' | 'key';

const TIMESTAMP = 'google.protobuf.Timestamp';

const customerSchema = CUSTOMER_FIELDS;

const eventSchema = { type: 'string', occurredAt: TIMESTAMP, data: 'map<string, dyn>' };

const VARIABLES: Record<CelPlace, string[]> = {
  trigger: ['customer', 'event', 'now'],
  segment: ['customer', 'now'],
  step: ['customer', 'event', 'events', 'tasks', 'journey', 'now'],
  wait_for: ['customer', 'event', 'events', 'tasks', 'journey', 'now'],
  goal: ['customer', 'event', 'events', 'tasks', 'journey', 'now'],
  // A keyed journey's key reads the event alone: routing evaluates it on every event it sends on.
  key: ['event'],
};

const environments = new Map<CelPlace, Environment>();

function environment(place: CelPlace): Environment {
  let env = environments.get(place);
  if (env) return env;
  env = new Environment({ limits: { maxAstNodes: 2000, maxDepth: 50 } });
  for (const name of VARIABLES[place]) {
    if (name === 'customer') env.registerVariable({ name, schema: customerSchema });
    else if (name === 'event') env.registerVariable({ name, schema: eventSchema });
    else if (name === 'journey')
      env.registerVariable({ name, schema: { id: 'string', version: 'int', enrolledAt: TIMESTAMP } });
    else if (name === 'now') env.registerVariable(name, TIMESTAMP);
    else env.registerVariable(name, 'map<string, dyn>');
  }
  environments.set(place, env);
  return env;
}

export type CelProblem = { offset: number; message: string };

/**
 * Parses and type-checks an expression. `expect` is the type it must produce: a condition gives a
 * bool, an `until_expr` a timestamp. Returns the problem, or undefined.
 */
export function checkCel(
  expression: string,
  place: CelPlace,
  expect: 'bool' | 'timestamp' | 'key',
): CelProblem | undefined {
  let result: ReturnType<Environment['check']>;
  try {
    result = environment(place).check(expression);
  } catch (e) {
    const err = e as Error & { node?: { pos?: number } };
    return { offset: err.node?.pos ?? 0, message: firstLine(err.message) };
  }
  if (!result.valid) {
    const err = result.error as (Error & { node?: { pos?: number } }) | undefined;
    return { offset: err?.node?.pos ?? 0, message: firstLine(err?.message ?? 'invalid expression') };
  }
  if (expect === 'key') {
    return ['string', 'int', 'uint', 'dyn'].includes(result.type ?? '')
      ? undefined
      : { offset: 0, message: `expected an expression giving text or a whole number, but it gives ${result.type}` };
  }
  const wanted = expect === 'bool' ? 'bool' : TIMESTAMP;
  if (result.type !== wanted && result.type !== 'dyn') {
    return {
      offset: 0,
      message: `expected an expression giving ${expect === 'bool' ? 'true or false (bool)' : 'a timestamp'}, but it gives ${result.type}`,
    };
  }
  return undefined;
}

function firstLine(message: string): string {
  return message.split('\n')[0]!.trim();
}

function customerValue(c: CustomerFacts) {
  return {
    ...c,
    email: c.email ?? '',
    phone: c.phone ?? '',
    firstName: c.firstName ?? '',
    lastName: c.lastName ?? '',
    preferredChannel: c.preferredChannel ?? '',
    learnedChannel: c.learnedChannel ?? '',
    metrics: {
      orderCount: BigInt(Math.trunc(c.metrics.orderCount)),
      lifetimeValue: Number(c.metrics.lifetimeValue),
      firstOrderAt: c.metrics.firstOrderAt ? new Date(c.metrics.firstOrderAt) : null,
      lastOrderAt: c.metrics.lastOrderAt ? new Date(c.metrics.lastOrderAt) : null,
      categories: c.metrics.categories,
      recommendedCategory: c.metrics.recommendedCategory ?? '',
      profit: c.metrics.profit ?? null,
      margin: c.metrics.margin ?? null,
      affinity: c.metrics.affinity ?? [],
      topCategory: c.metrics.topCategory ?? '',
      recommendations: c.metrics.recommendations ?? [],
    },
    predicted: c.predicted ?? UNKNOWN_PREDICTION,
    rfm: rfmValue(c.rfm ?? UNKNOWN_RFM),
    score: Number(c.score ?? 0),
    account: { id: c.account?.id ?? '', name: c.account?.name ?? '' },
  };
}

/** The scores are CEL ints (`customer.rfm.recency >= 4`). */
function rfmValue(r: RfmFacts) {
  return {
    recency: BigInt(Math.trunc(r.recency)),
    frequency: BigInt(Math.trunc(r.frequency)),
    monetary: BigInt(Math.trunc(r.monetary)),
    score: BigInt(Math.trunc(r.score)),
    segment: r.segment,
  };
}

function eventValue(e: EventFacts) {
  return { type: e.type, occurredAt: new Date(e.occurredAt), data: e.data };
}

/** A wait_for's event, or a digest's events with their count as a CEL int. */
function stepEventsValue(e: EventFacts | DigestFacts) {
  return 'items' in e ? { count: BigInt(e.count), items: e.items.map(eventValue) } : eventValue(e);
}

function taskValue(t: TaskFacts) {
  return { ...t, completedAt: t.completedAt ? new Date(t.completedAt) : null };
}

/** CEL's view of the facts: ints as BigInt, timestamps as Date, missing text as "". */
function context(place: CelPlace, facts: Facts): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of VARIABLES[place]) {
    if (name === 'customer' && facts.customer) out.customer = customerValue(facts.customer);
    else if (name === 'event' && facts.event) out.event = eventValue(facts.event);
    else if (name === 'events')
      out.events = Object.fromEntries(Object.entries(facts.events ?? {}).map(([k, v]) => [k, stepEventsValue(v)]));
    else if (name === 'tasks')
      out.tasks = Object.fromEntries(Object.entries(facts.tasks ?? {}).map(([k, v]) => [k, taskValue(v)]));
    else if (name === 'journey' && facts.journey)
      out.journey = {
        id: facts.journey.id,
        version: BigInt(facts.journey.version),
        enrolledAt: new Date(facts.journey.enrolledAt),
      };
    else if (name === 'now') out.now = new Date(facts.now);
  }
  return out;
}

export class CelEvaluationError extends Error {
  constructor(
    readonly expression: string,
    cause: string,
  ) {
    super(`${cause} (in ${JSON.stringify(expression)})`);
    this.name = 'CelEvaluationError';
  }
}

/** Evaluates a condition; a runtime error (a missing attribute, say) is a CelEvaluationError. */
export function evaluateCondition(expression: string, place: CelPlace, facts: Facts): boolean {
  const value = evaluate(expression, place, facts);
  if (typeof value !== 'boolean')
    throw new CelEvaluationError(expression, `expected true or false, got ${typeof value}`);
  return value;
}

/** Evaluates an `until_expr`: the time to wait until, in milliseconds since the epoch. */
export function evaluateTimestamp(expression: string, place: CelPlace, facts: Facts): number {
  const value = evaluate(expression, place, facts);
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new CelEvaluationError(expression, 'expected a timestamp');
  }
  return value.getTime();
}

/**
 * A keyed journey's key for an event: text, or a whole number written as text; undefined when the
 * event gives none (a missing field, null, another type), which enrolls nobody.
 */
export function evaluateKey(expression: string, event: EventFacts): string | undefined {
  let value: unknown;
  try {
    value = evaluate(expression, 'key', { event } as Facts);
  } catch {
    return undefined;
  }
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  return undefined;
}

function evaluate(expression: string, place: CelPlace, facts: Facts): unknown {
  try {
    return environment(place).evaluate(expression, context(place, facts));
  } catch (e) {
    if (e instanceof CelEvaluationError) throw e;
    throw new CelEvaluationError(expression, firstLine((e as Error).message));
  }
}
