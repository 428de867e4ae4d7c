/**
 * `rapport start` on the real Temporal dev server, as a user runs it: a customer waiting in a journey
 * when Rapport is stopped with Ctrl-C is still there after the next start, and their journey completes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../paths';
import { eventually } from '../helpers/eventually';
import { freePort } from '../helpers/ports';
import { runRapport, type RapportProcess } from '../helpers/process';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink';

let smtp: SmtpSink;
let dataDir: string;
const running: RapportProcess[] = [];

beforeAll(async () => {
  smtp = await startSmtpSink();
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-restart-'));
});

afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await smtp?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('a customer waiting when Rapport stops finishes the journey after the next start', async () => {
  const env = {
    RAPPORT_DATA_DIR: dataDir,
    RAPPORT_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    SMTP_URL: smtp.url,
    RAPPORT_PUBLIC_URL: 'https://rapport.test',
    RAPPORT_JOURNEYS_DIRS: path.join(projectRoot, 'test/fixtures/journeys'),
  };
  const api = `http://127.0.0.1:${env.RAPPORT_PORT}`;

  const first = runRapport(env);
  running.push(first);
  await first.waitForLog(/Rapport is running/);
  const ui = await fetch(`http://127.0.0.1:${env.TEMPORAL_UI_PORT}/`);
  expect(ui.status).toBe(200);

  const res = await fetch(`${api}/v1/events?wait=routed`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      id: 'restart-1',
      type: 'restart.check',
      customer: { email: 'grace@example.com' },
      profile: { firstName: 'Grace' },
    }),
  });
  expect(res.status).toBe(202);
  const receipt = (await res.json()) as { customerId: string; enrolled: { journey: string }[] };
  expect(receipt.enrolled.map((e) => e.journey)).toEqual(['restart-check']);

  await smtp.waitFor(1);
  expect(await first.stop('SIGINT')).toBe(0);
  expect(first.logs.some((l) => l.msg === 'stopped')).toBe(true);
  // The embedded Temporal server stopped with it.
  expect(fs.existsSync(path.join(dataDir, 'temporal', 'dev-server.pid'))).toBe(false);
  // Stopped mid-wait: the second message has not gone out.
  expect(smtp.received.map((m) => m.subject)).toEqual(['Before the restart, Grace']);

  const second = runRapport(env);
  running.push(second);
  await second.waitForLog(/Rapport is running/);
  // Unchanged content is not published again.
  expect(second.logs.find((l) => l.msg === 'journey unchanged' && l.journey === 'restart-check')).toBeTruthy();

  await smtp.waitFor(2, 60_000);
  expect(smtp.received.map((m) => m.subject)).toEqual(['Before the restart, Grace', 'After the restart, Grace']);

  type View = { enrollments: { status: string }[]; timeline: { kind: string; summary: string }[] };
  const view = await eventually(
    'the enrollment to be completed',
    async () => (await (await fetch(`${api}/v1/customers/${receipt.customerId}`)).json()) as View,
    { until: (v) => v.enrollments[0]?.status === 'completed', everyMs: 200 },
  );
  expect(view.enrollments).toEqual([expect.objectContaining({ status: 'completed' })]);
  expect(view.timeline.filter((t) => t.kind === 'message').map((t) => t.summary)).toEqual([
    'email sent: Before the restart, Grace',
    'email sent: After the restart, Grace',
  ]);
  expect(await second.stop('SIGINT')).toBe(0);
});

test('an event answered 202 takes effect even when the process is killed right after; its retry changes nothing', async () => {
  const crashDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-crash-202-'));
  const env = {
    RAPPORT_DATA_DIR: crashDir,
    RAPPORT_PORT: String(await freePort()),
    TEMPORAL_PORT: String(await freePort()),
    TEMPORAL_UI_PORT: String(await freePort()),
    SMTP_URL: smtp.url,
    RAPPORT_PUBLIC_URL: 'https://rapport.test',
    RAPPORT_JOURNEYS_DIRS: path.join(projectRoot, 'test/fixtures/journeys'),
  };
  const api = `http://127.0.0.1:${env.RAPPORT_PORT}`;
  const event = JSON.stringify({
    id: 'crash-202',
    type: 'crash.check',
    customer: { email: 'ada.crash@example.com' },
    profile: { firstName: 'Ada' },
  });
  // Without waiting: the 202 says the event is accepted, and nothing more.
  const post = () =>
    fetch(`${api}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: event });
  try {
    const first = runRapport(env);
    running.push(first);
    await first.waitForLog(/Rapport is running/);
    const res = await post();
    expect(res.status).toBe(202);
    // Killed at once, with no chance to finish anything: the answer is all that is known.
    first.kill('SIGKILL');
    const receipt = (await res.json()) as { eventId: string; customerId: string; status: string };
    expect(receipt).toMatchObject({ eventId: 'crash-202', status: 'accepted' });
    await first.exited;
    expect(smtp.received.filter((m) => m.subject === 'After the crash, Ada')).toHaveLength(0);

    const second = runRapport(env);
    running.push(second);
    await second.waitForLog(/Rapport is running/);
    // The killed process left its embedded PostgreSQL running on the data folder: the new one stopped
    // it and started its own on the same data.
    expect(second.logs.some((l) => l.msg === 'stopping the embedded PostgreSQL left running by an earlier start')).toBe(
      true,
    );
    // The sender retries, not knowing whether the first attempt counted: the same answer, no second effect.
    const retry = await post();
    expect(retry.status).toBe(202);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toMatchObject({ eventId: 'crash-202', customerId: receipt.customerId });
    // The router of the new process routed it.
    const routed = await eventually(
      'the event to be routed',
      async () =>
        (await (await fetch(`${api}/v1/events/crash-202`)).json()) as {
          status: string;
          enrolled: { journey: string }[];
        },
      { until: (r) => r.status === 'routed', everyMs: 200 },
    );
    expect(routed.enrolled.map((e) => e.journey)).toEqual(['crash-check']);

    // The journey ends after its one send: once it has, nothing is left to send anything again.
    const view = await eventually(
      'the crash-check enrollment to be completed',
      async () =>
        (await (await fetch(`${api}/v1/customers/${receipt.customerId}`)).json()) as {
          enrollments: { journeyId: string; status: string }[];
        },
      { until: (v) => v.enrollments.some((e) => e.status === 'completed'), everyMs: 200 },
    );
    expect(view.enrollments.map((e) => [e.journeyId, e.status])).toEqual([['crash-check', 'completed']]);
    expect(smtp.received.filter((m) => m.subject === 'After the crash, Ada')).toHaveLength(1);
    expect(await second.stop('SIGINT')).toBe(0);
  } finally {
    fs.rmSync(crashDir, { recursive: true, force: true });
  }
});
