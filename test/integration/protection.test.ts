/**
 * The payload codec (client/server/protection.ts) on both engines: each customer's payloads sealed
 * with their own key, read back, unreadable once erasure has destroyed the key; a wrong master key
 * refused; payloads written before the codec read as they are.
 */
import { randomBytes } from 'node:crypto';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { eraseCustomer, upsertCustomer } from '../../activities/store/customers';
import {
  createDataProtection,
  DestroyedKeyError,
  isSealed,
  ownCopy,
  subjectOf,
  WrongMasterKeyError,
} from '../../client/server/protection';
import { journeyWorkflowId } from '../../definitions/search-attributes';
import { startPostgres, type Postgres } from '../helpers/postgres';

let postgres: Postgres;
beforeAll(async () => {
  postgres = await startPostgres();
});
afterAll(async () => {
  await postgres?.stop();
});

const workflow = (customerId: string) => ({
  type: 'workflow' as const,
  namespace: 'default',
  workflowId: journeyWorkflowId('welcome', customerId),
});
const payload = (value: unknown): Payload => defaultPayloadConverter.toPayload(value);
const value = (p: Payload): unknown => defaultPayloadConverter.fromPayload(p);
const bytes = (p: Payload) =>
  Buffer.concat([...Object.values(p.metadata ?? {}).map((v) => Buffer.from(v)), Buffer.from(p.data ?? [])]);

test('a key held in memory has memory of its own, and the buffer it was unsealed into is wiped', () => {
  // A small Buffer is a slice of a shared pool, which stays allocated while the slice is held.
  const pooled = Buffer.from(randomBytes(32));
  expect(pooled.buffer.byteLength).toBeGreaterThan(32);
  const before = Buffer.from(pooled);
  const own = ownCopy(pooled);
  expect(own.buffer.byteLength).toBe(32);
  expect(own.equals(before)).toBe(true);
  expect(pooled.every((b) => b === 0)).toBe(true);
});

test('the subject of a payload: the customer a journey workflow names, else the system key', () => {
  expect(subjectOf(workflow('cus_1'))).toBe('cus_1');
  expect(subjectOf({ type: 'workflow', namespace: 'default', workflowId: 'journey:welcome:cus_2:enr_9' })).toBe(
    'cus_2',
  );
  expect(
    subjectOf({ type: 'activity', namespace: 'default', workflowId: 'journey:welcome:cus_3', isLocal: true }),
  ).toBe('cus_3');
  expect(subjectOf({ type: 'activity', namespace: 'default', isLocal: false })).toBe('system');
  expect(subjectOf({ type: 'workflow', namespace: 'default', workflowId: 'segment-run:regulars' })).toBe('system');
  expect(subjectOf(undefined)).toBe('system');
});

describe.each([
  ['PGlite', () => undefined],
  ['PostgreSQL', () => postgres.url],
])('%s', (_engine, url) => {
  let database: OpenDatabase;
  const master = randomBytes(32);
  beforeAll(async () => {
    database = await openDatabase({ url: url() });
    await migrate(database.db);
  });
  afterAll(async () => {
    await database?.close();
  });

  test('each customer’s payloads are sealed with their key and read back; erasure leaves them unreadable', async () => {
    const protection = createDataProtection(database.db, master);
    const ann = (await upsertCustomer(database.db, { email: 'ann.canary@example.com' }, { firstName: 'Annabel' }))
      .customer;
    const bob = (await upsertCustomer(database.db, { email: 'bob@example.com' }, { firstName: 'Bob' })).customer;
    const secret = { subject: 'Broken blender, Annabel', email: 'ann.canary@example.com' };
    const [sealed] = await protection.codec.encode([payload(secret)], workflow(ann.id));
    const [bobs] = await protection.codec.encode([payload({ name: 'Bob' })], workflow(bob.id));
    expect(isSealed(sealed!)).toBe(true);
    // Nothing of the value in the bytes Temporal keeps: only the encoding and the key's id.
    expect(bytes(sealed!).toString('latin1')).not.toMatch(/Annabel|canary|blender/);
    const keyOf = (p: Payload) => Buffer.from(p.metadata!['rapport-key']!).toString();
    expect(keyOf(sealed!)).not.toBe(keyOf(bobs!));
    // Read back, by this process and by another one with the same master key.
    expect(value((await protection.codec.decode([sealed!]))[0]!)).toEqual(secret);
    const other = createDataProtection(database.db, master);
    expect(value((await other.codec.decode([sealed!]))[0]!)).toEqual(secret);

    const erased = await eraseCustomer(database.db, ann.id);
    expect(erased.keyIds).toEqual([keyOf(sealed!)]);
    protection.forget(erased.keyIds);
    await expect(protection.codec.decode([sealed!])).rejects.toBeInstanceOf(DestroyedKeyError);
    // A process that never held the key cannot read it either; Bob's payloads are untouched.
    await expect(createDataProtection(database.db, master).codec.decode([sealed!])).rejects.toThrow(
      /no longer exists \(its customer's personal data was erased\)/,
    );
    expect(value((await protection.codec.decode([bobs!]))[0]!)).toEqual({ name: 'Bob' });
  });

  test('a key made with a new customer seals their payloads once committed; one rolled back is never used', async () => {
    const protection = createDataProtection(database.db, master);
    const stored = async (subject: string) =>
      database.db.selectFrom('data_keys').select('id').where('subject', '=', subject).execute();
    const keyOf = (p: Payload) => Buffer.from(p.metadata!['rapport-key']!).toString();

    const cy = (await upsertCustomer(database.db, { email: 'cy@example.com' }, {})).customer;
    const made = protection.newKey(cy.id);
    await database.db.transaction().execute(async (tx) => {
      await made.insert(tx).execute();
    });
    // A second one for the same customer fails the statement that writes it.
    await expect(
      database.db.transaction().execute(async (tx) => {
        await protection.newKey(cy.id).insert(tx).execute();
      }),
    ).rejects.toThrow(/duplicate key/);
    made.held();
    const [sealed] = await protection.codec.encode([payload({ n: 1 })], workflow(cy.id));
    expect((await stored(cy.id)).map((r) => r.id)).toEqual([keyOf(sealed!)]);

    const dee = (await upsertCustomer(database.db, { email: 'dee@example.com' }, {})).customer;
    await expect(
      database.db.transaction().execute(async (tx) => {
        await protection.newKey(dee.id).insert(tx).execute();
        throw new Error('the event was refused');
      }),
    ).rejects.toThrow('the event was refused');
    expect(await stored(dee.id)).toEqual([]);
    // Its payloads get a key that is stored, and read back by another process.
    const [dees] = await protection.codec.encode([payload({ n: 2 })], workflow(dee.id));
    expect((await stored(dee.id)).map((r) => r.id)).toEqual([keyOf(dees!)]);
    expect(value((await createDataProtection(database.db, master).codec.decode([dees!]))[0]!)).toEqual({ n: 2 });
  });

  test('payloads written before the codec are read as they are', async () => {
    const protection = createDataProtection(database.db, master);
    const plain = payload({ step: 'welcome' });
    expect(await protection.codec.decode([plain])).toEqual([plain]);
  });

  test('a master key that did not wrap the stored keys is refused, saying so', async () => {
    await createDataProtection(database.db, master).check();
    const wrong = createDataProtection(database.db, randomBytes(32));
    await expect(wrong.check()).rejects.toBeInstanceOf(WrongMasterKeyError);
    await expect(wrong.check()).rejects.toThrow(/every process that shares a database needs the same master key/);
  });
});
