/**
 * Imports of a customer base: customers (with their consent and its evidence), past orders, and the
 * suppression lists of the tool a team leaves, row by row, a request's rows in one transaction.
 * Every row is validated; a bad row is reported with its line and field and the others go in.
 * Imported orders update the metrics and lifecycle stage as orders do, but they are history: they
 * enroll nobody. Importing a file twice changes nothing the second time (customers are matched by
 * their identities, orders by their id, suppressions by their address).
 */
import { z } from 'zod';
import { category, type Category } from '../../definitions/schema/common';
import type { ControlledTransaction, Transaction } from 'kysely';
import { behindSavepoint, inOneCommit, UnguardedWriteFailed, type Db } from '../db/database';
import type { Channel, Database, SuppressionReason } from '../db/schema';
import { consentRecordedAt, recordConsent, suppress, suppressAddressAsOf } from './consent';
import { findCustomer, upsertCustomer, type CustomerRef } from './customers';
import { recordOrder } from './orders';

export const IMPORT_BATCH_MAX = 1000;

const text = z.preprocess((v) => (v === '' || v === null ? undefined : v), z.string().trim().min(1).optional());
const number = (what: string) =>
  z.preprocess(
    (v) => (typeof v === 'string' && v.trim() !== '' ? Number(v) : v),
    z.number({ error: `expected ${what}` }).refine(Number.isFinite, `expected ${what}`),
  );

/** A date as YYYYMMDD, YYYY-MM-DD or an ISO 8601 date-time. */
const date = z.preprocess(
  (v) => {
    if (typeof v !== 'string') return v;
    const s = v.trim();
    if (/^\d{8}$/.test(s)) return `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T00:00:00Z`;
    if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return `${s}T00:00:00Z`;
    return s;
  },
  z.iso.datetime({ offset: true, error: 'expected a date: YYYYMMDD, YYYY-MM-DD or ISO 8601 date-time' }),
);

/** Who the row is about: any of these columns, as in an event's `customer`. */
const who = {
  customerId: text,
  email: text.pipe(z.email('expected an email address').optional()),
  phone: text.pipe(
    z
      .string()
      .regex(/^\+[1-9]\d{6,14}$/, 'expected a phone number in E.164 form, such as +14155550123')
      .optional(),
  ),
  externalSystem: text.pipe(
    z
      .string()
      .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'expected a system name such as crm or shop')
      .optional(),
  ),
  externalId: text,
};

type Who = {
  customerId?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
  externalSystem?: string | undefined;
  externalId?: string | undefined;
};

const needsWho = (r: Who) => Boolean(r.customerId ?? r.email ?? r.phone ?? r.externalId);
const whoMessage = { message: 'expected a customer: customerId, email, phone or externalId', path: ['customer'] };

/**
 * Consent columns of a customer row: `consent.<channel>.<purpose>` (yes or no, in the words other
 * tools export), each with its own `.at`, `.source`, `.ip` and `.method` or the row's `consentedAt`,
 * `consentSource`, `consentIp` and `consentMethod`. JSON lines may carry `consent` as an object, as
 * an event's profile does. They are consent with its evidence, never attributes.
 */
const CONSENT_COLUMN = /^consent\.([^.]+)\.([^.]+)(?:\.(at|source|ip|method))?$/;
const ROW_EVIDENCE = { consentedAt: 'at', consentSource: 'source', consentIp: 'ip', consentMethod: 'method' } as const;
const GRANTED = new Set(['yes', 'y', 'true', '1', 'granted', 'opted_in', 'subscribed']);
const WITHDRAWN = new Set(['no', 'n', 'false', '0', 'withdrawn', 'opted_out', 'unsubscribed']);
const CHANNELS: readonly string[] = ['email', 'sms'];

interface ImportedConsent {
  channel: Channel;
  purpose: Category;
  granted: boolean;
  /** When it was given or withdrawn, if the file says. */
  at: string | undefined;
  /** The evidence columns given: source, ip, method. */
  evidence: Record<string, string>;
}

const isConsentColumn = (key: string) => key === 'consent' || key.startsWith('consent.') || key in ROW_EVIDENCE;
const blank = (v: unknown) => v === undefined || v === null || v === '';
/** A cell as text: JSON lines may give numbers, booleans, or (wrongly) objects. */
const cell = (v: unknown) =>
  typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);

