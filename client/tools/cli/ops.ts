/** `rapport events send`, `rapport tasks list|complete` and `rapport keys create|list|revoke`. */
import { randomUUID } from 'node:crypto';
import { SCOPES, type Scope } from '../../../activities/store/api-keys';
import type { EventReceipt, IncomingEvent } from '../../server/events/schema';
import { clientFrom, type ConnectionOptions, customerArg } from './connection';
import type * as LocalKeys from './local-keys';

// Loaded when a key is created without the API only: the other commands need none of the engine.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const localKeys = () => require('./local-keys') as typeof LocalKeys;

function out(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

function json(option: string, text: string | undefined): Record<string, unknown> | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(`${option}: expected a JSON object, such as '{"orderId": "A-1", "total": 42}'`);
}

export async function eventsSend(
  type: string,
  options: ConnectionOptions & { customer: string; data?: string; profile?: string; id?: string; json?: boolean },
) {
  const data = json('--data', options.data);
  const profile = json('--profile', options.profile);
  const event = {
    id: options.id ?? randomUUID(),
    type,
    customer: customerArg(options.customer),
    ...(data ? { data } : {}),
    ...(profile ? { profile } : {}),
  } as IncomingEvent;
  const r = await clientFrom(options).sendEvent(event, undefined, { waitForRouting: true });
  if (options.json) return out(JSON.stringify(r, null, 2));
  out([`accepted ${r.eventId} for customer ${r.customerId}`, ...receiptLines(r)].join('\n'));
}

/** The receipt's lines: where the event went, or why it did not (yet). */
function receiptLines(r: EventReceipt): string[] {
  return [
    ...(r.status === 'routed' ? [] : [`  ${r.status}${r.error ? `: ${r.error}` : ''}`]),
    ...r.enrolled.map((e) => `  enrolled in ${e.journey} (version ${e.version})`),
    ...r.signalled.map((s) => `  moved along ${s.journey}`),
    ...r.notEnrolled.map((n) => `  not enrolled in ${n.journey}: ${n.reason}`),
  ];
}

export async function eventsShow(id: string, options: ConnectionOptions & { json?: boolean }) {
  const r = await clientFrom(options).getEvent(id);
  if (options.json) return out(JSON.stringify(r, null, 2));
  out(
    [
      `event ${r.eventId} (${r.type}) for customer ${r.customerId}: ${r.status}, received ${r.receivedAt}` +
        (r.routedAt ? `, routed ${r.routedAt}` : r.attempts ? `, ${r.attempts} attempt(s)` : ''),
      ...receiptLines(r),
    ].join('\n'),
  );
}

export async function eventsRetry(id: string, options: ConnectionOptions & { json?: boolean }) {
  const r = await clientFrom(options).retryEvent(id);
  if (options.json) return out(JSON.stringify(r, null, 2));
  out([`event ${r.eventId}: ${r.status}`, ...receiptLines(r)].join('\n'));
  if (r.status !== 'routed') process.exitCode = 1;
}

/** `rapport events backlog`: what the router has still to do. */
export async function eventsBacklog(options: ConnectionOptions & { json?: boolean }) {
  const b = await clientFrom(options).routingBacklog();
  if (options.json) return out(JSON.stringify(b, null, 2));
  out(
    [
      `${b.waiting} ${b.waiting === 1 ? 'event' : 'events'} waiting to be routed` +
        (b.oldestAgeSeconds !== null ? ` (the oldest not routed was received ${b.oldestAgeSeconds} s ago)` : ''),
      `${b.retrying} waiting for their next try after a failed routing (rapport events show <id>)`,
      `${b.parked} parked (rapport events show|retry <id>)`,
    ].join('\n'),
  );
}

