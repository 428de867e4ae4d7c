/**
 * Workflow code must replay deterministically: the bundle is built from workflows/ alone and may
 * contain nothing that does I/O. The SDK's bundler refuses Node's built-in modules; this test also
 * refuses the libraries behind our activities, should one slip in through an import.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import vm from 'node:vm';
import {
  bundleKey,
  bundleSources,
  bundleWorkflows,
  buildWorkflowBundle,
  keptWorkflowBundle,
  latin1Only,
  PRELOADED_MODULES,
} from '../../worker/bundle';

const ioLibraries = [
  'nodemailer',
  'pg',
  'kysely',
  '@electric-sql/pglite',
  'fastify',
  'pino',
  'liquidjs',
  'twilio',
  'smtp-server',
];

test('the workflow bundle builds and holds no I/O library', async () => {
  // Built here with webpack, not taken from the kept build.
  const { code } = await buildWorkflowBundle();
  expect(code.length).toBeGreaterThan(10_000);
  for (const lib of ioLibraries) {
    expect(code).not.toContain(`node_modules/${lib}/`);
  }
  expect(code).not.toContain('activities/messaging.ts');
  expect(code).not.toContain('activities/db/');
});

test('the libraries journeys share are loaded once per worker thread, before any journey', async () => {
  const { code } = await bundleWorkflows();
  // The bundle's preload function requires each of them; the reusable context runs it at its start,
  // so their modules are shared instead of loaded again for each cached journey (bench/README.md).
  const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code)?.[1] ?? '';
  // Each by the module id the workflows' own imports use, so they are the same modules, and none
  // dropped by webpack as free of side effects (which leaves a bare `0;`).
  expect(preload).not.toContain('0;');
  for (const file of PRELOADED_MODULES) {
    expect(preload).toContain(`"./${file}")`);
    expect(code.split(`"./${file}")`).length - 1).toBeGreaterThanOrEqual(2);
  }
});

test('the kept build is the build of the sources as they are, and a change to them is a new one', async () => {
  const kept = await bundleWorkflows();
  expect(kept.code).toBe((await buildWorkflowBundle()).code);
  // The key follows the sources: a copy of them, changed, has another.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-bundle-key-'));
  for (const dir of bundleSources) fs.cpSync(dir, path.join(copy, path.basename(dir)), { recursive: true });
  const dirs = bundleSources.map((dir) => path.join(copy, path.basename(dir)));
  const key = bundleKey(dirs);
  expect(key).toBe(bundleKey());
  fs.appendFileSync(path.join(dirs[0]!, 'index.ts'), '\n// changed\n');
  expect(bundleKey(dirs)).not.toBe(key);
  fs.rmSync(copy, { recursive: true, force: true });
});

test('the bundle is Latin-1 throughout, its source map without the sources, and a worker is given its path', async () => {
  const kept = await keptWorkflowBundle();
  expect(kept).toEqual({ codePath: expect.stringMatching(/workflow-bundles\/[0-9a-f]{16}\.js$/) });
  const { code } = await bundleWorkflows();
  expect(code).not.toMatch(/[\u0100-\uffff]/);
  // The source map the SDK reads is still at the end: the positions, for stack traces, without the
  // sources' text.
  const inline = /\n\/\/# sourceMappingURL=data:application\/json;[^,\n]*base64,([A-Za-z0-9+/=]+)\s*$/.exec(code);
  const map = JSON.parse(Buffer.from(inline?.[1] ?? '', 'base64').toString()) as Record<string, unknown>;
  expect(map).toMatchObject({ version: 3, mappings: expect.stringMatching(/^.{1000}/) });
  expect(map.sources).toContainEqual(expect.stringMatching(/\/workflows\/journey\.ts$/));
  expect(map).not.toHaveProperty('sourcesContent');
});

test('the escapes mean what the characters meant: in strings, templates, regular expressions, after backslashes', () => {
  // As the bundle's text has them: each an expression, in one array.
  const source = `[${[
    `'—'`,
    `"a\\—b"`, // an escape of the character itself
    `'\\\\—'`, // an escaped backslash, then the character
    '`x … ${"y"}`',
    `/[–—]/.test('—')`,
    `/😀/u.test('😀')`, // beyond the first plane: two escapes, one character where /u reads them
    `'😀'.length`,
    `'\\\\\\—'`, // an escaped backslash, then an escape of the character
  ].join(', ')}]`;
  const escaped = latin1Only(source);
  expect(escaped).not.toMatch(/[\u0100-\uffff]/);
  const values = vm.runInNewContext(escaped) as unknown[];
  expect(values).toEqual(vm.runInNewContext(source));
  expect(values).toEqual(['—', 'a—b', '\\—', 'x … y', true, true, 2, '\\—']);
});

test('workflow code that imports an I/O module does not bundle', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-bundle-'));
  const file = path.join(dir, 'bad-workflow.ts');
  fs.writeFileSync(
    file,
    `import fs from 'node:fs';\nexport async function bad(): Promise<string> { return fs.readFileSync('/etc/hostname', 'utf8'); }\n`,
  );
  const errors: string[] = [];
  const logger = { trace() {}, debug() {}, info() {}, warn() {}, log() {}, error: (m: string) => errors.push(m) };
  try {
    await expect(bundleWorkflowCode({ workflowsPath: file, logger })).rejects.toThrow(/Webpack finished with errors/);
    expect(errors.join('\n')).toMatch(/node:fs|'fs'/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
