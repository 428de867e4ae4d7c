/**
 * RAPPORT_RECORD_HISTORIES=1 keeps the histories of the journeys tests drive in
 * test/fixtures/histories/latest/, which test/integration/replay.test.ts replays against the current
 * interpreter in every run. Before an interpreter change that new journeys see (a patch), move
 * latest/ to a folder named for the old behaviour, so histories of both kinds stay guarded.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import type { temporal } from '@temporalio/proto';
import { projectRoot } from '../../paths';

export const recordingHistories = process.env.RAPPORT_RECORD_HISTORIES === '1';

/** A test's name as part of a file name: lowercase words joined by `-`, at most 60 characters. */
export function historyName(text: string): string {
  return text
    .replace(/[^a-z0-9]+/gi, '-')
    .toLowerCase()
    .slice(0, 60);
}

/**
 * Writes `<name>.json`: the history of the workflow's run, or with `firstRunId` of each of its runs,
 * the first and each it continued as (`<name>--run-<n>.json` when there are several).
 */
export async function recordHistories(client: Client, workflowId: string, name: string, firstRunId?: string) {
  const dir = path.join(projectRoot, 'test', 'fixtures', 'histories', 'latest');
  fs.mkdirSync(dir, { recursive: true });
  let runId = firstRunId;
  for (let run = 1; ; run++) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const last = history.events?.[history.events.length - 1];
    // The run it continued as, by the run id its last event names.
    const next = firstRunId ? last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId : undefined;
    const suffix = run > 1 || next ? `--run-${run}` : '';
    fs.writeFileSync(path.join(dir, `${name}${suffix}.json`), historyToJSON(history));
    if (!next) return;
    runId = next;
  }
}
