/**
 * `npm run faults`: faults injected into the real stack, and what became of every event and message.
 *
 * Each fault runs on its own stack: the time-skipping Temporal server, Rapport's worker, API and
 * router, a real SMTP server on loopback (smtp-server) and the Twilio stand-in (Twilio's REST shape,
 * reached through the real `twilio` SDK). A batch of customers each sends one event that enrolls
 * them in a journey with one send; the fault is queued at the provider for the first sends. Once
 * every journey has ended, the reconciler runs, and the report counts per fault: events accepted and
 * routed, messages intended, delivered, duplicated, failed for good and ambiguous (recorded
 * `unknown`, the window no protocol closes), and enrollments stuck. The goal: 0 lost, 0 duplicated,
 * 0 stuck; the command fails when one is missed.
 *
 *   npm run faults                  # every fault, 100 customers each
 *   npm run faults -- --quick       # 6 customers each (CI runs this)
 *   npm run faults -- --only smtp-421,twilio-429
 *
 * Writes faults/results/<full|quick>.json; faults/README.md has the figures and what is not covered.
 */
import fs from 'node:fs';
import path from 'node:path';
import pino from 'pino';
import { sql } from 'kysely';
import { reconcile } from '../client/server/events/reconcile';
import { timeSkippingEnv } from '../client/tools/testing/environment';
import { startTestStack, type TestStack } from '../client/tools/testing/stack';
import { projectRoot } from '../paths';
import { startPostgres } from '../test/helpers/postgres';
import { startSmtpSink, type SmtpSink } from '../test/helpers/smtp-sink';
import { startTwilioStandIn, type TwilioStandIn } from '../test/helpers/twilio-standin';
import { KILL_FAULTS, runKill, withKillStack } from './kill';
import type { Row } from './row';
import { startTlsBreaker } from './tls-breaker';

/** The providers' clients give up after this; a provider stalled longer leaves the send ambiguous. */
const CLIENT_TIMEOUT_MS = 2_000;

type Channel = 'email' | 'sms';
type SmtpFault = SmtpSink['faults'][number];
type TwilioFault = TwilioStandIn['faults'][number];

interface Fault {
  name: string;
  what: string;
  channel: Channel;
  /** The faults queued at the provider, for `n` customers. */
  smtp?: (n: number) => SmtpFault[];
  twilio?: (n: number) => TwilioFault[];
  /** Run on a PostgreSQL server of its own, stopped and started again during the load. */
  database?: boolean;
  /** SMTP connections whose STARTTLS upgrade fails (faults/tls-breaker.ts), for `n` customers. */
  tlsBroken?: (n: number) => number;
}

const times = <T>(k: number, f: T): T[] => Array.from({ length: k }, () => f);
const third = (n: number) => Math.max(1, Math.floor(n / 3));

