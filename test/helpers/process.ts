/** Runs `rapport start` as a child process, as a user would, and reads its JSON log lines. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { projectRoot } from '../../paths';

export interface RapportProcess {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  output: string[];
  /** Resolves when a log line's msg matches. */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** Sends the signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  exited: Promise<number | null>;
  /** Sends a signal and returns at once. */
  kill(signal: NodeJS.Signals): void;
}

/** `rapport start`, with `args` after it (such as `--role api`). */
export function runRapport(env: Record<string, string>, args: string[] = []): RapportProcess {
  const cli = path.join(projectRoot, 'client/tools/cli/main.ts');
  const child = spawn(process.execPath, ['--require', 'tsx/cjs', cli, 'start', ...args], {
    cwd: projectRoot,
    env: { ...process.env, LOG_FORMAT: 'json', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const output: string[] = [];
  const listeners: (() => void)[] = [];
  let buffer = '';
  const onData = (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    const lines = buffer.split('\n');
    buffer = lines.pop() ?? '';
    for (const line of lines) {
      output.push(line);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not a log line */
      }
    }
    listeners.forEach((l) => l());
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  return {
    child,
    logs,
    output,
    exited,
    kill: (signal) => {
      child.kill(signal);
    },
    waitForLog(pattern, timeoutMs = 90_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const hit = logs.find((l) => typeof l.msg === 'string' && pattern.test(l.msg));
          if (hit) {
            clearTimeout(timer);
            resolve(hit);
          }
        };
        const timer = setTimeout(
          () =>
            reject(
              new Error(`no log line matching ${pattern} in ${timeoutMs} ms; output:\n${output.slice(-30).join('\n')}`),
            ),
          timeoutMs,
        );
        listeners.push(check);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(
            new Error(
              `rapport exited (code ${code}) before logging ${pattern}; output:\n${output.slice(-30).join('\n')}`,
            ),
          );
        });
        check();
      });
    },
    async stop(signal = 'SIGINT', timeoutMs = 30_000) {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
