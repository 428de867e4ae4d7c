/**
 * A real PostgreSQL server for the tests, started from the Debian package's binaries in a temporary
 * folder on a free loopback port, and stopped afterwards. `.ci/run` installs the package; a test
 * that needs it fails, saying why, when it is missing.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './ports';

export interface Postgres {
  url: string;
  /** Stops the server at once, as a crash would, and starts it again `downMs` later, on the same port. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
}

function findBin(name: string): string {
  const fromEnv = process.env.RAPPORT_PG_BIN;
  const candidates = [
    ...(fromEnv ? [path.join(fromEnv, name)] : []),
    ...(fs.existsSync('/usr/lib/postgresql')
      ? fs
          .readdirSync('/usr/lib/postgresql')
          .sort((a, b) => Number(b) - Number(a))
          .map((v) => path.join('/usr/lib/postgresql', v, 'bin', name))
      : []),
    ...(process.env.PATH ?? '').split(path.delimiter).map((d) => path.join(d, name)),
  ];
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) {
    throw new Error(
      `PostgreSQL's ${name} was not found: install the Debian package postgresql (.ci/run does), or set RAPPORT_PG_BIN`,
    );
  }
  return found;
}

/** Runs a PostgreSQL program; as root, as the postgres user (PostgreSQL refuses to run as root). */
function run(bin: string, args: string[]): void {
  const asRoot = process.getuid?.() === 0;
  if (asRoot) execFileSync('runuser', ['-u', 'postgres', '--', bin, ...args], { stdio: 'pipe' });
  else execFileSync(bin, args, { stdio: 'pipe' });
}

/**
 * `maxConnections`: PostgreSQL's max_connections (default 100), for tests that run several Rapport
 * processes on one server.
 * `durable`: PostgreSQL's own settings (fsync, synchronous commit), for a run that crashes the server
 * and counts what survived; without it the tests' server trades durability for speed, and a
 * transaction committed just before a crash may be gone after it.
 */
export async function startPostgres(options: { durable?: boolean; maxConnections?: number } = {}): Promise<Postgres> {
  const initdb = findBin('initdb');
  const pgCtl = findBin('pg_ctl');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-pg-'));
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres:', dir]);
  const data = path.join(dir, 'data');
  const port = await freePort();
  run(initdb, ['-D', data, '-U', 'rapport', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const start = () =>
    run(pgCtl, [
      '-D',
      data,
      '-l',
      path.join(dir, 'server.log'),
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${options.durable ? '' : ' -c fsync=off -c synchronous_commit=off -c full_page_writes=off'}${options.maxConnections ? ` -c max_connections=${options.maxConnections}` : ''}`,
      '-w',
      'start',
    ]);
  start();
  return {
    url: `postgres://rapport@127.0.0.1:${port}/postgres`,
    async restart(downMs) {
      run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      await new Promise((resolve) => setTimeout(resolve, downMs));
      start();
    },
    stop() {
      try {
        run(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
      return Promise.resolve();
    },
  };
}
