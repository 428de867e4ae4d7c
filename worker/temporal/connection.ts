/** Connection options for a Temporal cluster, shared by the client (API) and the worker. */
import fs from 'node:fs';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import type { Logger } from 'pino';
import { searchAttributes } from '../../definitions/search-attributes';
import type { Config } from '../config';

type Shared = Pick<ConnectionOptions, 'address' | 'tls' | 'apiKey'> & Pick<NativeConnectionOptions, 'address'>;

function connectionOptions(config: Config, address: string): Shared {
  const read = (p: string | undefined) => (p ? fs.readFileSync(p) : undefined);
  const cert = read(config.TEMPORAL_TLS_CLIENT_CERT_PATH);
  const key = read(config.TEMPORAL_TLS_CLIENT_KEY_PATH);
  const ca = read(config.TEMPORAL_TLS_SERVER_CA_CERT_PATH);
  const tlsWanted =
    config.TEMPORAL_TLS ?? Boolean(cert || ca || config.TEMPORAL_API_KEY || config.TEMPORAL_TLS_SERVER_NAME);
  const tls = tlsWanted
    ? {
        ...(config.TEMPORAL_TLS_SERVER_NAME ? { serverNameOverride: config.TEMPORAL_TLS_SERVER_NAME } : {}),
        ...(ca ? { serverRootCACertificate: ca } : {}),
        ...(cert && key ? { clientCertPair: { crt: cert, key } } : {}),
      }
    : undefined;
  return {
    address,
    ...(tls ? { tls } : {}),
    ...(config.TEMPORAL_API_KEY ? { apiKey: config.TEMPORAL_API_KEY } : {}),
  };
}

export async function connectClient(config: Config, address: string): Promise<Connection> {
  return Connection.connect(connectionOptions(config, address));
}

export async function connectWorker(config: Config, address: string): Promise<NativeConnection> {
  return NativeConnection.connect(connectionOptions(config, address) as NativeConnectionOptions);
}

const INDEXED: Record<string, temporal.api.enums.v1.IndexedValueType> = {
  KEYWORD: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  INT: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_INT,
};

/**
 * Registers Rapport's search attributes on a server that lacks them (a cluster, or the time-skipping
 * test server). A cluster that refuses (no permission; Temporal Cloud manages them elsewhere) gets a warning.
 */
export async function ensureSearchAttributes(
  connection: Connection,
  namespace: string,
  logger?: Logger,
): Promise<void> {
  const wanted = Object.fromEntries(searchAttributes.map((k) => [k.name, INDEXED[k.type]!]));
  try {
    // The time-skipping test server cannot list them; adding is enough there.
    const existing = await connection.operatorService
      .listSearchAttributes({ namespace })
      .catch((err: { code?: number }) => (err.code === 12 ? { customAttributes: {} } : Promise.reject(err as Error)));
    const missing = Object.fromEntries(
      Object.entries(wanted).filter(([name]) => !(name in (existing.customAttributes ?? {}))),
    );
    if (Object.keys(missing).length === 0) return;
    await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: missing });
  } catch (err) {
    const message = (err as Error).message;
    if (/already exists/i.test(message)) return;
    if (!logger) throw err;
    logger.warn(
      { err: message, searchAttributes: Object.keys(wanted) },
      'could not register search attributes; register them on the cluster so enrollments are findable',
    );
  }
}
