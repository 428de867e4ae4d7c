/**
 * The local outbox: where email and SMS go when no SMTP server or Twilio account is configured.
 * Each message is a JSON file (and, for email, an .eml file beside it) in the outbox folder.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';

export interface OutboxEntry {
  name: string;
  channel: 'email' | 'sms';
  writtenAt: string;
  to: string;
  from?: string;
  subject?: string;
  text: string;
  messageId?: string;
}

export async function writeOutboxEntry(
  dir: string,
  channel: 'email' | 'sms',
  fields: Omit<OutboxEntry, 'name' | 'channel' | 'writtenAt'>,
): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const writtenAt = new Date().toISOString();
  const digest = createHash('sha256')
    .update(fields.messageId ?? `${fields.to}${fields.text}${writtenAt}`)
    .digest('hex')
    .slice(0, 12);
  const name = `${writtenAt.replace(/[:.]/g, '-')}-${channel}-${digest}`;
  const entry: OutboxEntry = { name, channel, writtenAt, ...fields };
  await fs.writeFile(path.join(dir, `${name}.json`), JSON.stringify(entry, null, 2));
  return name;
}

/** Newest first. */
export async function listOutbox(dir: string, limit = 200): Promise<OutboxEntry[]> {
  let files: string[];
  try {
    files = await fs.readdir(dir);
  } catch {
    return [];
  }
  const names = files
    .filter((f) => f.endsWith('.json'))
    .sort()
    .reverse()
    .slice(0, limit);
  const entries = await Promise.all(
    names.map(async (f) => JSON.parse(await fs.readFile(path.join(dir, f), 'utf8')) as OutboxEntry),
  );
  return entries;
}

/** The raw .eml of an outbox email, or undefined. Names are checked so nothing outside the folder is read. */
export async function readOutboxEml(dir: string, name: string): Promise<Buffer | undefined> {
  if (!/^[0-9TZ-]+-email-[0-9a-f]{12}$/.test(name)) return undefined;
  try {
    return await fs.readFile(path.join(dir, `${name}.eml`));
  } catch {
    return undefined;
  }
}

/** Deletes every outbox message sent to one of these addresses (erasure); how many. */
export async function eraseOutbox(dir: string, addresses: string[]): Promise<number> {
  if (addresses.length === 0) return 0;
  const to = new Set(addresses.map((a) => a.toLowerCase()));
  let files: string[];
  try {
    files = await fs.readdir(dir);
  } catch {
    return 0;
  }
  let erased = 0;
  for (const file of files.filter((f) => f.endsWith('.json'))) {
    const entry = JSON.parse(await fs.readFile(path.join(dir, file), 'utf8')) as OutboxEntry;
    if (!to.has(entry.to.toLowerCase())) continue;
    await fs.rm(path.join(dir, `${entry.name}.eml`), { force: true });
    await fs.rm(path.join(dir, file), { force: true });
    erased++;
  }
  return erased;
}
