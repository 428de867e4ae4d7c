/**
 * Every scenario file in the repository runs here, one Jest test per scenario. Then the runner's own
 * promises: a wrong expectation names itself and what happened, and coverage finds a branch no
 * scenario reaches once the scenario that reached it is gone.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { parse, stringify } from 'yaml';
import {
  findScenarioFiles,
  loadScenarioFile,
  runScenarioFile,
  type FileOutcome,
} from '../../client/tools/simulate/scenarios';
import { projectRoot } from '../../paths';
import { timeSkippingEnv } from '../helpers/temporal';

const journeysDir = path.join(projectRoot, 'definitions', 'journeys');
const files = findScenarioFiles([projectRoot]).filter((f) => !f.includes('node_modules'));
let env: TestWorkflowEnvironment;
let scratch: string;

beforeAll(async () => {
  env = await timeSkippingEnv();
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-scenarios-'));
});

afterAll(async () => {
  await env?.teardown();
  fs.rmSync(scratch, { recursive: true, force: true });
});

test('every built-in journey ships scenarios', () => {
  const journeys = fs.readdirSync(journeysDir).filter((f) => /^[a-z-]+\.yaml$/.test(f));
  for (const j of journeys) expect(files).toContain(path.join(journeysDir, j.replace('.yaml', '.scenarios.yaml')));
});

describe.each(files.map((f) => [path.relative(projectRoot, f), f]))('%s', (_name, file) => {
  let outcome: FileOutcome;
  const { scenarios } = loadScenarioFile(file);

  beforeAll(async () => {
    outcome = await runScenarioFile(file, { env });
  }, 300_000);

  test.each(scenarios.map((s) => [s.name]))('%s', (name) => {
    const s = outcome.scenarios.find((x) => x.name === name)!;
    const report = [
      ...(s.error ? [`could not run: ${s.error}`] : []),
      ...s.failures.map((f) => `expected: ${f.expectation}\nhappened: ${f.happened}`),
    ].join('\n');
    expect(report).toBe('');
    expect(s.passed).toBe(true);
  });

  test('the scenarios reach every step and branch', () => {
    expect(outcome.coverage.missed).toEqual([]);
  });
});

function scenarioCopy(journey: string, edit: (doc: { scenarios: Record<string, unknown>[] }) => void): string {
  const doc = parse(fs.readFileSync(path.join(journeysDir, `${journey}.scenarios.yaml`), 'utf8')) as {
    journey?: string;
    scenarios: Record<string, unknown>[];
  };
  doc.journey = path.join(journeysDir, `${journey}.yaml`);
  edit(doc);
  const file = path.join(scratch, `${journey}-${Math.random().toString(36).slice(2)}.scenarios.yaml`);
  fs.writeFileSync(file, stringify(doc));
  return file;
}

test('a wrong expectation fails with a message naming the expectation and what happened', async () => {
  const file = scenarioCopy('welcome', (doc) => {
    doc.scenarios[0]!.expect = [
      'by +1d: email welcome/check-in sent',
      'sms sent',
      'exited',
      'email welcome/hello sent',
    ];
  });
  const [s] = (await runScenarioFile(file, { env })).scenarios;
  expect(s!.passed).toBe(false);
  expect(s!.failures).toEqual([
    { expectation: 'by +1d: email welcome/check-in sent', happened: 'sent later: email welcome/check-in at +3d' },
    { expectation: 'sms sent', happened: 'no sms was sent' },
    { expectation: 'exited', happened: 'the journey completed' },
  ]);
});

test('an expectation the runner cannot read says so, with the forms it knows', async () => {
  const file = scenarioCopy('welcome', (doc) => {
    doc.scenarios[0]!.expect = ['the customer is delighted'];
  });
  const [s] = (await runScenarioFile(file, { env })).scenarios;
  expect(s!.error).toMatch(/^unknown expectation "the customer is delighted"; expected forms such as/);
});

test('coverage lists the branch no scenario reaches once its scenario is removed', async () => {
  const file = scenarioCopy('complaint-recovery', (doc) => {
    doc.scenarios = doc.scenarios.filter((s) => !String(s.name).includes('retention offer'));
  });
  const outcome = await runScenarioFile(file, { env });
  expect(outcome.scenarios.every((s) => s.passed)).toBe(true);
  expect(outcome.coverage.missed).toEqual(['branch still-unhappy case 1', 'step retention-offer', 'step record-offer']);
}, 300_000);