/** The consent columns of a row, read, with what is wrong in them by column. */
function consentColumns(fields: Record<string, unknown>): {
  consents: ImportedConsent[];
  issues: { path: string; message: string }[];
} {
  const issues: { path: string; message: string }[] = [];
  const flat: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) {
    if (key !== 'consent') {
      if (isConsentColumn(key)) flat[key] = value;
      continue;
    }
    if (blank(value)) continue;
    if (typeof value !== 'object' || Array.isArray(value)) {
      issues.push({ path: 'consent', message: 'expected columns such as consent.email.marketing' });
      continue;
    }
    for (const [channel, purposes] of Object.entries(value as Record<string, unknown>)) {
      if (purposes && typeof purposes === 'object' && !Array.isArray(purposes))
        for (const [purpose, v] of Object.entries(purposes)) flat[`consent.${channel}.${purpose}`] = v;
      else flat[`consent.${channel}`] = purposes;
    }
  }
  const dateOf = (path: string, v: unknown) => {
    const parsed = date.safeParse(v);
    if (parsed.success) return parsed.data;
    issues.push({ path, message: parsed.error.issues[0]?.message ?? 'expected a date' });
    return undefined;
  };
  const rowEvidence: Record<string, string> = {};
  let rowAt: string | undefined;
  for (const [column, name] of Object.entries(ROW_EVIDENCE)) {
    const v = flat[column];
    if (blank(v)) continue;
    if (name === 'at') rowAt = dateOf(column, v);
    else rowEvidence[name] = cell(v);
  }
  const given = new Map<string, { granted: boolean; at?: string | undefined; evidence: Record<string, string> }>();
  const extras: [string, string, unknown][] = [];
  for (const [column, v] of Object.entries(flat)) {
    if (column in ROW_EVIDENCE || blank(v)) continue;
    const m = CONSENT_COLUMN.exec(column);
    if (!m || !CHANNELS.includes(m[1]!) || !category.safeParse(m[2]).success) {
      issues.push({
        path: column,
        message: `expected consent.<email|sms>.<${category.options.join('|')}>, optionally followed by .at, .source, .ip or .method`,
      });
      continue;
    }
    const key = `${m[1]}.${m[2]}`;
    if (m[3]) {
      extras.push([key, m[3], v]);
      continue;
    }
    const word = cell(v).trim().toLowerCase();
    if (GRANTED.has(word)) given.set(key, { granted: true, evidence: {} });
    else if (WITHDRAWN.has(word)) given.set(key, { granted: false, evidence: {} });
    else issues.push({ path: column, message: 'expected yes or no: yes/no, true/false, granted/withdrawn' });
  }
  for (const [key, name, v] of extras) {
    const at = name === 'at' ? dateOf(`consent.${key}.at`, v) : undefined;
    const consent = given.get(key);
    if (!consent) continue;
    if (name === 'at') consent.at = at;
    else consent.evidence[name] = cell(v);
  }
  const consents = [...given.entries()].map(([key, c]) => {
    const [channel, purpose] = key.split('.') as [Channel, Category];
    return { channel, purpose, granted: c.granted, at: c.at ?? rowAt, evidence: { ...rowEvidence, ...c.evidence } };
  });
  return { consents, issues };
}

const customerImportRow = z
  .object({
    ...who,
    firstName: text,
    lastName: text,
    timezone: text,
    locale: text,
    preferredChannel: text.pipe(z.enum(['email', 'sms']).optional()),
  })
  .catchall(z.unknown())
  .superRefine((r, ctx) => {
    for (const issue of consentColumns(r).issues)
      ctx.addIssue({ code: 'custom', path: [issue.path], message: issue.message });
  })
  .refine(needsWho, whoMessage);

/** Reasons as other tools name them → Rapport's. */
const SUPPRESSION_REASONS: Record<string, SuppressionReason> = {
  bounced: 'hard_bounce',
  hard_bounce: 'hard_bounce',
  complained: 'complaint',
  complaint: 'complaint',
  unsubscribed: 'unsubscribe',
  unsubscribe: 'unsubscribe',
  stop: 'stop',
};

