/**
 * Determinism guard: histories of every built-in journey path, recorded by the path tests
 * (RAPPORT_RECORD_HISTORIES=1), replay against the current interpreter. An interpreter change that
 * would break a running journey fails here; such a change goes behind `patched()`.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode, Worker } from '@temporalio/worker';
import { migrate, openDatabase } from '../../activities/db/database';
import { createDataProtection, dataConverterOf } from '../../client/server/protection';
import { projectRoot } from '../../paths';
import { workflowBundle } from '../helpers/temporal';

// One folder per interpreter behaviour that running journeys may have started under: `latest` (the
// built-in journeys' paths, and each step kind's from the fast tier), and
// the ones before a patch: `records-as-activities` (before records became local activities),
// `before-goal-window` (before an enrollment whose steps ran out listened for its goal) and
// `before-known-step-attribute` (before one patch stood for the three, and the step attribute started
// as the run's own; it keeps each step kind's runs too).
const dir = path.join(projectRoot, 'test', 'fixtures', 'histories');
const sets = fs.readdirSync(dir).filter((f) => fs.statSync(path.join(dir, f)).isDirectory());
const histories = sets.flatMap((set) =>
  fs
    .readdirSync(path.join(dir, set))
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({
      workflowId: `${set}/${path.basename(f, '.json')}`,
      history: JSON.parse(fs.readFileSync(path.join(dir, set, f), 'utf8')) as unknown,
    })),
);

test('every set of recorded histories covers every built-in journey, and the latest every step kind', () => {
  expect(sets.sort()).toEqual(['before-goal-window', 'before-known-step-attribute', 'latest', 'records-as-activities']);
  const builtins = ['complaint-recovery', 'cross-sell', 'onboarding', 'prospect-conversion'];
  for (const set of sets) {
    const journeys = new Set(
      histories
        .filter((h) => h.workflowId.startsWith(`${set}/`))
        .map((h) => h.workflowId.split('/')[1]!.split('--')[0]),
    );
    // `kinds`: the fast tier's runs of each step kind on its own (test/helpers/journey-run.ts).
    expect([set, ...[...journeys].sort()]).toEqual([
      set,
      ...(set === 'latest' || set === 'before-known-step-attribute' ? [...builtins, 'kinds'].sort() : builtins),
    ]);
  }
  const kinds = histories.filter((h) => h.workflowId.startsWith('latest/kinds--')).map((h) => h.workflowId);
  for (const kind of ['branch', 'digest', 'exit', 'send', 'split', 'task', 'update', 'wait-', 'wait-for', 'webhook']) {
    expect(kinds.some((k) => k.startsWith(`latest/kinds--${kind}`))).toBe(true);
  }
  // The paths the built-in journeys do not take: an until_expr, a holdout, continue-as-new (each run).
  expect(kinds.filter((k) => /until-expr|held-out|continue-as-new/.test(k)).length).toBeGreaterThanOrEqual(5);
});

test('new journeys run their records as local activities: markers, not activity tasks', () => {
  const count = (workflowId: string, type: string) =>
    JSON.stringify(histories.find((h) => h.workflowId === workflowId)!.history).split(`"${type}"`).length - 1;
  const name = 'onboarding--a-first-order-welcome-tips-an-sms-check-in-a-review-request-';
  // Recorded from the same path: the sends stay activities; markStep, loadCustomer, finishEnrollment
  // and the other records become markers, with fewer workflow tasks.
  expect(count(`records-as-activities/${name}`, 'EVENT_TYPE_MARKER_RECORDED')).toBe(0);
  expect(count(`latest/${name}`, 'EVENT_TYPE_MARKER_RECORDED')).toBeGreaterThan(0);
  expect(count(`latest/${name}`, 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED')).toBeLessThan(
    count(`records-as-activities/${name}`, 'EVENT_TYPE_ACTIVITY_TASK_SCHEDULED'),
  );
  expect(count(`latest/${name}`, 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED')).toBeLessThan(
    count(`records-as-activities/${name}`, 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED'),
  );
});

interface RecordedEvent {
  eventType: string;
  markerRecordedEventAttributes?: { markerName: string };
  upsertWorkflowSearchAttributesEventAttributes?: { searchAttributes: { indexedFields: Record<string, unknown> } };
}

/** A recorded history's events. */
function eventsOf(workflowId: string): RecordedEvent[] {
  const found = histories.find((h) => h.workflowId === workflowId);
  if (!found) throw new Error(`no recorded history ${workflowId}`);
  return (found.history as { events: RecordedEvent[] }).events;
}

/** The search attributes a history's events upsert, in order (one list per upsert). */
function upserted(events: RecordedEvent[]): string[][] {
  return events.flatMap((e) => {
    const fields = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes.indexedFields;
    return fields ? [Object.keys(fields)] : [];
  });
}

test('new journeys record one patch, and set the step attribute only where it changes', () => {
  const patches = (events: RecordedEvent[]) =>
    events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch').length;
  // Cross-sell waits at its first step, which the router started the run with: up to its first
  // timer, the only upsert is the patch's own (Temporal's TemporalChangeVersion).
  const crossSell = 'cross-sell--an-order-in-the-recommended-category-converts';
  const untilTimer = (events: RecordedEvent[]) =>
    events.slice(
      0,
      events.findIndex((e) => e.eventType === 'EVENT_TYPE_TIMER_STARTED'),
    );
  expect(upserted(untilTimer(eventsOf(`latest/${crossSell}`)))).toEqual([['TemporalChangeVersion']]);
  expect(upserted(untilTimer(eventsOf(`before-known-step-attribute/${crossSell}`)))).toEqual([
    ['TemporalChangeVersion'],
    ['RapportStep'],
  ]);
  // Onboarding's steps run out before its goal's window closes: before, a second patch (and its
  // upsert) marked listening for the goal; now the one patch stands for it.
  const onboarding = 'onboarding--a-first-order-welcome-tips-an-sms-check-in-a-review-request-';
  expect(patches(eventsOf(`before-known-step-attribute/${onboarding}`))).toBe(2);
  expect(patches(eventsOf(`latest/${onboarding}`))).toBe(1);
  expect(upserted(eventsOf(`latest/${onboarding}`)).length).toBe(
    upserted(eventsOf(`before-known-step-attribute/${onboarding}`)).length - 1,
  );
  // Every journey recorded since records one patch marker (each run, when it continued as new).
  for (const h of histories.filter((x) => x.workflowId.startsWith('latest/'))) {
    expect([h.workflowId, patches(eventsOf(h.workflowId))]).toEqual([h.workflowId, 1]);
  }
});

test('every recorded history replays against the current interpreter, with Rapport’s data converter', async () => {
  // As a worker runs: the payload codec and the failure converter that encodes failures' messages.
  // Histories written before the codec hold plain payloads; those recorded since were opened with it.
  const database = await openDatabase({});
  await migrate(database.db);
  const dataConverter = dataConverterOf(createDataProtection(database.db, randomBytes(32)));
  const results = [];
  for await (const r of Worker.runReplayHistories(
    { workflowBundle: await workflowBundle(), dataConverter },
    histories,
  )) {
    results.push({ workflowId: r.workflowId, error: r.error?.message ?? null });
  }
  await database.close();
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
