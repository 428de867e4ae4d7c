/**
 * What the servers Rapport runs as its own child processes (the Temporal dev server, the embedded
 * PostgreSQL) share: a free port, their last lines of output for errors, knowing when they exit, and
 * stopping them, however Rapport itself ends.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import type { Logger } from 'pino';

/** A TCP port free on loopback right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether a process of this id runs. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits up to `ms` for a process to end; whether it did. */
async function waitForExit(pid: number, ms: number): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 100) {
    if (!alive(pid)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return !alive(pid);
}

/**
 * Stops a server that a Rapport killed before it could stop it left running (its pid read from a
 * file it keeps): only when that pid runs `command` still, since a pid can be reused.
 */
export async function stopLeftover(
  pid: number,
  options: { command: string; signal: NodeJS.Signals; graceMs: number; group: boolean; logger: Logger; name: string },
): Promise<void> {
  if (!Number.isInteger(pid) || pid <= 1 || !alive(pid)) return;
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    /* not Linux, or gone */
  }
  if (cmdline && !cmdline.includes(options.command)) return;
  options.logger.warn({ pid }, `stopping ${options.name} left running by an earlier start`);
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(options.group ? -pid : pid, s);
    } catch {
      process.kill(pid, s);
    }
  };
  signal(options.signal);
  if (!(await waitForExit(pid, options.graceMs))) signal('SIGKILL');
}

export interface SupervisedChild {
  pid: number;
  /** Its exit code once it has exited (null when a signal ended it); undefined while it runs. */
  readonly exitCode: number | null | undefined;
  /** Its last lines of output, for an error that says why it failed. */
  lastLines(count: number): string;
  /** Stops it with `signal`, then SIGKILL after `graceMs`. */
  stop(signal: NodeJS.Signals, graceMs: number): Promise<void>;
}

export interface SuperviseOptions {
  /** Names it in logs ("the embedded PostgreSQL"). */
  name: string;
  logger: Logger;
  /** Whether its signals go to its whole process group (it was spawned detached, as a group leader). */
  group: boolean;
  /** Sent when Rapport's process exits without stopping it first. */
  onExitSignal: NodeJS.Signals;
}

export function supervise(child: ChildProcess, options: SuperviseOptions): SupervisedChild {
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${options.name}`);
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(options.group ? -pid : pid, s);
    } catch {
      try {
        child.kill(s);
      } catch {
        /* already gone */
      }
    }
  };
  // However Rapport's process ends (short of SIGKILL, which the next start covers), the child ends with it.
  const onExit = () => signal(options.onExitSignal);
  process.once('exit', onExit);

  const recent: string[] = [];
  const onData = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      recent.push(line);
      if (recent.length > 20) recent.shift();
      options.logger.debug({ output: line.slice(0, 500) }, options.name);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    }),
  );

  return {
    pid,
    get exitCode() {
      return exitCode;
    },
    lastLines: (count) => recent.slice(-count).join('\n'),
    async stop(stopSignal, graceMs) {
      if (exitCode === undefined) {
        signal(stopSignal);
        let timer: NodeJS.Timeout | undefined;
        const done = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
        ]);
        clearTimeout(timer);
        if (!done) {
          options.logger.warn(`${options.name} did not stop in ${graceMs / 1000} s; killing it`);
          signal('SIGKILL');
          await exited;
        }
      }
      process.removeListener('exit', onExit);
    },
  };
}
