/**
 * Imports from the tool a team leaves, on an in-memory database: consent with its evidence (never
 * attributes), and suppression lists kept by address for customers who do not exist yet; bad rows
 * reported by line and field; a second import changing nothing; and nothing imported undoing a
 * newer answer given in Rapport.
 */
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import {
  activeSuppression,
  addressSuppression,
  allConsent,
  liftAddressSuppression,
  recordConsent,
} from '../../activities/store/consent';
import { findCustomer, upsertCustomer } from '../../activities/store/customers';
import { importCustomers, importSuppressions, type ImportRow } from '../../activities/store/imports';
import { listTimeline } from '../../activities/store/timeline';

let database: OpenDatabase;

beforeAll(async () => {
  database = await openDatabase({});
  await migrate(database.db);
});

afterAll(async () => {
  await database?.close();
});

/** Rows as a file gives them: the first data line is line 2, under the header. */
const rows = (...fields: Record<string, unknown>[]): ImportRow[] => fields.map((f, i) => ({ line: i + 2, fields: f }));

async function customerId(ref: { email?: string; phone?: string }): Promise<string> {
  const c = await findCustomer(database.db, ref);
  if (!c) throw new Error(`no customer ${JSON.stringify(ref)}`);
  return c.id;
}

describe('consent imported with customers', () => {
  test('is recorded with its evidence and method import, never as attributes; bad columns are reported', async () => {
    const db = database.db;
    const report = await importCustomers(
      db,
      rows(
        {
          email: 'ada@example.com',
          plan: 'gold',
          'consent.email.marketing': 'yes',
          'consent.sms.marketing': 'no',
          consentedAt: '2024-03-01T10:00:00Z',
          consentSource: 'signup form',
          consentIp: '203.0.113.7',
          consentMethod: 'double-opt-in',
        },
        { email: 'bob@example.com', consent: { email: { marketing: true } }, 'consent.email.marketing.at': '20240105' },
        { email: 'cy@example.com', 'consent.email.marketing': 'maybe', 'consent.push.marketing': 'yes' },
        { email: 'dee@example.com', 'consent.email.marketing': 'granted', consentedAt: 'last spring' },
      ),
      'customers.csv',
    );
    expect(report.imported).toBe(2);
    expect(report.errors).toEqual([
      {
        line: 4,
        path: 'consent.email.marketing',
        message: 'expected yes or no: yes/no, true/false, granted/withdrawn',
      },
      {
        line: 4,
        path: 'consent.push.marketing',
        message:
          'expected consent.<email|sms>.<marketing|transactional|service>, optionally followed by .at, .source, .ip or .method',
      },
      {
        line: 5,
        path: 'consentedAt',
        message: 'expected a date: YYYYMMDD, YYYY-MM-DD or ISO 8601 date-time',
      },
    ]);
    expect(await findCustomer(db, { email: 'cy@example.com' })).toBeUndefined();

    const ada = await customerId({ email: 'ada@example.com' });
    expect((await findCustomer(db, { email: 'ada@example.com' }))!.attributes).toEqual({ plan: 'gold' });
    expect(await allConsent(db, ada)).toEqual({ email: { marketing: true }, sms: { marketing: false } });
    const stored = await db
      .selectFrom('consents')
      .select(['channel', 'method', 'source', 'recorded_at', 'evidence'])
      .where('customer_id', '=', ada)
      .orderBy('channel')
      .execute();
    expect(stored).toEqual([
      {
        channel: 'email',
        method: 'import',
        source: 'import customers.csv:2',
        recorded_at: new Date('2024-03-01T10:00:00Z'),
        evidence: { source: 'signup form', ip: '203.0.113.7', method: 'double-opt-in' },
      },
      {
        channel: 'sms',
        method: 'import',
        source: 'import customers.csv:2',
        recorded_at: new Date('2024-03-01T10:00:00Z'),
        evidence: { source: 'signup form', ip: '203.0.113.7', method: 'double-opt-in' },
      },
    ]);
    const changes = (await listTimeline(db, ada)).filter((t) => t.kind === 'change').map((t) => t.summary);
    expect(changes.sort()).toEqual([
      'email marketing consent given (import, import customers.csv:2)',
      'sms marketing consent withdrawn (import, import customers.csv:2)',
    ]);

    // JSON lines' `consent` object, with the date of its own column.
    const bob = await customerId({ email: 'bob@example.com' });
    const bobs = await db.selectFrom('consents').selectAll().where('customer_id', '=', bob).executeTakeFirstOrThrow();
    expect(bobs).toMatchObject({ granted: true, method: 'import', source: 'import customers.csv:3', evidence: {} });
    expect(bobs.recorded_at).toEqual(new Date('2024-01-05T00:00:00Z'));
  });

  test('imported again, changes nothing; an older or undated answer does not undo a newer one', async () => {
    const db = database.db;
    const row = { email: 'eve@example.com', 'consent.email.marketing': 'true', consentedAt: '2024-06-01' };
    await importCustomers(db, rows(row), 'first.csv');
    const eve = await customerId({ email: 'eve@example.com' });
    const timelineBefore = await listTimeline(db, eve);
    await importCustomers(db, rows(row), 'first.csv');
    expect(await listTimeline(db, eve)).toEqual(timelineBefore);

    // She withdrew here later; an export from before that, or with no date, does not grant it back.
    await recordConsent(
      db,
      eve,
      { email: { marketing: false } },
      { method: 'unsubscribe', source: 'link', at: new Date('2025-01-01T00:00:00Z') },
    );
    await importCustomers(db, rows(row, { email: 'eve@example.com', 'consent.email.marketing': 'yes' }), 'old.csv');
    expect(await allConsent(db, eve)).toEqual({ email: { marketing: false } });
    // A later one does.
    await importCustomers(db, rows({ ...row, consentedAt: '2025-02-01' }), 'new.csv');
    expect(await allConsent(db, eve)).toEqual({ email: { marketing: true } });
  });
});