const FAULTS: Fault[] = [
  {
    name: 'smtp-421',
    what: 'SMTP 421 (service closing) on MAIL FROM',
    channel: 'email',
    smtp: (n) => times(third(n), { refuse: 421 }),
  },
  {
    name: 'smtp-451',
    what: 'SMTP 451 (try again later) on MAIL FROM',
    channel: 'email',
    smtp: (n) => times(third(n), { refuse: 451 }),
  },
  {
    name: 'smtp-550',
    what: 'SMTP 550-553 (mailbox unavailable, permanent) on RCPT TO',
    channel: 'email',
    smtp: (n) =>
      Array.from({ length: third(n) }, (_, i) => ({ refuse: [550, 551, 552, 553][i % 4]!, at: 'rcpt' as const })),
  },
  {
    name: 'smtp-drop',
    what: 'the connection dropped at MAIL FROM, before any data',
    channel: 'email',
    smtp: (n) => times(third(n), { drop: true }),
  },
  {
    name: 'smtp-drop-after-data',
    what: 'the connection dropped after DATA, before the reply: the server has the message',
    channel: 'email',
    smtp: (n) => times(third(n), { dropAfterData: true }),
  },
  {
    name: 'smtp-stall',
    what: 'the server takes the message and stalls 30 s before replying',
    channel: 'email',
    smtp: (n) => times(third(n), { replyAfterMs: 30_000 }),
  },
  {
    name: 'smtp-tls',
    what: 'the STARTTLS upgrade fails (not a TLS handshake) on the first connections',
    channel: 'email',
    tlsBroken: (n) => third(n),
  },
  {
    name: 'database-restart',
    what: 'PostgreSQL stopped at once (as a crash) during the load, started again 3 s later',
    channel: 'email',
    database: true,
  },
  {
    name: 'twilio-429',
    what: 'Twilio 429 Too Many Requests with Retry-After',
    channel: 'sms',
    twilio: (n) => times(third(n), { status: 429, retryAfterSeconds: 2 }),
  },
  {
    name: 'twilio-500',
    what: 'Twilio 500',
    channel: 'sms',
    twilio: (n) => times(third(n), { status: 500 }),
  },
  {
    name: 'twilio-timeout',
    what: 'Twilio creates the message and answers after the client gave up',
    channel: 'sms',
    twilio: (n) => times(third(n), { replyAfterMs: CLIENT_TIMEOUT_MS + 3_000 }),
  },
  {
    name: 'twilio-lost',
    what: 'the request is lost on the way: nothing created, a 503 after the client gave up',
    channel: 'sms',
    twilio: (n) => times(third(n), { lostAfterMs: CLIENT_TIMEOUT_MS + 1_000 }),
  },
  {
    name: 'twilio-malformed',
    what: 'Twilio creates the message and answers 201 with a body that is not JSON',
    channel: 'sms',
    twilio: (n) => times(third(n), { malformed: true }),
  },
];

const JOURNEYS = {
  'fault-email.yaml': `
journey: fault-email
name: Fault check, email
category: transactional
trigger: { event: fault.email }
steps:
  - { id: note, type: send, channel: email, subject: "Your receipt", text: "Thank you, {{ customer.firstName }}." }
`,
  'fault-sms.yaml': `
journey: fault-sms
name: Fault check, SMS
category: transactional
trigger: { event: fault.sms }
steps:
  - { id: note, type: send, channel: sms, text: "Thank you, {{ customer.firstName }}." }
`,
};