/** Columns beyond these (an export's ids and dates) are ignored: a suppression is about an address. */
const suppressionImportRow = z
  .object({
    email: who.email,
    phone: who.phone,
    channel: text.pipe(z.enum(['email', 'sms'], { error: 'expected email or sms' }).optional()),
    reason: z.preprocess(
      (v) => (typeof v === 'string' ? (SUPPRESSION_REASONS[v.trim().toLowerCase()] ?? v) : v),
      z.enum(['hard_bounce', 'complaint', 'unsubscribe', 'stop'], {
        error: 'expected a reason: bounced, complained, unsubscribed or stop',
      }),
    ),
    at: z.preprocess((v) => (blank(v) ? undefined : v), date.optional()),
    detail: text.pipe(z.string().max(500, 'expected a detail of at most 500 characters').optional()),
  })
  .superRefine((r, ctx) => {
    if (!r.email && !r.phone)
      ctx.addIssue({ code: 'custom', path: ['address'], message: 'expected an email or a phone' });
    else if (r.email && r.phone && !r.channel)
      ctx.addIssue({
        code: 'custom',
        path: ['channel'],
        message: 'this row has both an email and a phone: say which is suppressed with a channel column (email or sms)',
      });
    else if (r.channel === 'email' && !r.email)
      ctx.addIssue({ code: 'custom', path: ['email'], message: 'expected an email for the email channel' });
    else if (r.channel === 'sms' && !r.phone)
      ctx.addIssue({ code: 'custom', path: ['phone'], message: 'expected a phone for the sms channel' });
    else if (r.reason === 'stop' && (r.channel ?? (r.email ? 'email' : 'sms')) !== 'sms')
      ctx.addIssue({ code: 'custom', path: ['reason'], message: 'stop is an SMS opt-out: expected a phone' });
  });

const orderImportRow = z
  .object({
    ...who,
    orderId: z.preprocess(
      (v) => (typeof v === 'number' ? String(v) : v),
      text.pipe(z.string({ error: 'expected an order id' })),
    ),
    occurredAt: date,
    total: number('the order total, a number').pipe(z.number().nonnegative('expected a total of 0 or more')),
    currency: text.pipe(z.string().length(3, 'expected a 3-letter currency code').optional()),
    quantity: number('a quantity').optional(),
    product: text,
    category: text,
  })
  .strict()
  .refine(needsWho, whoMessage);

export interface ImportRow {
  /** The row's line in the file, for the report. */
  line: number;
  fields: Record<string, unknown>;
}

export interface ImportReport {
  /** Rows stored: new, or changed. */
  imported: number;
  /** Rows that were already there (an order id seen before). */
  unchanged: number;
  errors: { line: number; path: string; message: string }[];
}

function refOf(r: Who): CustomerRef {
  return {
    ...(r.customerId ? { id: r.customerId } : {}),
    ...(r.email ? { email: r.email } : {}),
    ...(r.phone ? { phone: r.phone } : {}),
    ...(r.externalId ? { externalId: { system: r.externalSystem ?? 'import', id: r.externalId } } : {}),
  };
}

function problems(line: number, error: z.ZodError): ImportReport['errors'] {
  return error.issues.map((i) => ({ line, path: i.path.map(String).join('.') || '(row)', message: i.message }));
}

/**
 * A batch's rows written in one transaction, which commits once for all. One bad row loses none of
 * the others: the batch is written first as it is, and when a row's write fails, written again with
 * each row behind a savepoint (two statements more a row, which a batch whose rows all go in does
 * without). A row the schema refuses is reported by its line and writes nothing.
 */
async function eachRow<Row>(
  db: Db,
  rows: ImportRow[],
  schema: z.ZodType<Row>,
  store: (tx: Transaction<Database>, row: Row, line: number) => Promise<boolean>,
): Promise<ImportReport> {
  return inOneCommit(db, (batch, guarded) => writeRows(batch, rows, schema, store, guarded));
}

/**
 * The rows within the request's transaction, each behind a savepoint when `guarded`; unguarded, a
 * row whose write fails throws UnguardedWriteFailed (the request is written again, guarded).
 */
async function writeRows<Row>(
  batch: ControlledTransaction<Database>,
  rows: ImportRow[],
  schema: z.ZodType<Row>,
  store: (tx: Transaction<Database>, row: Row, line: number) => Promise<boolean>,
  guarded: boolean,
): Promise<ImportReport> {
  const report: ImportReport = { imported: 0, unchanged: 0, errors: [] };
  const count = (stored: boolean) => (stored ? report.imported++ : report.unchanged++);
  for (const row of rows) {
    const parsed = schema.safeParse(row.fields);
    if (!parsed.success) {
      report.errors.push(...problems(row.line, parsed.error));
      continue;
    }
    try {
      count(
        guarded
          ? await behindSavepoint(batch, (tx) => store(tx, parsed.data, row.line))
          : await store(batch, parsed.data, row.line),
      );
    } catch (err) {
      if (!guarded) throw new UnguardedWriteFailed(err);
      report.errors.push({
        line: row.line,
        path: '(row)',
        message: err instanceof Error ? err.message : String(err),
      });
    }
  }
  return report;
}

