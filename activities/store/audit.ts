/**
 * The audit trail: who did what to what, and when. An entry names its actor (an API key by name and
 * id, `local` for a request from this machine before any key exists, `cli` for the command line
 * writing the database itself), the action, and its target by id. It never holds message content or
 * personal data beyond ids, so erasing a customer leaves it whole; the database refuses to change or
 * remove an entry (a trigger), so the application only ever adds one.
 */
import { sql } from 'kysely';
import type { Db } from '../db/database';

/** What the trail records. */
type AuditAction =
  | 'journey.publish'
  | 'journey.pause'
  | 'journey.resume'
  | 'task.complete'
  | 'customer.erase'
  | 'customer.merge'
  | 'key.create'
  | 'key.revoke'
  | 'console.sign-in'
  | 'import'
  | 'insights.fit';

/** Who acted: the key's name and id, or `local` / `cli` with no key. */
export interface AuditActor {
  name: string;
  keyId: string | null;
}

/** The command line, acting on the database directly (the first API key, made before the API needs one). */
export const CLI_ACTOR: AuditActor = { name: 'cli', keyId: null };

export interface AuditEntry {
  actor: AuditActor;
  action: AuditAction;
  /** What was acted on, by id: `journey:<id>`, `customer:<id>`, `key:<id>`, `task:<id>`, `import:<kind>`. */
  target: string;
  /** Ids, counts and settings only: never an address, a name or a message's text. */
  detail?: Record<string, unknown>;
}

export interface AuditItem {
  id: number;
  at: string;
  actor: string;
  actorKeyId: string | null;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

/** Adds an entry; inside the action's transaction when given one, so both are kept or neither. */
export async function recordAudit(db: Db, entry: AuditEntry): Promise<void> {
  await db
    .insertInto('audit_log')
    .values({
      actor: entry.actor.name,
      actor_key_id: entry.actor.keyId,
      action: entry.action,
      target: entry.target,
      detail: JSON.stringify(entry.detail ?? {}),
    })
    .execute();
}

export interface AuditFilter {
  /** An action (`journey.pause`), or its family (`journey`: every `journey.*`). */
  action?: string | undefined;
  target?: string | undefined;
  /** A key's name or id, `local` or `cli`. */
  actor?: string | undefined;
  /** From this time on (inclusive). */
  since?: Date | undefined;
  /** Before this time (exclusive). */
  until?: Date | undefined;
  /** The `next` of the page before. */
  cursor?: string | undefined;
  limit: number;
}

/** A page's `next`: the id of its last entry, so entries added meanwhile shift nothing between pages. */
export const AUDIT_CURSOR = /^\d{1,18}$/;

/** Entries newest first (in the order they were written), `limit` at a time. */
export async function listAudit(db: Db, filter: AuditFilter): Promise<{ entries: AuditItem[]; next: string | null }> {
  let query = db.selectFrom('audit_log').selectAll();
  if (filter.action) {
    const action = filter.action;
    query = action.includes('.')
      ? query.where('action', '=', action)
      : query.where((eb) => eb.or([eb('action', '=', action), eb('action', 'like', `${action}.%`)]));
  }
  if (filter.target) query = query.where('target', '=', filter.target);
  if (filter.actor) {
    const actor = filter.actor;
    query = query.where((eb) => eb.or([eb('actor', '=', actor), eb('actor_key_id', '=', actor)]));
  }
  if (filter.since) query = query.where('at', '>=', filter.since);
  if (filter.until) query = query.where('at', '<', filter.until);
  if (filter.cursor) query = query.where('id', '<', sql<number>`${filter.cursor}::bigint`);
  const rows = await query
    .orderBy('id', 'desc')
    .limit(filter.limit + 1)
    .execute();
  const shown = rows.slice(0, filter.limit);
  const last = shown[shown.length - 1];
  return {
    entries: shown.map((r) => ({
      id: Number(r.id),
      at: r.at.toISOString(),
      actor: r.actor,
      actorKeyId: r.actor_key_id,
      action: r.action,
      target: r.target,
      detail: r.detail,
    })),
    next: rows.length > filter.limit && last ? String(last.id) : null,
  };
}
