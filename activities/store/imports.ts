/**
 * Imports of a customer base: customers and past orders, row by row. Every row is validated; a bad
 * row is reported with its line and field and the others go in. Imported orders update the metrics
 * and lifecycle stage as orders do, but they are history: they enroll nobody. Importing a file twice
 * changes nothing the second time (customers are matched by their identities, orders by their id).
 */
import { z } from 'zod';
import type { Db } from '../db/database';
import { upsertCustomer, type CustomerRef } from './customers';
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
  .refine(needsWho, whoMessage);

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

async function eachRow(
  rows: ImportRow[],
  schema: z.ZodType,
  store: (row: never) => Promise<boolean>,
): Promise<ImportReport> {
  const report: ImportReport = { imported: 0, unchanged: 0, errors: [] };
  for (const row of rows) {
    const parsed = schema.safeParse(row.fields);
    if (!parsed.success) {
      report.errors.push(...problems(row.line, parsed.error));
      continue;
    }
    try {
      if (await store(parsed.data as never)) report.imported++;
      else report.unchanged++;
    } catch (err) {
      report.errors.push({ line: row.line, path: '(row)', message: err instanceof Error ? err.message : String(err) });
    }
  }
  return report;
}

export function importCustomers(db: Db, rows: ImportRow[]): Promise<ImportReport> {
  return eachRow(rows, customerImportRow, async (r: z.output<typeof customerImportRow>) => {
    const { customerId: _id, email, phone, externalSystem: _s, externalId: _e, ...rest } = r;
    const known = ['firstName', 'lastName', 'timezone', 'locale', 'preferredChannel'] as const;
    const attributes = Object.fromEntries(
      Object.entries(rest).filter(([k, v]) => !(known as readonly string[]).includes(k) && v !== '' && v !== undefined),
    );
    const profile = {
      ...(email ? { email } : {}),
      ...(phone ? { phone } : {}),
      ...Object.fromEntries(known.filter((k) => r[k] !== undefined).map((k) => [k, r[k]])),
      ...(Object.keys(attributes).length ? { attributes } : {}),
    };
    await db.transaction().execute((tx) => upsertCustomer(tx, refOf(r), profile));
    return true;
  });
}

export function importOrders(db: Db, rows: ImportRow[]): Promise<ImportReport> {
  return eachRow(rows, orderImportRow, async (r: z.output<typeof orderImportRow>) =>
    db.transaction().execute(async (tx) => {
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
    }),
  );
}
