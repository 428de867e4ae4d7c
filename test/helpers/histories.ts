/**
 * RAPPORT_RECORD_HISTORIES=1 keeps the histories of the journeys tests drive in
 * test/fixtures/histories/latest/, which test/integration/replay.test.ts replays against the current
 * interpreter in every run. Before an interpreter change that new journeys see (a patch), move
 * latest/ to a folder named for the old behaviour, so histories of both kinds stay guarded.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import type { PayloadCodec } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { projectRoot } from '../../paths';
import { SEALED_ENCODING } from '../../client/server/protection';

export const recordingHistories = process.env.RAPPORT_RECORD_HISTORIES === '1';

/** A test's name as part of a file name: lowercase words joined by `-`, at most 60 characters. */
export function historyName(text: string): string {
  return text
    .replace(/[^a-z0-9]+/gi, '-')
    .toLowerCase()
    .slice(0, 60);
}

type JsonPayload = { metadata: Record<string, string>; data?: string };
const sealed = Buffer.from(SEALED_ENCODING).toString('base64');

/**
 * The history's JSON with every payload Rapport's codec sealed opened again, so that the replay test
 * needs no key: a history as the Temporal CLI exports it with the codec endpoint.
 */
async function opened(json: string, codec: PayloadCodec): Promise<string> {
  const found: JsonPayload[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object') {
      const p = value as Partial<JsonPayload>;
      if (p.metadata && p.metadata.encoding === sealed) found.push(p as JsonPayload);
      else Object.values(value).forEach(walk);
    }
  };
  const history: unknown = JSON.parse(json);
  walk(history);
  // Temporal's JSON form of payloads (base64 bytes), as protobufjs reads and writes it.
  const { Payload: ProtoPayload } = temporal.api.common.v1;
  const decoded = await codec.decode(found.map((p) => ProtoPayload.fromObject(p)));
  found.forEach((p, i) => {
    const open = ProtoPayload.toObject(ProtoPayload.create(decoded[i]), { bytes: String }) as JsonPayload;
    p.metadata = open.metadata;
    if (open.data === undefined) delete p.data;
    else p.data = open.data;
  });
  return JSON.stringify(history, null, 2);
}

/**
 * Writes `<name>.json`: the history of the workflow's run, or with `firstRunId` of each of its runs,
 * the first and each it continued as (`<name>--run-<n>.json` when there are several). With `codec`,
 * the payloads it sealed are written opened.
 */
export async function recordHistories(
  client: Client,
  workflowId: string,
  name: string,
  firstRunId?: string,
  codec?: PayloadCodec,
) {
  const dir = path.join(projectRoot, 'test', 'fixtures', 'histories', 'latest');
  fs.mkdirSync(dir, { recursive: true });
  let runId = firstRunId;
  for (let run = 1; ; run++) {
    const history: temporal.api.history.v1.IHistory = await client.workflow.getHandle(workflowId, runId).fetchHistory();
    const last = history.events?.[history.events.length - 1];
    // The run it continued as, by the run id its last event names.
    const next = firstRunId ? last?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId : undefined;
    const suffix = run > 1 || next ? `--run-${run}` : '';
    const json = historyToJSON(history);
    fs.writeFileSync(path.join(dir, `${name}${suffix}.json`), codec ? await opened(json, codec) : json);
    if (!next) return;
    runId = next;
  }
}
