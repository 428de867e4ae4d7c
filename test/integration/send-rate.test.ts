/**
 * The sending limits' token bucket, on PGlite and on PostgreSQL: refill by elapsed time, bursts up
 * to the capacity, a short reserve, and concurrent takers (two connections on PostgreSQL) that
 * never get more tokens than the rate allows.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { createOutboxSmsSender } from '../../activities/channels/sms';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { createMessaging, type SendOutcome, type SendRequest } from '../../activities/messaging';
import { upsertCustomer } from '../../activities/store/customers';
import { OUTBOUND_MAX_ATTEMPTS } from '../../definitions/retry';
import { createSendLimiter, parseSendRates, retryDelayMs, takeToken, type SendRate } from '../../activities/send-rate';
import { startPostgres, type Postgres } from '../helpers/postgres';

const rate = (perSecond: number): SendRate => ({
  perSecond,
  capacity: Math.max(1, Math.floor(perSecond)),
  text: `${perSecond}/s`,
});

const T0 = 1_800_000_000_000;

function bucketTests(name: string, open: () => Promise<OpenDatabase>, concurrentTakers: () => OpenDatabase[]) {
  describe(name, () => {
    let database: OpenDatabase;
    beforeAll(async () => {
      database = await open();
    });

    test('a full bucket gives its capacity at once, then one token per interval as time passes', async () => {
      const db = database.db;
      const fast = rate(5);
      // Five at once: the burst.
      for (let i = 0; i < 5; i++) {
        expect(await takeToken(db, 'email:burst', fast, 0, T0)).toEqual({ granted: true, waitMs: 0 });
      }
      // The sixth is due in 200 ms: refused without a reserve, told when to ask again.
      expect(await takeToken(db, 'email:burst', fast, 0, T0)).toEqual({ granted: false, retryInMs: 200 });
      // 199 ms on: still not.
      expect((await takeToken(db, 'email:burst', fast, 0, T0 + 199)).granted).toBe(false);
      // 200 ms on: one token, and only one.
      expect(await takeToken(db, 'email:burst', fast, 0, T0 + 200)).toEqual({ granted: true, waitMs: 0 });
      expect((await takeToken(db, 'email:burst', fast, 0, T0 + 200)).granted).toBe(false);
      // A second later the bucket is full again, never fuller: five, not more.
      const later = [];
      for (let i = 0; i < 6; i++) later.push((await takeToken(db, 'email:burst', fast, 0, T0 + 60_000)).granted);
      expect(later).toEqual([true, true, true, true, true, false]);
    });

    test('within the reserve a taker holds its place and is told how long to wait', async () => {
      const db = database.db;
      const one = rate(1);
      const takes = [];
      for (let i = 0; i < 4; i++) takes.push(await takeToken(db, 'sms:+15005550006', one, 2_000, T0));
      expect(takes).toEqual([
        { granted: true, waitMs: 0 },
        { granted: true, waitMs: 1000 },
        { granted: true, waitMs: 2000 },
        // Its token would be due in 3 s: asked again in 1 s, it is within the reserve.
        { granted: false, retryInMs: 1000 },
      ]);
      // Buckets are apart: another sender is not held up.
      expect(await takeToken(db, 'sms:+15005550007', one, 2_000, T0)).toEqual({ granted: true, waitMs: 0 });
    });

    test('concurrent takers never get more than the capacity and the refill allow', async () => {
      const per = rate(10);
      // 200 takers at one instant, spread over the connections: ten tokens, the capacity.
      const dbs = concurrentTakers();
      const takes = await Promise.all(
        Array.from({ length: 200 }, (_, i) => takeToken(dbs[i % dbs.length]!.db, 'email:crowd', per, 0, T0)),
      );
      expect(takes.filter((t) => t.granted)).toHaveLength(10);
      // Half a second after it was empty the bucket is full again (its capacity of 10, not the 15
      // that elapsed time would give), and with a reserve of 1 s, 10 more are reserved: 20.
      const next = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          takeToken(dbs[i % dbs.length]!.db, 'email:crowd', per, 1_000, T0 + 1_500),
        ),
      );
      const granted = next.filter((t) => t.granted);
      expect(granted).toHaveLength(20);
      // Each waits for a token of its own: no two are due at the same moment.
      const due = granted.map((t) => (t.granted ? t.waitMs : -1)).sort((a, b) => a - b);
      expect(new Set(due.filter((w) => w > 0)).size).toBe(due.filter((w) => w > 0).length);
      expect(Math.max(...due)).toBeLessThanOrEqual(1_000);
    });

    test('the limiter finds the sender’s own limit, else its channel’s, else none', async () => {
      const rates = parseSendRates('sms=1/s, email:news@acme.example=1/min');
      if (typeof rates === 'string') throw new Error(rates);
      const limiter = createSendLimiter(database.db, rates);
      expect(await limiter.take('email', 'Support <help@acme.example>')).toBeUndefined();
      const news = await limiter.take('email', 'Acme News <NEWS@acme.example>');
      expect(news).toMatchObject({ granted: true, key: 'email:news@acme.example' });
      // A minute's interval: the next is far beyond the reserve, and told so.
      const again = await limiter.take('email', 'news@acme.example');
      expect(again?.granted).toBe(false);
      expect(again && !again.granted && again.retryInMs).toBeGreaterThan(50_000);
      expect(await limiter.take('sms', 'MG0123')).toMatchObject({ granted: true, key: 'sms:MG0123' });
    });
  });
}

describe('the token bucket', () => {
  let pglite: OpenDatabase | undefined;
  bucketTests(
    'on PGlite',
    async () => {
      pglite = await openDatabase({});
      await migrate(pglite.db);
      return pglite;
    },
    () => [pglite!],
  );
  afterAll(async () => {
    await pglite?.close();
  });

  let postgres: Postgres | undefined;
  const pg: OpenDatabase[] = [];
  bucketTests(
    'on PostgreSQL',
    async () => {
      postgres = await startPostgres();
      // Two databases handles, as two processes would have: each its own pool of connections.
      for (let i = 0; i < 2; i++) pg.push(await openDatabase({ url: postgres.url }));
      await migrate(pg[0]!.db);
      return pg[0]!;
    },
    () => pg,
  );
  afterAll(async () => {
    for (const d of pg) await d.close();
    await postgres?.stop();
  });
});

test('a refused send comes back when a token can be had, spread wider with each attempt', () => {
  expect(retryDelayMs(1000, 1, 0)).toBe(1000);
  expect(retryDelayMs(1000, 1, 1)).toBe(3000);
  expect(retryDelayMs(1000, 4, 1)).toBe(9000);
  // Never sooner than the token, whatever the draw.
  for (let i = 0; i < 100; i++) expect(retryDelayMs(250, 3)).toBeGreaterThanOrEqual(250);
});

describe('the send activity under a sending limit', () => {
  let database: OpenDatabase;
  const handed: string[] = [];
  beforeAll(async () => {
    database = await openDatabase({});
    await migrate(database.db);
  });
  afterAll(async () => {
    await database?.close();
  });

  const messaging = () => {
    const rates = parseSendRates('email:news@acme.example=1/min');
    if (typeof rates === 'string') throw new Error(rates);
    return createMessaging({
      db: database.db,
      mailer: {
        destination: 'test',
        send: (m) => {
          handed.push(m.to);
          return Promise.resolve({ response: '250 ok' });
        },
        close: () => undefined,
      },
      sms: createOutboxSmsSender('/nonexistent'),
      mailFrom: 'Acme <news@acme.example>',
      logger: pino({ level: 'silent' }),
      sendRate: createSendLimiter(database.db, rates),
    });
  };
  const request = async (i: number): Promise<SendRequest> => {
    const { customer } = await upsertCustomer(database.db, { email: `limited${i}@example.com` }, {});
    const now = new Date().toISOString();
    return {
      keyBase: `send:limited-${i}:note:0`,
      customerId: customer.id,
      journeyId: 'note',
      version: 1,
      category: 'transactional',
      stepId: 'note',
      channel: 'email',
      email: { subject: 'A note', text: 'Hello.' },
      event: { id: `e${i}`, type: 'note.start', occurredAt: now, data: {} },
      events: {},
      tasks: {},
      enrolledAt: now,
      at: now,
    };
  };

  test('a send past the limit is retried when a token frees, its key freed; near the last attempt it is deferred', async () => {
    const send = messaging().sendMessage;
    expect(await new MockActivityEnvironment().run(send, await request(1))).toMatchObject({ status: 'sent' });
    const second = await request(2);
    const refused = await new MockActivityEnvironment({ attempt: 1 }).run(send, second).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ApplicationFailure);
    const failure = refused as ApplicationFailure;
    expect(failure.type).toBe('SendRateLimited');
    expect(failure.nonRetryable).toBe(false);
    // The token is a minute away (less the 2 s reserve): not sooner.
    expect(Number(failure.nextRetryDelay)).toBeGreaterThanOrEqual(50_000);
    const ledger = await database.db
      .selectFrom('send_ledger')
      .select(['state', 'phase'])
      .where('send_key', '=', `${second.keyBase}:email`)
      .executeTakeFirstOrThrow();
    // Freed, and not in flight: the retry claims it again and nothing is unknown.
    expect(ledger).toEqual({ state: 'failed_retryable', phase: null });
    const late: SendOutcome = await new MockActivityEnvironment({ attempt: OUTBOUND_MAX_ATTEMPTS - 1 }).run(
      send,
      second,
    );
    expect(late).toMatchObject({ status: 'deferred', channel: 'email' });
    expect(Date.parse(late.until!)).toBeGreaterThan(Date.now() + 50_000);
    expect(handed).toEqual(['limited1@example.com']);
  });
});
