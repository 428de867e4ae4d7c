/**
 * The embedded Temporal server: the Temporal CLI's dev server, with SQLite persistence in the data
 * folder, the Web UI, and Rapport's search attributes. Runs in its own process group so that Ctrl-C
 * reaches Rapport first, which stops its worker and then the server.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import type { Logger } from 'pino';
import { stopLeftover, supervise } from '../child-process';
import { searchAttributes } from '../../definitions/search-attributes';

export interface DevServerOptions {
  binary: string;
  dataDir: string;
  port: number;
  uiPort: number;
  namespace: string;
  logger: Logger;
  /** How long to wait for the server to answer; a first start on a slow disk takes a few seconds. */
  startTimeoutMs?: number;
}

export interface DevServer {
  address: string;
  uiUrl: string;
  pid: number;
  stop(): Promise<void>;
}

const TYPE_NAMES: Record<string, string> = {
  KEYWORD: 'Keyword',
  INT: 'Int',
  TEXT: 'Text',
  DOUBLE: 'Double',
  BOOL: 'Bool',
  DATETIME: 'Datetime',
  KEYWORD_LIST: 'KeywordList',
};

/** A dev server left behind by a Rapport that was killed holds the port and the database: stop it. */
async function stopLeftoverServer(pidFile: string, binary: string, logger: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return;
  }
  await stopLeftover(pid, {
    command: path.basename(binary),
    signal: 'SIGTERM',
    graceMs: 10_000,
    group: true,
    logger,
    name: 'a Temporal dev server',
  });
}

export async function startDevServer(options: DevServerOptions): Promise<DevServer> {
  const { logger } = options;
  const dir = path.join(options.dataDir, 'temporal');
  fs.mkdirSync(dir, { recursive: true });
  const pidFile = path.join(dir, 'dev-server.pid');
  await stopLeftoverServer(pidFile, options.binary, logger);

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    path.join(dir, 'temporal.db'),
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    '--ui-port',
    String(options.uiPort),
    '--ui-disable-news-fetch',
    '--log-format',
    'json',
    '--log-level',
    'warn',
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
    ...(options.namespace !== 'default' ? ['--namespace', options.namespace] : []),
    ...searchAttributes.flatMap((k) => ['--search-attribute', `${k.name}=${TYPE_NAMES[k.type] ?? 'Keyword'}`]),
  ];
  const child: ChildProcess = spawn(options.binary, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, TEMPORAL_VERSION_CHECK_DISABLED: '1' },
  });
  const server = supervise(child, { name: 'the Temporal dev server', logger, group: true, onExitSignal: 'SIGKILL' });
  const pid = server.pid;
  fs.writeFileSync(pidFile, String(pid));

  const address = `127.0.0.1:${options.port}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (server.exitCode !== undefined) {
      throw new Error(
        `the Temporal dev server exited (code ${server.exitCode}) before it was ready; is port ${options.port} or ${options.uiPort} taken?\n${server.lastLines(5)}`,
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: '1s' });
      try {
        await connection.workflowService.describeNamespace({ namespace: options.namespace });
        break;
      } finally {
        await connection.close();
      }
    } catch (err) {
      if (Date.now() > deadline) {
        await server.stop('SIGKILL', 5_000);
        throw new Error(`the Temporal dev server did not answer on ${address} in time: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  return {
    address,
    uiUrl: `http://127.0.0.1:${options.uiPort}`,
    pid,
    async stop() {
      await server.stop('SIGTERM', 15_000);
      fs.rmSync(pidFile, { force: true });
    },
  };
}