export async function reconcileNow(options: ConnectionOptions & { minAge?: string; json?: boolean }) {
  const r = await clientFrom(options).reconcile(
    options.minAge !== undefined ? { minAgeSeconds: Number(options.minAge) } : {},
  );
  if (options.json) return out(JSON.stringify(r, null, 2));
  out(
    [
      `${r.checked} active enrollments compared with Temporal; ${r.failed.length} recorded as failed`,
      ...r.failed.map((f) => `  ${f.enrollmentId}  ${f.journey}  ${f.customerId}: ${f.reason}`),
      `${r.claimsClosed} orphaned send claims closed (nothing was sent); ${r.claimsAmbiguous.length} marked unknown (the request was with the provider)`,
      ...r.claimsAmbiguous.map((c) => `  ${c.sendKey}  ${c.customerId}  step ${c.stepId}`),
      `${r.parkedEvents} parked events (rapport events show|retry)`,
    ].join('\n'),
  );
}

export async function tasksList(options: ConnectionOptions & { team?: string; status?: string; json?: boolean }) {
  const tasks = await clientFrom(options).listTasks({ team: options.team, status: options.status });
  if (options.json) return out(JSON.stringify(tasks, null, 2));
  if (tasks.length === 0) return out('no tasks');
  out(
    tasks
      .map(
        (t) =>
          `${t.id}  ${t.status.padEnd(9)} ${(t.team ?? t.assignee ?? '-').padEnd(12)} due ${t.dueAt?.slice(0, 16).replace('T', ' ') ?? '-'}  ${t.title}`,
      )
      .join('\n'),
  );
}

export async function tasksComplete(
  id: string,
  options: ConnectionOptions & { outcome: string; note?: string; json?: boolean },
) {
  const { task } = await clientFrom(options).completeTask(id, options.outcome, options.note);
  if (options.json) return out(JSON.stringify(task, null, 2));
  out(`task ${task.id} completed: ${task.outcome ?? ''}`);
}

function parseScopes(text: string): Scope[] {
  const scopes = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length || scopes.length === 0) {
    throw new Error(`--scopes: expected some of ${SCOPES.join(', ')}; got ${unknown.join(', ') || 'none'}`);
  }
  return scopes as Scope[];
}

/**
 * Through the API when given one (`--url`, RAPPORT_URL, or an API key); otherwise straight into the
 * customer database Rapport's own settings name (DATABASE_URL, or the data folder's embedded
 * PostgreSQL): on the machine Rapport runs on, the first key needs no open API.
 */
export async function keysCreate(options: ConnectionOptions & { name: string; scopes: string; json?: boolean }) {
  const scopes = parseScopes(options.scopes);
  const throughApi = options.url ?? process.env.RAPPORT_URL ?? options.apiKey ?? process.env.RAPPORT_API_KEY;
  const k = throughApi
    ? await clientFrom(options).createKey(options.name, scopes)
    : await localKeys().createKeyHere(options.name, scopes);
  if (options.json) return out(JSON.stringify(k, null, 2));
  out(
    `${k.key}\n\nAPI key ${k.id} (${k.name}; ${k.scopes.join(', ')}). This is the only time it is shown: keep it now.`,
  );
}

export async function keysList(options: ConnectionOptions & { json?: boolean }) {
  const keys = await clientFrom(options).listKeys();
  if (options.json) return out(JSON.stringify(keys, null, 2));
  if (keys.length === 0) return out('no API keys: the API is open to this machine only');
  out(
    keys
      .map(
        (k) =>
          `${k.id}  …${k.last4}  ${k.revokedAt ? 'revoked' : 'active '}  ${k.name.padEnd(20)} ${k.scopes.join(',')}  last used ${k.lastUsedAt?.slice(0, 16).replace('T', ' ') ?? 'never'}`,
      )
      .join('\n'),
  );
}

export async function keysRevoke(id: string, options: ConnectionOptions & { json?: boolean }) {
  const r = await clientFrom(options).revokeKey(id);
  if (options.json) return out(JSON.stringify(r, null, 2));
  out(`API key ${r.id} revoked`);
}
