/**
 * The console's sessions: an API key signs in once and the browser keeps a random token in an
 * HttpOnly cookie. Only the token's SHA-256 is stored. A session can do what its key can do, reads
 * the key's scopes afresh each time, and ends when the key is revoked, at sign-out, or when it expires.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Db } from '../db/database';
import type { Scope } from './api-keys';

/** A session lasts this long from sign-in. */
export const CONSOLE_SESSION_MS = 12 * 60 * 60 * 1000;

const SESSION_SHAPE = /^cs_[A-Za-z0-9_-]{43}$/;
const hash = (token: string) => createHash('sha256').update(token).digest('hex');

/** Starts a session for an API key; the token for the cookie (`cs_<43 base64url>`). */
export async function createConsoleSession(db: Db, keyId: string, now = new Date()): Promise<string> {
  const token = `cs_${randomBytes(32).toString('base64url')}`;
  await db
    .insertInto('console_sessions')
    .values({ id: hash(token), key_id: keyId, expires_at: new Date(now.getTime() + CONSOLE_SESSION_MS) })
    .execute();
  // Expired sessions go as new ones come.
  await db.deleteFrom('console_sessions').where('expires_at', '<', now).execute();
  return token;
}

/** The API key a session token stands for, while the session lasts and the key is not revoked. */
export async function consoleSessionKey(
  db: Db,
  token: string,
  now = new Date(),
): Promise<{ id: string; name: string; scopes: Scope[] } | undefined> {
  if (!SESSION_SHAPE.test(token)) return undefined;
  const row = await db
    .selectFrom('console_sessions as s')
    .innerJoin('api_keys as k', 'k.id', 's.key_id')
    .select(['k.id', 'k.name', 'k.scopes'])
    .where('s.id', '=', hash(token))
    .where('s.expires_at', '>', now)
    .where('k.revoked_at', 'is', null)
    .executeTakeFirst();
  return row ? { id: row.id, name: row.name, scopes: row.scopes as Scope[] } : undefined;
}

/** Ends a session (signing out). */
export async function endConsoleSession(db: Db, token: string): Promise<void> {
  if (!SESSION_SHAPE.test(token)) return;
  await db.deleteFrom('console_sessions').where('id', '=', hash(token)).execute();
}
