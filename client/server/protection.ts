/**
 * Customer data in Temporal, encrypted: every payload Rapport's client and worker write to Temporal
 * (workflow inputs, signals, activity arguments and results, queries, and failures' messages) is
 * sealed with AES-256-GCM under a key of the customer it belongs to. Temporal keeps only ciphertext,
 * the key's id, and ids in workflow ids and search attributes.
 *
 * - Whose payload it is comes from the SDK's serialization context: a journey's workflow id names the
 *   customer (`journey:<journey>:<customer>`); an activity's context names the workflow that
 *   scheduled it. What belongs to no customer (segment runs, schedules) uses the `system` key.
 * - Each customer's key is made at their first payload and kept in the customer database, wrapped
 *   by the master key (RAPPORT_MASTER_KEY, or a key file in the data folder). Erasure deletes it:
 *   every history ever written for the customer, on any Temporal server, can no longer be read
 *   (crypto-shredding).
 * - Payloads written before this codec (plain JSON) are read as they are: journeys already running
 *   keep working.
 * - Operators read histories through the codec endpoint (`POST /v1/codec/decode`, admin keys), which
 *   the Temporal CLI (`--codec-endpoint`, `--codec-auth`) and UI call.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec, SerializationContext } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { Db } from '../../activities/db/database';
import { RecentResults } from '../../activities/recent-results';
import { dataKeyById, dataKeyInsert, dataKeyOrStore } from '../../activities/store/data-keys';
import type { Database } from '../../activities/db/schema';
import type { QueryCreator } from 'kysely';
import { customerOfWorkflow } from '../../definitions/search-attributes';

/** The `encoding` of a sealed payload. */
export const SEALED_ENCODING = 'binary/rapport-encrypted';
/** The metadata field naming the data key that sealed a payload. */
const KEY_FIELD = 'rapport-key';
/** The subject of what belongs to no customer. */
const SYSTEM_SUBJECT = 'system';
/** A key that only proves the master key: one that cannot open it is the wrong master key. */
const MASTER_CHECK_SUBJECT = '~master-check';

const text = new TextEncoder();
const untext = new TextDecoder();

function seal(key: Buffer, plain: Uint8Array, aad: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(aad));
  return Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
}

function unseal(key: Buffer, sealed: Uint8Array, aad: string): Buffer {
  const data = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  if (data.length < 28) throw new Error('a sealed payload too short to be one');
  const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, 12));
  decipher.setAAD(Buffer.from(aad));
  decipher.setAuthTag(data.subarray(data.length - 16));
  return Buffer.concat([decipher.update(data.subarray(12, data.length - 16)), decipher.final()]);
}

/**
 * A key held in memory gets memory of its own, and the buffer it came in is wiped. A small Buffer is
 * a slice of one of Node's shared 8 KiB pools, which stays allocated while any slice of it is held:
 * thousands of held 32-byte keys kept thousands of pools (the soak's external memory grew by
 * about 7 KiB for each new customer).
 */
export function ownCopy(buffer: Buffer): Buffer {
  const own = Buffer.allocUnsafeSlow(buffer.length);
  buffer.copy(own);
  buffer.fill(0);
  return own;
}

/** The customer a payload belongs to, or `system`. */
export function subjectOf(context: SerializationContext | undefined): string {
  const workflowId = context?.workflowId;
  return (workflowId && customerOfWorkflow(workflowId)) || SYSTEM_SUBJECT;
}

/** A payload sealed with a key that no longer exists: its customer was erased. */
export class DestroyedKeyError extends Error {
  constructor(readonly keyId: string) {
    super(
      `the data key ${keyId} no longer exists (its customer's personal data was erased): the payload cannot be read`,
    );
    this.name = 'DestroyedKeyError';
  }
}

export class WrongMasterKeyError extends Error {
  constructor() {
    super(
      'the master key (RAPPORT_MASTER_KEY, or master.key in the data folder) does not open the data keys in this ' +
        'database: every process that shares a database needs the same master key',
    );
    this.name = 'WrongMasterKeyError';
  }
}

export interface DataProtection {
  /** The payload codec of Rapport's Temporal client and worker. */
  codec: PayloadCodec;
  /** Fails with WrongMasterKeyError if the master key does not open this database's data keys. */
  check(): Promise<void>;
  /** Drops the keys of these ids held in memory (after erasure has deleted them). */
  forget(keyIds: string[]): void;
  /**
   * A new customer's key, written by the statement that writes their first event (`insert`, in the
   * transaction that creates the customer), so that their first payload (the journey's start, routed
   * later) needs no statement of its own. `held()`, called once that transaction has committed,
   * holds the key in memory. A key stored before for the customer fails the statement.
   */
  newKey(subject: string): NewDataKey;
}