describe('suppressions imported', () => {
  test('hold by address for customers who do not exist yet, and go on the record of those who do', async () => {
    const db = database.db;
    await upsertCustomer(db, { email: 'known@example.com' }, {});
    const known = await customerId({ email: 'known@example.com' });
    const file = rows(
      { email: 'Later@Example.com', reason: 'bounced', at: '2024-02-01', detail: '550 no such user' },
      { phone: '+14155550100', reason: 'STOP' },
      { email: 'known@example.com', reason: 'unsubscribed', external_id: 'ignored' },
      { email: 'angry@example.com', reason: 'annoyed' },
      { email: 'both@example.com', phone: '+14155550101', reason: 'complained' },
      { email: 'nostop@example.com', reason: 'stop' },
      { reason: 'bounced' },
      { email: 'spam@example.com', reason: 'complaint', at: 'yesterday' },
    );
    const report = await importSuppressions(db, file, 'dnc.csv');
    expect(report).toEqual({
      imported: 3,
      unchanged: 0,
      errors: [
        { line: 5, path: 'reason', message: 'expected a reason: bounced, complained, unsubscribed or stop' },
        {
          line: 6,
          path: 'channel',
          message:
            'this row has both an email and a phone: say which is suppressed with a channel column (email or sms)',
        },
        { line: 7, path: 'reason', message: 'stop is an SMS opt-out: expected a phone' },
        { line: 8, path: 'address', message: 'expected an email or a phone' },
        { line: 9, path: 'at', message: 'expected a date: YYYYMMDD, YYYY-MM-DD or ISO 8601 date-time' },
      ],
    });
    expect(await addressSuppression(db, 'email', 'later@example.com')).toBe('hard_bounce');
    expect(await addressSuppression(db, 'sms', '+14155550100')).toBe('stop');
    expect(await addressSuppression(db, 'email', 'known@example.com')).toBe('unsubscribe');
    expect(await addressSuppression(db, 'email', 'angry@example.com')).toBeUndefined();
    expect(await activeSuppression(db, known, 'email')).toBe('unsubscribe');
    expect((await listTimeline(db, known)).map((t) => t.summary)).toContain(
      'email suppressed (unsubscribe): import dnc.csv:4',
    );
    // No customer was made for an address that is only suppressed.
    expect(await findCustomer(db, { email: 'later@example.com' })).toBeUndefined();

    const again = await importSuppressions(db, file, 'dnc.csv');
    expect(again).toMatchObject({ imported: 0, unchanged: 3 });
    expect(again.errors).toHaveLength(5);
  });

  test('an address resumed here after the file’s date stays resumed', async () => {
    const db = database.db;
    const stop = rows({ phone: '+14155550199', reason: 'stop', at: '2024-01-01' });
    expect((await importSuppressions(db, stop)).imported).toBe(1);
    await liftAddressSuppression(db, 'sms', '+14155550199', new Date('2024-06-01T00:00:00Z'));
    expect(await importSuppressions(db, stop)).toEqual({ imported: 0, unchanged: 1, errors: [] });
    expect(await importSuppressions(db, rows({ phone: '+14155550199', reason: 'stop' }))).toMatchObject({
      imported: 0,
    });
    expect(await addressSuppression(db, 'sms', '+14155550199')).toBeUndefined();
    // A STOP dated after the START suppresses again.
    expect(
      (await importSuppressions(db, rows({ phone: '+14155550199', reason: 'stop', at: '2024-07-01' }))).imported,
    ).toBe(1);
    expect(await addressSuppression(db, 'sms', '+14155550199')).toBe('stop');
  });
});
