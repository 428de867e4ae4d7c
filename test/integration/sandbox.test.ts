/**
 * Rapport's worker calls into the workflow sandbox without a timeout unless
 * RAPPORT_WORKFLOW_DEADLOCK_TIMEOUT sets one: Node starts and joins a thread for each call with a
 * timeout. The SDK is patched to allow it (patches/); this checks the patch is applied and that
 * Rapport's worker options use it, by replaying a recorded journey in the test's own thread
 * (as a replay does) and watching every call into the sandbox.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import vm from 'node:vm';
import { Worker } from '@temporalio/worker';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { createDataProtection, dataConverterOf } from '../../client/server/protection';
import { projectRoot } from '../../paths';
import { parseConfig } from '../../worker/config';
import { sandboxTimeout } from '../../worker/rapport';
import { workflowBundle } from '../helpers/temporal';

const dir = path.join(projectRoot, 'test', 'fixtures', 'histories', 'latest');
/** A recorded journey's history. */
function history(journey: string): { file: string; history: unknown } {
  const file = fs.readdirSync(dir).find((f) => f.startsWith(journey))!;
  return { file, history: JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as unknown };
}

let database: OpenDatabase;
beforeAll(async () => {
  database = await openDatabase({});
  await migrate(database.db);
});
afterAll(() => database.close());

/** The `timeout` option of every call into a sandbox while the journey replays. */
async function timeoutsOfCalls(journey: string, env: NodeJS.ProcessEnv): Promise<(number | undefined)[]> {
  const { file, history: recorded } = history(journey);
  const calls = jest.spyOn(vm.Script.prototype, 'runInContext');
  try {
    // A replay runs the journey in this thread (the SDK's debug mode), where the calls can be seen.
    const options = {
      ...sandboxTimeout(parseConfig(env)),
      workflowBundle: await workflowBundle(),
      dataConverter: dataConverterOf(createDataProtection(database.db, randomBytes(32))),
    };
    await Worker.runReplayHistory(options, recorded, `sandbox-${file}`);
    return calls.mock.calls.map((c) => c[1]?.timeout);
  } finally {
    calls.mockRestore();
  }
}

test('by default, a journey runs with no timeout on any call into its sandbox', async () => {
  const timeouts = await timeoutsOfCalls('onboarding--', {});
  // The journey's activations, its conditions, its end: many calls, none with a watchdog.
  expect(timeouts.length).toBeGreaterThan(10);
  expect(timeouts.filter((t) => t !== undefined)).toEqual([]);
});

test('RAPPORT_WORKFLOW_DEADLOCK_TIMEOUT gives the calls a timeout again, in milliseconds', () => {
  // The SDK then passes it to every call, as unpatched (one replay a process: a second replay
  // worker in debug mode in the same process cannot be shut down cleanly).
  expect(sandboxTimeout(parseConfig({ RAPPORT_WORKFLOW_DEADLOCK_TIMEOUT: '7' }))).toEqual({
    isolateExecutionTimeout: 7000,
  });
  expect(() => parseConfig({ RAPPORT_WORKFLOW_DEADLOCK_TIMEOUT: '-1' })).toThrow(/RAPPORT_WORKFLOW_DEADLOCK_TIMEOUT/);
});