/** Where an imported record came from, for its evidence: the file's name and the row's line. */
const sourceOf = (file: string | undefined, line: number) => `import ${file ?? 'file'}:${line}`;

/**
 * Imported consent is recorded with method `import`, unless Rapport holds a newer answer: one
 * recorded after the file's date, or any at all when the file gives no date (the customer may have
 * answered here since the export).
 */
async function importConsent(db: Db, customerId: string, consents: ImportedConsent[], source: string): Promise<void> {
  for (const c of consents) {
    const held = await consentRecordedAt(db, customerId, c.channel, c.purpose);
    if (held && (c.at === undefined || held.getTime() > Date.parse(c.at))) continue;
    await recordConsent(
      db,
      customerId,
      { [c.channel]: { [c.purpose]: c.granted } },
      { method: 'import', source, at: c.at ?? new Date(), details: c.evidence },
    );
  }
}

export function importCustomers(db: Db, rows: ImportRow[], file?: string): Promise<ImportReport> {
  return eachRow(db, rows, customerImportRow, async (tx, r, line) => {
    const { customerId: _id, email, phone, externalSystem: _s, externalId: _e, ...rest } = r;
    const known = ['firstName', 'lastName', 'timezone', 'locale', 'preferredChannel'] as const;
    const attributes = Object.fromEntries(
      Object.entries(rest).filter(
        ([k, v]) => !(known as readonly string[]).includes(k) && !isConsentColumn(k) && v !== '' && v !== undefined,
      ),
    );
    const { consents } = consentColumns(rest);
    const profile = {
      ...(email ? { email } : {}),
      ...(phone ? { phone } : {}),
      ...Object.fromEntries(known.filter((k) => r[k] !== undefined).map((k) => [k, r[k]])),
      ...(Object.keys(attributes).length ? { attributes } : {}),
    };
    const { customer } = await upsertCustomer(tx, refOf(r), profile);
    await importConsent(tx, customer.id, consents, sourceOf(file, line));
    return true;
  });
}

export function importOrders(db: Db, rows: ImportRow[]): Promise<ImportReport> {
  return eachRow(db, rows, orderImportRow, async (tx, r) => {
    const { customer } = await upsertCustomer(tx, refOf(r), {});
    const lines = r.product
      ? [
          {
            product: r.product,
            ...(r.category ? { category: r.category } : {}),
            quantity: r.quantity ?? 1,
            price: r.total,
          },
        ]
      : undefined;
    return recordOrder(
      tx,
      customer.id,
      `import:${r.orderId}`,
      {
        orderId: r.orderId,
        total: r.total,
        ...(r.currency ? { currency: r.currency } : {}),
        ...(lines ? { lines } : {}),
      },
      r.occurredAt,
    );
  });
}

/**
 * Suppressions from another tool's lists (bounces, complaints, unsubscribes, STOPs): kept by address,
 * so they hold for whoever has the address now or later, and put on the record of the customer who
 * has it now. True when the row changed something.
 */
export function importSuppressions(db: Db, rows: ImportRow[], file?: string): Promise<ImportReport> {
  return eachRow(db, rows, suppressionImportRow, async (tx, r, line) => {
    const channel: Channel = r.channel ?? (r.email ? 'email' : 'sms');
    const address = (channel === 'email' ? r.email : r.phone)!;
    const added = await suppressAddressAsOf(tx, channel, address, r.reason, r.at);
    const customer = await findCustomer(tx, channel === 'email' ? { email: address } : { phone: address });
    if (!customer) return added;
    // A customer who resumed the channel here after the file's date (or at all, for an undated row) stays resumed.
    const resumed = await tx
      .selectFrom('suppressions')
      .select('id')
      .where('customer_id', '=', customer.id)
      .where('channel', '=', channel)
      .where('lifted_at', 'is not', null)
      .$if(r.at !== undefined, (q) => q.where('lifted_at', '>=', new Date(r.at!)))
      .executeTakeFirst();
    if (resumed) return added;
    const detail = `${sourceOf(file, line)}${r.detail ? `: ${r.detail}` : ''}`;
    return (await suppress(tx, customer.id, channel, r.reason, detail, r.at ?? new Date())) || added;
  });
}