async function runFault(fault: Fault, n: number): Promise<Row> {
  const started = performance.now();
  const env = await timeSkippingEnv();
  const sink = await startSmtpSink();
  const standIn = await startTwilioStandIn();
  // As PostgreSQL runs in production: a commit is on disk before it is acknowledged.
  const postgres = fault.database ? await startPostgres({ durable: true }) : undefined;
  const tls = fault.tlsBroken ? await startTlsBreaker(sink.url, fault.tlsBroken(n)) : undefined;
  let stack: TestStack | undefined;
  try {
    stack = await startTestStack(env, {
      ...(postgres ? { databaseUrl: postgres.url } : {}),
      journeysDirs: [],
      smtpUrl: tls?.url ?? sink.url,
      smtpTimeoutMs: CLIENT_TIMEOUT_MS,
      twilio: { ...standIn, timeoutMs: CLIENT_TIMEOUT_MS },
      // FAULTS_LOG_LEVEL=info shows what Rapport logs while the fault is on.
      logger: pino({ level: process.env.FAULTS_LOG_LEVEL ?? 'silent' }),
    });
    await stack.publish(JOURNEYS);
    sink.faults.push(...(fault.smtp?.(n) ?? []));
    standIn.faults.push(...(fault.twilio?.(n) ?? []));

    const run = Date.now().toString(36);
    // A fresh customer database per fault: the addresses need only differ within it.
    const address = (i: number) =>
      fault.channel === 'email' ? `c${i}@example.com` : `+1415555${String(i).padStart(4, '0')}`;
    let accepted = 0;
    const acceptedIds: string[] = [];
    let unavailable = 0;
    // The database fault: the server stops at once, a third of the way through, and comes back 3 s later.
    let outage: Promise<void> | undefined;
    for (let i = 0; i < n; i++) {
      if (fault.database && i === third(n)) outage = postgres!.restart(3_000);
      const event = {
        id: `${fault.name}-${run}-${i}`,
        type: `fault.${fault.channel}`,
        customer: fault.channel === 'email' ? { email: address(i) } : { phone: address(i) },
        profile: { firstName: `Customer ${i}` },
      };
      // As a sending system would: the same event again, after a pause, while the answer is 503.
      for (let attempt = 1; attempt <= 300; attempt++) {
        const res = await stack.api.inject({ method: 'POST', url: '/v1/events?wait=routed', payload: event });
        if (res.statusCode === 202) {
          accepted += 1;
          acceptedIds.push(event.id);
          break;
        }
        if (res.statusCode !== 503) throw new Error(`event ${event.id}: ${res.statusCode} ${res.body}`);
        unavailable += 1;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    await outage;
    // Events accepted and not routed yet (their routing met the fault) wait for the router's next
    // try, up to a minute away; here they are routed at once, until none is left.
    for (let round = 0; round < 20; round++) {
      const left = await stack.db
        .selectFrom('events')
        .select('id')
        .where('routed_at', 'is', null)
        .orderBy('seq')
        .execute();
      if (left.length === 0) break;
      for (const { id } of left) await stack.intake.routeOrDefer(id).catch(() => undefined);
    }
    const workflows = (await stack.db.selectFrom('enrollments').select('workflow_id').execute()).map(
      (e) => e.workflow_id,
    );
    // Every journey to its end: the time-skipping server lets the activities' retry backoffs pass
    // while a result is awaited. One at a time: the test server's time-skipping lock does not keep
    // count under concurrent waits.
    for (const id of workflows) {
      await stack.temporal.workflow
        .getHandle(id)
        .result()
        .catch(() => undefined);
    }
    await reconcile(
      { db: stack.db, temporal: stack.plainTemporal, logger: pino({ level: 'silent' }) },
      { minAgeMs: 0 },
    );

    const routed = await sql<{ n: string }>`select count(*) as n from events where routed_at is not null`.execute(
      stack.db,
    );
    if (process.env.FAULTS_DEBUG) {
      const rows = await stack.db
        .selectFrom('events')
        .select(['id', 'routed_at', 'parked_at', 'route_error', 'route_attempts'])
        .execute();
      const kept = new Map(rows.map((r) => [r.id, r]));
      for (const id of acceptedIds)
        if (!kept.get(id)?.routed_at)
          process.stderr.write(`not routed: ${id} ${JSON.stringify(kept.get(id) ?? 'missing')}\n`);
    }
    const ledger = await sql<{
      state: string;
      n: string;
    }>`select state, count(*) as n from send_ledger group by state`.execute(stack.db);
    const byState = new Map(ledger.rows.map((r) => [r.state, Number(r.n)]));
    const unknownKeys = await stack.db
      .selectFrom('send_ledger')
      .select('customer_id')
      .where('state', '=', 'unknown')
      .execute();
    const stuck = await sql<{ n: string }>`select count(*) as n from enrollments where status = 'active'`.execute(
      stack.db,
    );
    // What each address received at the provider.
    const received = new Map<string, number>();
    const count = (to: string) => received.set(to, (received.get(to) ?? 0) + 1);
    if (fault.channel === 'email') {
      for (const m of sink.received) {
        const to = Array.isArray(m.to) ? m.to[0] : m.to;
        count(to?.value[0]?.address ?? '');
      }
    } else for (const m of standIn.messages) count(m.to);
    const addresses = Array.from({ length: n }, (_, i) => address(i));
    const delivered = addresses.filter((a) => (received.get(a) ?? 0) > 0).length;
    const duplicated = addresses.filter((a) => (received.get(a) ?? 0) > 1).length;
    const unknownCustomers = new Set(unknownKeys.map((u) => u.customer_id));
    const customersByAddress = await stack.db.selectFrom('customers').select(['id', 'email', 'phone']).execute();
    const ambiguousDelivered = customersByAddress.filter(
      (c) =>
        unknownCustomers.has(c.id) && (received.get((fault.channel === 'email' ? c.email : c.phone) ?? '') ?? 0) > 0,
    ).length;
    const problems: string[] = [];
    if (tls && fault.tlsBroken && tls.broken < fault.tlsBroken(n)) {
      problems.push(`${tls.broken} connections broken of ${fault.tlsBroken(n)}`);
    }
    return {
      fault: fault.name,
      customers: n,
      problems,
      accepted,
      routed: Number(routed.rows[0]?.n ?? 0),
      intended: n,
      delivered,
      duplicated,
      failed: (byState.get('failed_permanent') ?? 0) + (byState.get('failed_retryable') ?? 0),
      ambiguous: byState.get('unknown') ?? 0,
      ambiguousDelivered,
      stuck: Number(stuck.rows[0]?.n ?? 0),
      unavailable,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    };
  } finally {
    await stack?.close();
    await tls?.close();
    await sink.close();
    await standIn.close();
    await postgres?.stop();
    await env.teardown();
  }
}

/** What a row must show: nothing lost, nothing sent twice, nothing stuck, every message accounted for. */
function problemsOf(r: Row): string[] {
  const out: string[] = [...(r.problems ?? [])];
  if (r.routed !== r.accepted) out.push(`${r.accepted - r.routed} accepted events not routed`);
  if (r.duplicated > 0) out.push(`${r.duplicated} messages delivered twice`);
  if (r.stuck > 0) out.push(`${r.stuck} enrollments stuck`);
  // Each intended message is delivered, failed for good, or recorded ambiguous (and possibly delivered).
  const accounted = r.delivered + r.failed + (r.ambiguous - r.ambiguousDelivered);
  if (accounted !== r.intended) out.push(`${r.intended - accounted} messages unaccounted for`);
  return out;
}

async function main() {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const onlyArg = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
  const names = [...FAULTS.map((f) => f.name), ...KILL_FAULTS.map((f) => f.name)];
  const only = onlyArg ? onlyArg.split(',') : names;
  const unknown = only.filter((o) => !names.includes(o));
  if (unknown.length > 0) {
    process.stderr.write(`unknown fault(s) ${unknown.join(', ')}; expected ${names.join(', ')}\n`);
    process.exit(2);
  }
  const n = quick ? 6 : 100;
  const started = Date.now();
  const say = (line: string) => process.stderr.write(`[${Math.round((Date.now() - started) / 1000)} s] ${line}\n`);
  const rows: (Row & { problems: string[] })[] = [];
  for (const fault of FAULTS.filter((f) => only.includes(f.name))) {
    say(`${fault.name}: ${fault.what}`);
    const row = await runFault(fault, n);
    rows.push({ ...row, problems: problemsOf(row) });
  }
  // Rapport killed with -9 at each point: 20 times each (in quick mode, once at five of the points), on one shared stack.
  const kills = KILL_FAULTS.filter((f) => only.includes(f.name) && (onlyArg || !quick || f.quick));
  if (kills.length > 0) {
    await withKillStack(async (shared) => {
      for (const fault of kills) {
        say(`${fault.name}: ${fault.what}`);
        const row = await runKill(shared, fault.point, quick ? 1 : 20);
        rows.push({ ...row, problems: problemsOf(row) });
      }
    });
  }
  const head = [
    'fault',
    'accepted',
    'routed',
    'intended',
    'delivered',
    'duplicated',
    'failed',
    'ambiguous',
    'stuck',
    '503s',
    'kills',
    's',
  ];
  const lines = [
    head,
    ...rows.map((r) =>
      [
        r.fault,
        r.accepted,
        r.routed,
        r.intended,
        r.delivered,
        r.duplicated,
        r.failed,
        `${r.ambiguous}${r.ambiguous ? ` (${r.ambiguousDelivered} delivered)` : ''}`,
        r.stuck,
        r.unavailable,
        r.kills ?? '',
        r.seconds,
      ].map(String),
    ),
  ];
  const widths = head.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  process.stdout.write(
    lines.map((l) => l.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n') +
      '\n',
  );
  const dir = path.join(projectRoot, 'faults', 'results');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, `${quick ? 'quick' : 'full'}.json`),
    JSON.stringify({ at: new Date().toISOString(), rows }, null, 2),
  );
  const failing = rows.filter((r) => r.problems.length > 0);
  for (const r of failing) process.stderr.write(`${r.fault}: ${r.problems.join('; ')}\n`);
  process.exit(failing.length > 0 ? 1 : 0);
}

void main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
