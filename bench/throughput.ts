/**
 * Sending limits: many sends at once through the real send activity (ledger, contact policy,
 * bucket, SMTP) to a loopback SMTP server, from two workers with database pools of their own on one
 * PostgreSQL (one in-memory PGlite with --quick), under a limit of R messages a second for their sender. A refused send is retried as
 * Temporal would: after the `nextRetryDelay` it asked for. Reports the rate the server received
 * against the configured one, and how often the provider refused (it should never).
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import pino from 'pino';
import { createMailer, type Mailer } from '../activities/channels/email';
import { createOutboxSmsSender } from '../activities/channels/sms';
import { migrate, openDatabase } from '../activities/db/database';
import { createMessaging, type SendOutcome, type SendRequest } from '../activities/messaging';
import { createSendLimiter, parseSendRates } from '../activities/send-rate';
import { upsertCustomer } from '../activities/store/customers';
import { startPostgres } from '../test/helpers/postgres';
import { startSmtpSink } from '../test/helpers/smtp-sink';
import type { BenchContext, Figure } from './common';
import { round } from './common';

const FROM = 'news@bench.example';

/** Activities a Temporal worker runs at once: its default. A retry waits outside, as on the server. */
const ACTIVITY_SLOTS = 100;

/** Runs at most `size` tasks at once, the others in turn. */
function slots(size: number) {
  let busy = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (busy >= size) await new Promise<void>((resolve) => waiting.push(resolve));
    else busy++;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else busy--;
    }
  };
}

export async function throughputBench(ctx: BenchContext): Promise<Figure[]> {
  // BENCH_SENDS and BENCH_SEND_RATE size a bigger campaign, such as 50,000 at 250/s.
  const n = Number(process.env.BENCH_SENDS) || ctx.n(1000, 60);
  const perSecond = Number(process.env.BENCH_SEND_RATE) || ctx.n(50, 20);
  const rates = parseSendRates(`email:${FROM}=${perSecond}/s`);
  if (typeof rates === 'string') throw new Error(rates);
  // Quick: both workers on one in-memory PGlite, in seconds; full: PostgreSQL, a pool each.
  const postgres = ctx.quick ? undefined : await startPostgres();
  const sink = await startSmtpSink();
  const first = await openDatabase({ url: postgres?.url });
  const databases = [first, postgres ? await openDatabase({ url: postgres.url }) : first];
  const quiet = new DefaultLogger('ERROR', () => undefined);
  const mailers: Mailer[] = [];
  try {
    await migrate(databases[0]!.db);
    ctx.progress(`throughput: ${n} customers`);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push((await upsertCustomer(databases[0]!.db, { email: `rate${i}@example.com` }, {})).customer.id);
      if ((i + 1) % 10_000 === 0) ctx.progress(`throughput: ${i + 1} of ${n} customers`);
    }
    const workers = databases.map((database) => ({
      slots: slots(ACTIVITY_SLOTS),
      ...createMessaging({
        db: database.db,
        mailer: mailers[mailers.push(createMailer({ smtpUrl: sink.url, outboxDir: '/nonexistent' })) - 1]!,
        sms: createOutboxSmsSender('/nonexistent'),
        mailFrom: FROM,
        logger: pino({ level: 'silent' }),
        sendRate: createSendLimiter(database.db, rates),
      }),
    }));
    let refusedByLimit = 0;
    let providerFailures = 0;
    /** One send, retried as Temporal retries the activity: after the delay it asked for. */
    const send = async (i: number): Promise<SendOutcome> => {
      const now = new Date().toISOString();
      const req: SendRequest = {
        keyBase: `send:bench-${i}:note:0`,
        customerId: ids[i]!,
        journeyId: 'bench',
        version: 1,
        category: 'transactional',
        stepId: 'note',
        channel: 'email',
        email: { subject: 'A note', text: 'Sent within the limit.' },
        event: { id: `e${i}`, type: 'bench.start', occurredAt: now, data: {} },
        events: {},
        tasks: {},
        enrolledAt: now,
        at: now,
      };
      for (let attempt = 1; ; attempt++) {
        try {
          const env = new MockActivityEnvironment({ attempt }, { logger: quiet });
          const worker = workers[i % workers.length]!;
          return await worker.slots(() => env.run(worker.sendMessage, req));
        } catch (err) {
          if (!(err instanceof ApplicationFailure) || err.type !== 'SendRateLimited') {
            providerFailures++;
            throw err;
          }
          refusedByLimit++;
          const delay = Number(err.nextRetryDelay ?? 1000);
          await new Promise((resolve) => setTimeout(resolve, delay));
        }
      }
    };
    ctx.progress(`throughput: ${n} sends at once, limited to ${perSecond}/s`);
    const started = Date.now();
    const outcomes = await Promise.all(ids.map((_, i) => send(i)));
    const elapsed = (Date.now() - started) / 1000;
    const sent = outcomes.filter((o) => o.status === 'sent').length;
    if (sent !== n) throw new Error(`throughput: ${sent} of ${n} sent`);
    await sink.waitFor(n);
    // The first second's burst aside (the bucket starts full), the rate the server saw.
    const arrivals = [...sink.arrivedAt].sort((a, b) => a - b);
    const burst = Math.max(1, Math.floor(perSecond));
    const steady = (n - burst) / ((arrivals[n - 1]! - arrivals[0]!) / 1000);
    // The most messages the server got in any one second, burst included.
    let peak = 0;
    for (let i = 0, j = 0; j < arrivals.length; j++) {
      while (arrivals[j]! - arrivals[i]! >= 1000) i++;
      peak = Math.max(peak, j - i + 1);
    }
    return [
      {
        benchmark: 'throughput',
        name: 'configured rate',
        value: perSecond,
        unit: 'per s',
        note: `${n} sends at once, 2 workers of ${ACTIVITY_SLOTS} activity slots on ${postgres ? 'PostgreSQL' : 'PGlite'}`,
      },
      { benchmark: 'throughput', name: 'achieved rate after the burst', value: round(steady), unit: 'per s' },
      { benchmark: 'throughput', name: 'most in any second', value: peak, unit: 'messages', note: `burst ${burst}` },
      { benchmark: 'throughput', name: 'drain time', value: round(elapsed), unit: 's' },
      {
        benchmark: 'throughput',
        name: 'retries asked by the limit',
        value: round(refusedByLimit / n, 2),
        unit: 'per send',
      },
      { benchmark: 'throughput', name: 'provider refusals', value: providerFailures, unit: 'sends' },
    ];
  } finally {
    for (const mailer of mailers) mailer.close();
    for (const database of new Set(databases)) await database.close();
    await sink.close();
    await postgres?.stop();
  }
}