interface NewDataKey {
  insert: (qc: QueryCreator<Database>) => ReturnType<typeof dataKeyInsert>;
  held: () => void;
}

interface CachedKey {
  id: string;
  key: Buffer;
}

export interface ProtectionOptions {
  /** Keys held in memory, each way (by customer, by id); default 10,000. */
  cacheSize?: number;
  /** How long a key is held in memory, in ms; default 60 s. */
  ttlMs?: number;
}

export function createDataProtection(db: Db, masterKey: Buffer, options: ProtectionOptions = {}): DataProtection {
  if (masterKey.length !== 32) throw new Error(`the master key must be 32 bytes, not ${masterKey.length}`);
  const cacheSize = options.cacheSize ?? 10_000;
  const ttlMs = options.ttlMs ?? 60_000;
  // A key deleted by another process's erasure stays usable here for at most `ttlMs`.
  const bySubject = new RecentResults<CachedKey>(cacheSize, ttlMs);
  const byId = new RecentResults<CachedKey>(cacheSize, ttlMs);
  const making = new Map<string, Promise<CachedKey>>();

  const unwrap = (id: string, wrapped: string): CachedKey => {
    try {
      return { id, key: ownCopy(unseal(masterKey, Buffer.from(wrapped, 'base64'), `data-key:${id}`)) };
    } catch {
      throw new WrongMasterKeyError();
    }
  };

  const freshKey = (subject: string) => {
    const id = randomUUID();
    return { id, subject, wrapped: seal(masterKey, randomBytes(32), `data-key:${id}`).toString('base64') };
  };
  const hold = (key: CachedKey, subject: string) => {
    bySubject.set(subject, key, Date.now());
    byId.set(key.id, key, Date.now());
  };

  /** The subject's key: held, stored, or made now. */
  async function keyOf(subject: string): Promise<CachedKey> {
    const held = bySubject.get(subject, Date.now());
    if (held) return held;
    let pending = making.get(subject);
    if (!pending) {
      pending = (async () => {
        // A key made here is stored unless the subject has one; either way, the stored one is used.
        const stored = await dataKeyOrStore(db, freshKey(subject));
        const key = unwrap(stored.id, stored.wrapped);
        hold(key, subject);
        return key;
      })().finally(() => making.delete(subject));
      making.set(subject, pending);
    }
    return pending;
  }

  async function keyById(id: string): Promise<CachedKey> {
    const held = byId.get(id, Date.now());
    if (held) return held;
    const stored = await dataKeyById(db, id);
    if (!stored) throw new DestroyedKeyError(id);
    const key = unwrap(stored.id, stored.wrapped);
    byId.set(id, key, Date.now());
    return key;
  }

  const codec: PayloadCodec = {
    async encode(payloads: Payload[], context?: SerializationContext): Promise<Payload[]> {
      if (payloads.length === 0) return payloads;
      const key = await keyOf(subjectOf(context));
      return payloads.map((payload) =>
        isSealed(payload)
          ? payload
          : {
              metadata: { encoding: text.encode(SEALED_ENCODING), [KEY_FIELD]: text.encode(key.id) },
              data: seal(key.key, temporal.api.common.v1.Payload.encode(payload).finish(), key.id),
            },
      );
    },
    async decode(payloads: Payload[]): Promise<Payload[]> {
      return Promise.all(
        payloads.map(async (payload) => {
          if (!isSealed(payload)) return payload;
          const id = untext.decode(payload.metadata![KEY_FIELD] ?? new Uint8Array());
          const key = await keyById(id);
          const plain = temporal.api.common.v1.Payload.decode(unseal(key.key, payload.data ?? new Uint8Array(), id));
          return { metadata: plain.metadata, data: plain.data };
        }),
      );
    },
  };

  return {
    codec,
    async check() {
      await keyOf(MASTER_CHECK_SUBJECT);
    },
    newKey(subject) {
      const fresh = freshKey(subject);
      return {
        insert: (qc) => dataKeyInsert(qc, fresh),
        // Held only once committed: a key rolled back with its transaction must never seal a payload.
        held: () => hold(unwrap(fresh.id, fresh.wrapped), subject),
      };
    },
    forget(keyIds) {
      const gone = new Set(keyIds);
      for (const id of gone) byId.delete(id);
      bySubject.deleteWhere((held) => gone.has(held.id));
    },
  };
}

/** Rapport's data converter: JSON payloads, sealed by the codec; failures' messages among them. */
export function dataConverterOf(protection: DataProtection): DataConverter {
  return {
    payloadCodecs: [protection.codec],
    failureConverterPath: require.resolve('../../workflows/failure-converter'),
  };
}

export function isSealed(payload: Payload): boolean {
  const encoding = payload.metadata?.encoding;
  return !!encoding && untext.decode(encoding) === SEALED_ENCODING;
}
