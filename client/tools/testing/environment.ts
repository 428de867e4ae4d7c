/**
 * Temporal for tests and simulations: the time-skipping test server (a 90-day journey runs in a
 * second), with Rapport's search attributes, and the workflow bundle built once per process.
 */
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, type WorkflowBundle } from '@temporalio/worker';
import { findBinary } from '../../../worker/temporal/binaries';
import { ensureSearchAttributes } from '../../../worker/temporal/connection';
import { bundleWorkflows } from '../../../worker/bundle';
import { searchAttributes } from '../../../definitions/search-attributes';

let installed = false;
function quietRuntime(): void {
  if (installed) return;
  installed = true;
  try {
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  } catch {
    // Already installed by the process (`rapport start` simulating for its API): its logger stays.
  }
}

function binary(name: 'temporal' | 'temporal-test-server'): string {
  const p = findBinary(name);
  if (!p) throw new Error(`${name} not found: run \`npx tsx scripts/temporal-binaries.ts install\` (see README)`);
  return p;
}

/** The time-skipping test server, with Rapport's search attributes registered. */
export async function timeSkippingEnv(): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  const env = await TestWorkflowEnvironment.createTimeSkipping({
    server: { executable: { type: 'existing-path', path: binary('temporal-test-server') } },
  });
  await ensureSearchAttributes(env.connection, env.namespace ?? 'default');
  return env;
}

let bundle: Promise<WorkflowBundle> | undefined;
/** The workflow bundle, built once per test file. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflows();
  return bundle;
}

/**
 * The Temporal dev server, as Rapport runs it on one machine, with Rapport's search attributes: for
 * what the time-skipping server lacks (Schedules) and for crash tests and benchmarks.
 */
export function devServerEnv(dbFilename?: string): Promise<TestWorkflowEnvironment> {
  quietRuntime();
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: binary('temporal') },
      searchAttributes: [...searchAttributes],
      ...(dbFilename ? { dbFilename } : {}),
    },
  });
}
