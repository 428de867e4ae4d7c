/**
 * API keys: `rk_<id>_<secret>`, shown once when created. Only a SHA-256 of the secret is stored (the
 * secret is 32 random bytes, so a fast hash is enough), with its last four characters to recognise
 * it. Each key has scopes; `admin` includes every scope.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database';

export const SCOPES = [
  'events:write',
  'customers:read',
  'customers:write',
  'journeys:read',
  'journeys:write',
  'tasks:read',
  'tasks:write',
  'admin',
] as const;
export type Scope = (typeof SCOPES)[number];

export interface ApiKeyView {
  id: string;
  name: string;
  scopes: Scope[];
  last4: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const hash = (secret: string) => createHash('sha256').update(secret).digest('hex');

export async function createApiKey(db: Db, name: string, scopes: Scope[]): Promise<{ key: string; view: ApiKeyView }> {
  const id = randomBytes(6).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  await db
    .insertInto('api_keys')
    .values({ id, name, scopes: JSON.stringify(scopes), secret_hash: hash(secret), last4: secret.slice(-4) })
    .execute();
  const view = (await listApiKeys(db)).find((k) => k.id === id)!;
  return { key: `rk_${id}_${secret}`, view };
}

export async function listApiKeys(db: Db): Promise<ApiKeyView[]> {
  const rows = await db.selectFrom('api_keys').selectAll().orderBy('created_at').execute();
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    scopes: r.scopes as Scope[],
    last4: r.last4,
    createdAt: r.created_at.toISOString(),
    lastUsedAt: r.last_used_at?.toISOString() ?? null,
    revokedAt: r.revoked_at?.toISOString() ?? null,
  }));
}

export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const r = await db
    .updateTable('api_keys')
    .set({ revoked_at: new Date() })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function activeKeyCount(db: Db): Promise<number> {
  const { count } = await db
    .selectFrom('api_keys')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('revoked_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(count);
}

/** The key a bearer token names, if it is active and the secret matches. */
const KEY_SHAPE = /^rk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;

/** Whether a token has an API key's shape (`rk_<12 hex>_<43 base64url>`), before any query. */
export function wellFormedApiKey(token: string): boolean {
  return KEY_SHAPE.test(token);
}

export async function verifyApiKey(
  db: Db,
  token: string,
): Promise<{ id: string; name: string; scopes: Scope[] } | undefined> {
  const m = KEY_SHAPE.exec(token);
  if (!m) return undefined;
  const [, id, secret] = m as unknown as [string, string, string];
  const row = await db
    .selectFrom('api_keys')
    .select(['name', 'secret_hash', 'scopes', 'revoked_at'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row || row.revoked_at) return undefined;
  const a = Buffer.from(row.secret_hash, 'hex');
  const b = Buffer.from(hash(secret), 'hex');
  if (a.length !== b.length || !timingSafeEqual(a, b)) return undefined;
  return { id, name: row.name, scopes: row.scopes as Scope[] };
}

export async function touchApiKey(db: Db, id: string): Promise<void> {
  await db.updateTable('api_keys').set({ last_used_at: new Date() }).where('id', '=', id).execute();
}

export function allows(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}
