/**
 * The customer database, the same tests on both engines: the embedded PGlite and a real PostgreSQL
 * server (started by the test on loopback).
 */
import { sql } from 'kysely';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { clusterLocks } from '../../activities/db/locks';
import { findCustomer, mergeCustomers, upsertCustomer } from '../../activities/store/customers';
import { allConsent, recordConsent } from '../../activities/store/consent';
import { customerFacts, customerMetrics } from '../../activities/store/facts';
import { publishVersion, latestVersions, setJourneyStatus } from '../../activities/store/journeys';
import { claimSend, markInFlight, recordOutcome } from '../../activities/store/ledger';
import { recordOrder } from '../../activities/store/orders';
import { appendTimeline, listTimeline } from '../../activities/store/timeline';
import { completeTask } from '../../activities/store/tasks';
import { listAudit, recordAudit } from '../../activities/store/audit';
import type { JourneyPlan } from '../../definitions/schema/journey';
import { eventually } from '../helpers/eventually';
import { startPostgres, type Postgres } from '../helpers/postgres';

let postgres: Postgres;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

describe.each([
  ['PGlite', () => undefined],
  ['PostgreSQL', () => postgres.url],
])('%s', (_engine, url) => {
  let database: OpenDatabase;
  beforeAll(async () => {
    database = await openDatabase({ url: url() });
    await migrate(database.db);
  });
  afterAll(async () => {
    await database?.close();
  });

  test('migrations apply once: a second run applies nothing', async () => {
    expect(await migrate(database.db)).toEqual([]);
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = 'public' order by table_name`.execute(
      database.db,
    );
    expect(tables.rows.map((r) => r.table_name)).toEqual(
      expect.arrayContaining([
        'customers',
        'enrollments',
        'events',
        'journey_versions',
        'journeys',
        'order_lines',
        'orders',
        'send_ledger',
        'tasks',
        'timeline',
      ]),
    );
  });

  test('a customer is found by email (any case) or phone, and profile fields update them', async () => {
    const { customer, created } = await upsertCustomer(
      database.db,
      { email: 'Ann@Example.com' },
      { firstName: 'Ann', timezone: 'Europe/Oslo' },
    );
    expect(created).toBe(true);
    expect(customer).toMatchObject({
      email: 'ann@example.com',
      first_name: 'Ann',
      timezone: 'Europe/Oslo',
      lifecycle_stage: 'prospect',
      tags: [],
      attributes: {},
    });
    const again = await upsertCustomer(
      database.db,
      { email: 'ann@example.com' },
      { phone: '+4790000001', attributes: { plan: 'pro' } },
    );
    expect(again).toMatchObject({
      created: false,
      customer: { id: customer.id, phone: '+4790000001', attributes: { plan: 'pro' } },
    });
    expect((await findCustomer(database.db, { phone: '+4790000001' }))?.id).toBe(customer.id);
    await expect(upsertCustomer(database.db, { id: 'cus_missing' })).rejects.toThrow('no customer with id cus_missing');
  });

  test('the timeline keeps entries in time order, and a repeated entry (same kind and ref) once', async () => {
    const { customer } = await upsertCustomer(database.db, { email: 'tim@example.com' });
    await appendTimeline(database.db, {
      customerId: customer.id,
      at: '2026-01-02T00:00:00Z',
      kind: 'message',
      summary: 'second',
      ref: 'k2',
    });
    await appendTimeline(database.db, {
      customerId: customer.id,
      at: '2026-01-01T00:00:00Z',
      kind: 'event',
      summary: 'first',
      ref: 'k1',
      data: { n: [1, 2] },
    });
    await appendTimeline(database.db, {
      customerId: customer.id,
      at: '2026-01-02T00:00:00Z',
      kind: 'message',
      summary: 'second again',
      ref: 'k2',
    });
    const items = await listTimeline(database.db, customer.id);
    expect(items.map((i) => [i.at, i.kind, i.summary])).toEqual([
      ['2026-01-01T00:00:00.000Z', 'event', 'first'],
      ['2026-01-02T00:00:00.000Z', 'message', 'second'],
    ]);
    expect(items[0]!.data).toEqual({ n: [1, 2] });
  });

  test('orders keep the metrics current, set the lifecycle stage, and feed recommendations', async () => {
    const { customer: a } = await upsertCustomer(database.db, { email: 'buyer@example.com' });
    const { customer: peer } = await upsertCustomer(database.db, { email: 'peer@example.com' });
    await recordOrder(
      database.db,
      peer.id,
      'e-p',
      {
        orderId: 'DB-P1',
        total: 20,
        lines: [
          { product: 'x', category: 'jazz', price: 10 },
          { product: 'y', category: 'blues', price: 10 },
        ],
      },
      '2026-01-01T00:00:00Z',
    );
    expect(
      await recordOrder(
        database.db,
        a.id,
        'e-1',
        { orderId: 'DB-1', total: 12.5, lines: [{ product: 'z', category: 'jazz', quantity: 2, price: 6.25 }] },
        '2026-02-01T10:00:00Z',
      ),
    ).toBe(true);
    expect(await recordOrder(database.db, a.id, 'e-1', { orderId: 'DB-1', total: 12.5 }, '2026-02-01T10:00:00Z')).toBe(
      false,
    );
    expect((await findCustomer(database.db, { id: a.id }))?.lifecycle_stage).toBe('new_customer');
    expect(await customerMetrics(database.db, a.id)).toEqual({
      orderCount: 1,
      lifetimeValue: 12.5,
      firstOrderAt: '2026-02-01T10:00:00.000Z',
      lastOrderAt: '2026-02-01T10:00:00.000Z',
      categories: ['jazz'],
      recommendedCategory: 'blues',
      profit: null,
      margin: null,
      affinity: [{ category: 'jazz', share: 1 }],
      topCategory: 'jazz',
      // Nobody else bought z: the most bought other products fill in (equal, so by name).
      recommendations: ['x', 'y'],
    });
    await recordOrder(database.db, a.id, 'e-2', { orderId: 'DB-2', total: 7.25 }, '2026-03-01T10:00:00Z');
    const facts = await customerFacts(database.db, (await findCustomer(database.db, { id: a.id }))!);
    expect(facts).toMatchObject({
      lifecycleStage: 'repeat_customer',
      metrics: { orderCount: 2, lifetimeValue: 19.75, lastOrderAt: '2026-03-01T10:00:00.000Z' },
    });
    // The facts read their parts in one statement, as JSON: the same figures as the reads one by one.
    expect(facts.metrics).toEqual(await customerMetrics(database.db, a.id));
    expect(facts.consent).toEqual(await allConsent(database.db, a.id));
  });

  test('publishing: versions count up, unchanged content is a no-op, a paused journey is marked', async () => {
    const plan = (hash: string, name: string): JourneyPlan => ({
      definition: {
        journey: 'db-journey',
        name,
        category: 'service',
        trigger: { event: 'x.y' },
        steps: [{ id: 'a', type: 'exit' }],
      },
      templates: {},
      contentHash: hash,
    });
    expect(await publishVersion(database.db, plan('a'.repeat(64), 'One'), 'src', null)).toEqual({
      version: 1,
      created: true,
    });
    expect(await publishVersion(database.db, plan('a'.repeat(64), 'One'), 'src', null)).toEqual({
      version: 1,
      created: false,
    });
    expect(await publishVersion(database.db, plan('b'.repeat(64), 'Two'), 'src', null)).toEqual({
      version: 2,
      created: true,
    });
    await setJourneyStatus(database.db, 'db-journey', 'paused');
    const latest = (await latestVersions(database.db)).find((v) => v.journeyId === 'db-journey');
    expect(latest).toMatchObject({ version: 2, status: 'paused', plan: { definition: { name: 'Two' } } });
  });

  test('the send ledger: a key is claimed once; a finished key returns its outcome; an interrupted one is in flight', async () => {
    const row = {
      sendKey: 'send:e:s:0:email',
      customerId: 'c',
      workflowId: 'w',
      stepId: 's',
      channel: 'email' as const,
    };
    expect(await claimSend(database.db, row)).toEqual({ kind: 'claimed', attempt: 1 });
    expect(await claimSend(database.db, row)).toEqual({ kind: 'claimed', attempt: 2 });
    await markInFlight(database.db, row.sendKey);
    expect(await claimSend(database.db, row)).toMatchObject({
      kind: 'in_flight',
      attempt: 2,
      claimedAt: expect.any(Date),
    });
    await recordOutcome(database.db, row.sendKey, 'sent', { providerRef: '250 OK' });
    expect(await claimSend(database.db, row)).toEqual({
      kind: 'done',
      state: 'sent',
      providerRef: '250 OK',
      error: null,
    });
  });

  test('the one active enrollment per customer and journey is enforced by the database', async () => {
    const { customer } = await upsertCustomer(database.db, { email: 'enr@example.com' });
    const row = {
      customer_id: customer.id,
      journey_id: 'db-journey',
      version: 1,
      workflow_id: 'w',
      event_id: null,
      status: 'active' as const,
      current_step: null,
      goal_met: false,
    };
    await database.db
      .insertInto('enrollments')
      .values({ id: 'enr_1', ...row })
      .execute();
    await expect(
      database.db
        .insertInto('enrollments')
        .values({ id: 'enr_2', ...row })
        .execute(),
    ).rejects.toThrow(/duplicate key|unique/i);
    await database.db.updateTable('enrollments').set({ status: 'completed' }).where('id', '=', 'enr_1').execute();
    await database.db
      .insertInto('enrollments')
      .values({ id: 'enr_3', ...row })
      .execute();
  });

  test('a task completes once; the same outcome again changes nothing, another is refused', async () => {
    const { customer } = await upsertCustomer(database.db, { email: 'task@example.com' });
    await database.db
      .insertInto('tasks')
      .values({
        id: 'task_1',
        task_key: 'k1',
        customer_id: customer.id,
        enrollment_id: null,
        workflow_id: null,
        journey_id: 'j',
        step_id: 's',
        team: 'support',
        assignee: null,
        title: 'Call',
        description: null,
        due_at: null,
        status: 'open',
        created_at: new Date(),
      })
      .execute();
    expect(await completeTask(database.db, 'task_1', 'done', null)).toMatchObject({
      changed: true,
      task: { status: 'completed', outcome: 'done' },
    });
    expect(await completeTask(database.db, 'task_1', 'done', null)).toMatchObject({ changed: false });
    expect(await completeTask(database.db, 'task_1', 'other', null)).toMatchObject({ error: 'not_open' });
    expect(await completeTask(database.db, 'task_nope', 'done', null)).toEqual({ error: 'not_found' });
  });

  test('known by email to one system and by an external id to another: one record, one timeline', async () => {
    const db = database.db;
    const { customer: byEmail } = await upsertCustomer(db, { email: 'Joan@Example.com' }, { firstName: 'Joan' });
    await appendTimeline(db, {
      customerId: byEmail.id,
      at: '2026-03-01T00:00:00Z',
      kind: 'event',
      summary: 'newsletter signup',
      ref: 'e1',
    });
    const { customer: byCrm, created } = await upsertCustomer(
      db,
      { externalId: { system: 'crm', id: 'C-42' } },
      { lastName: 'Baez' },
    );
    expect(created).toBe(true);
    await appendTimeline(db, {
      customerId: byCrm.id,
      at: '2026-03-02T00:00:00Z',
      kind: 'event',
      summary: 'crm contact created',
      ref: 'e2',
    });
    await recordOrder(db, byCrm.id, 'e3', { orderId: 'ID-1', total: 30 }, '2026-03-03T00:00:00Z');

    // An event naming both identities shows they are one person.
    const both = await upsertCustomer(db, { email: 'joan@example.com', externalId: { system: 'crm', id: 'C-42' } });
    expect(both.customer.id).toBe(byEmail.id);
    expect(both.merged).toEqual([byCrm.id]);
    expect(both.customer).toMatchObject({ first_name: 'Joan', last_name: 'Baez', email: 'joan@example.com' });

    expect((await findCustomer(db, { externalId: { system: 'crm', id: 'C-42' } }))?.id).toBe(byEmail.id);
    expect((await findCustomer(db, { id: byCrm.id }))?.id).toBe(byEmail.id);
    const timeline = await listTimeline(db, byEmail.id);
    expect(timeline.map((t) => t.summary)).toEqual([
      'newsletter signup',
      'crm contact created',
      expect.stringMatching(new RegExp(`^merged customer ${byCrm.id} into this record`)),
    ]);
    expect(await listTimeline(db, byCrm.id)).toEqual([]);
    expect((await customerMetrics(db, byEmail.id)).orderCount).toBe(1);
    // Later events by either identity find the one record.
    expect((await upsertCustomer(db, { externalId: { system: 'crm', id: 'C-42' } })).customer.id).toBe(byEmail.id);
  });

  test('a merge keeps the most recent consent of each channel and purpose', async () => {
    const db = database.db;
    const { customer: a } = await upsertCustomer(db, { email: 'ma@example.com' });
    const { customer: b } = await upsertCustomer(db, { phone: '+15555550142' });
    await recordConsent(
      db,
      a.id,
      { email: { marketing: true } },
      { method: 'form', source: 'signup', at: '2026-01-01T00:00:00Z' },
    );
    await recordConsent(
      db,
      b.id,
      { email: { marketing: false } },
      { method: 'link', source: 'unsubscribe', at: '2026-02-01T00:00:00Z' },
    );
    await recordConsent(
      db,
      b.id,
      { sms: { marketing: true } },
      { method: 'keyword', source: 'JOIN', at: '2026-02-02T00:00:00Z' },
    );
    await mergeCustomers(db, a.id, b.id, 'support found a duplicate');
    expect(await allConsent(db, a.id)).toEqual({ email: { marketing: false }, sms: { marketing: true } });
    expect((await findCustomer(db, { phone: '+15555550142' }))?.id).toBe(a.id);
  });

  test('the audit log: entries are listed newest first by page and filter; the database refuses to change or remove one', async () => {
    const db = database.db;
    const ops = { name: 'ops-console', keyId: 'a1b2c3d4e5f6' };
    await recordAudit(db, { actor: ops, action: 'journey.pause', target: 'journey:audit-demo' });
    await recordAudit(db, {
      actor: { name: 'local', keyId: null },
      action: 'journey.resume',
      target: 'journey:audit-demo',
    });
    await recordAudit(db, { actor: ops, action: 'key.revoke', target: 'key:0f0f0f0f0f0f' });
    const first = await listAudit(db, { actor: ops.keyId, limit: 1 });
    expect(first.entries.map((e) => e.action)).toEqual(['key.revoke']);
    const second = await listAudit(db, { actor: ops.name, limit: 1, cursor: first.next! });
    expect(second.entries).toMatchObject([{ action: 'journey.pause', actor: 'ops-console', actorKeyId: ops.keyId }]);
    expect(second.next).toBeNull();
    const family = await listAudit(db, { action: 'journey', target: 'journey:audit-demo', limit: 10 });
    expect(family.entries.map((e) => e.action)).toEqual(['journey.resume', 'journey.pause']);
    expect((await listAudit(db, { since: new Date(Date.now() + 60_000), limit: 10 })).entries).toEqual([]);

    await expect(sql`update audit_log set actor = 'someone else'`.execute(db)).rejects.toThrow(/append-only/);
    await expect(sql`delete from audit_log where target = 'journey:audit-demo'`.execute(db)).rejects.toThrow(
      /append-only/,
    );
    await expect(sql`truncate audit_log`.execute(db)).rejects.toThrow(/append-only/);
    expect((await listAudit(db, { target: 'journey:audit-demo', limit: 10 })).entries).toHaveLength(2);
    expect((await listAudit(db, { actor: 'someone else', limit: 10 })).entries).toEqual([]);
  });
});

describe('locks across processes (PostgreSQL)', () => {
  test("a key's tasks never overlap, in two processes; each lock is released when its task ends, by the next lock or at once", async () => {
    // Two processes' locks on one server, and a pool for the tasks' own statements.
    const a = clusterLocks(postgres.url, 4);
    const b = clusterLocks(postgres.url, 4);
    const work = await openDatabase({ url: postgres.url });
    const advisoryLocks = async () =>
      Number(
        (await sql<{ n: string }>`select count(*) as n from pg_locks where locktype = 'advisory'`.execute(work.db))
          .rows[0]!.n,
      );
    try {
      const running = new Set<string>();
      const overlaps: string[] = [];
      const ran: string[] = [];
      await Promise.all(
        Array.from({ length: 240 }, (_, i) => {
          const key = `customer-${i % 12}`;
          return (i % 2 === 0 ? a : b).run(key, async () => {
            if (running.has(key)) overlaps.push(key);
            running.add(key);
            // A statement of the task's own, so that the other process's tasks run meanwhile.
            await sql`select 1`.execute(work.db);
            running.delete(key);
            ran.push(key);
          });
        }),
      );
      expect(overlaps).toEqual([]);
      expect(ran).toHaveLength(240);

      // A lock whose session no task takes next is released on its own: the other process gets it.
      await a.run('alone', () => Promise.resolve());
      await expect(b.run('alone', () => Promise.resolve('taken by the other process'))).resolves.toBe(
        'taken by the other process',
      );
      await eventually('every advisory lock released', advisoryLocks, { until: (n) => n === 0 });
    } finally {
      await a.close();
      await b.close();
      await work.close();
    }
  });
});
