/**
 * Determinism guard: histories of every built-in journey path, recorded by the path tests
 * (RAPPORT_RECORD_HISTORIES=1), replay against the current interpreter. An interpreter change that
 * would break a running journey fails here; such a change goes behind `patched()`.
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { projectRoot } from '../../worker/temporal/binaries';
import { workflowBundle } from '../helpers/temporal';

const dir = path.join(projectRoot, 'test', 'fixtures', 'histories');
const histories = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((f) => ({
    workflowId: path.basename(f, '.json'),
    history: JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as unknown,
  }));

test('there is a recorded history for every built-in journey', () => {
  const journeys = new Set(histories.map((h) => h.workflowId.split('--')[0]));
  expect([...journeys].sort()).toEqual(['complaint-recovery', 'cross-sell', 'onboarding', 'prospect-conversion']);
});

test('every recorded history replays against the current interpreter', async () => {
  const results = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: await workflowBundle() }, histories)) {
    results.push({ workflowId: r.workflowId, error: r.error?.message ?? null });
  }
  expect(results).toEqual(histories.map((h) => ({ workflowId: h.workflowId, error: null })));
});

test('an interpreter that changes what a running journey does fails the replay', async () => {
  const changed = await bundleWorkflowCode({
    workflowsPath: path.join(projectRoot, 'test/fixtures/replay/changed-interpreter.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  const sample = histories.slice(0, 2);
  const errors = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: changed }, sample)) errors.push(r.error?.name);
  expect(errors).toEqual(['DeterminismViolationError', 'DeterminismViolationError']);
});

test('the same change behind patched() replays cleanly', async () => {
  const patchedBundle = await bundleWorkflowCode({
    workflowsPath: path.join(projectRoot, 'test/fixtures/replay/patched-interpreter.ts'),
    logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
  });
  const results = [];
  for await (const r of Worker.runReplayHistories({ workflowBundle: patchedBundle }, histories)) {
    results.push({ workflowId: r.workflowId, error: r.error?.message ?? null });
  }
  expect(results).toEqual(histories.map((h) => ({ workflowId: h.workflowId, error: null })));
});
