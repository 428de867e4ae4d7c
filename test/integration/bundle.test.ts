/**
 * Workflow code must replay deterministically: the bundle is built from workflows/ alone and may
 * contain nothing that does I/O. The SDK's bundler refuses Node's built-in modules; this test also
 * refuses the libraries behind our activities, should one slip in through an import.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { workflowBundle } from '../helpers/temporal';

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
  const { code } = await workflowBundle();
  expect(code.length).toBeGreaterThan(10_000);
  for (const lib of ioLibraries) {
    expect(code).not.toContain(`node_modules/${lib}/`);
  }
  expect(code).not.toContain('activities/messaging.ts');
  expect(code).not.toContain('activities/db/');
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
