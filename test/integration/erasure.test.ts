/**
 * Erasure removes everything: a customer with canary values (names, email, phone, an attribute, a
 * complaint's subject) goes through a journey that emails (to the outbox), texts (through the twilio
 * SDK to the stand-in), calls a webhook and creates a task, and waits. After erasure, none of the
 * canaries is found in any table, the captured logs, the outbox, or the bytes of any Temporal history
 * of theirs, nor in the dev server's SQLite file; another customer's data is untouched and readable.
 * On both engines: PGlite and PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { sql } from 'kysely';
import { createLogger } from '../../worker/logger';
import { journeyStateQuery } from '../../workflows/messages';
import { eventually } from '../helpers/eventually';
import { startPostgres, type Postgres } from '../helpers/postgres';
import { startTestStack, type TestStack } from '../helpers/stack';
import { devServerEnv } from '../helpers/temporal';
import { startTwilioStandIn, type TwilioStandIn } from '../helpers/twilio-standin';
import { startWebhookSink, type WebhookSink } from '../helpers/webhook-sink';

let env: TestWorkflowEnvironment;
let postgres: Postgres;
let standIn: TwilioStandIn;
let hooks: WebhookSink;
let scratch: string;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-erasure-'));
  [env, postgres, standIn, hooks] = await Promise.all([
    devServerEnv(path.join(scratch, 'temporal.db')),
    startPostgres(),
    startTwilioStandIn(),
    startWebhookSink(),
  ]);
});

afterAll(async () => {
  await env?.teardown();
  await postgres?.stop();
  await standIn?.close();
  await hooks?.close();
  fs.rmSync(scratch, { recursive: true, force: true });
});

const journey = (hooksUrl: string) => `
journey: care
name: Complaint care
category: service
trigger: { event: complaint.opened }
steps:
  - id: acknowledge
    type: send
    channel: email
    subject: "About {{ event.data.subject }}"
    text: "Dear {{ customer.firstName }} {{ customer.lastName }}, we read about {{ event.data.subject }} ({{ customer.attributes.colour }})."
  - id: text
    type: send
    channel: sms
    text: "Hi {{ customer.firstName }}, we are on {{ event.data.subject }}."
  - id: notify
    type: webhook
    url: ${hooksUrl}/complaints
    body: '{"name": {{ customer.firstName | json }}, "subject": {{ event.data.subject | json }}, "colour": {{ customer.attributes.colour | json }}}'
  - id: call
    type: task
    team: support
    title: "Call {{ customer.firstName }} {{ customer.lastName }} about {{ event.data.subject }}"
    description: "{{ customer.email }}, {{ customer.phone }}: {{ customer.attributes.colour }}"
    wait:
      timeout: 30d
`;

interface Person {
  firstName: string;
  lastName: string;
  email: string;
  phone: string;
  colour: string;
  subject: string;
}

const canaryOf = (engine: string): Person => ({
  firstName: `Zebulonia${engine}`,
  lastName: 'Quillfeatherstone',
  email: `zebulonia.${engine.toLowerCase()}@canary.example`,
  phone: engine === 'PGlite' ? '+447700900461' : '+447700900462',
  colour: `chartreuse-${engine.toLowerCase()}-canary`,
  subject: `exploding blender no. ${engine === 'PGlite' ? 7731 : 7732}`,
});
const otherOf = (engine: string): Person => ({
  firstName: `Olivetta${engine}`,
  lastName: 'Brightwater',
  email: `olivetta.${engine.toLowerCase()}@example.com`,
  phone: engine === 'PGlite' ? '+447700900471' : '+447700900472',
  colour: 'teal',
  subject: 'late parcel',
});
const valuesOf = (p: Person) => [p.firstName, p.lastName, p.email, p.phone, p.colour, p.subject];

/** Which of `needles` occur in `haystack` (case-insensitive). */
const found = (haystack: string | Buffer, needles: string[]) => {
  const text = (typeof haystack === 'string' ? haystack : haystack.toString('latin1')).toLowerCase();
  return needles.filter((n) => text.includes(n.toLowerCase()));
};

async function tablesText(stack: TestStack): Promise<string> {
  const tables = await sql<{ table_name: string }>`
    select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`.execute(
    stack.db,
  );
  let text = '';
  for (const { table_name } of tables.rows) {
    const rows = await sql`select * from ${sql.table(table_name)}`.execute(stack.db);
    text += `${table_name}: ${JSON.stringify(rows.rows)}\n`;
  }
  return text;
}

function folderText(dir: string): string {
  if (!fs.existsSync(dir)) return '';
  return fs
    .readdirSync(dir)
    .map((f) => fs.readFileSync(path.join(dir, f), 'latin1'))
    .join('\n');
}

describe.each([
  ['PGlite', () => undefined],
  ['PostgreSQL', () => postgres.url],
])('on %s', (engine, url) => {
  const canary = canaryOf(engine);
  const other = otherOf(engine);
  const logs: string[] = [];
  let stack: TestStack;

  beforeAll(async () => {
    stack = await startTestStack(env, {
      journeysDirs: [],
      databaseUrl: url(),
      twilio: standIn,
      webhooks: { allowHosts: [hooks.host], allowPrivate: true },
      logger: createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(line) } }),
    });
    await stack.publish({ 'care.yaml': journey(hooks.url) });
  });
  afterAll(async () => {
    await stack?.close();
  });

  async function complain(p: Person, id: string) {
    const receipt = await stack.sendEvent({
      id,
      type: 'complaint.opened',
      customer: { email: p.email, phone: p.phone },
      profile: { firstName: p.firstName, lastName: p.lastName, attributes: { colour: p.colour } },
      data: { subject: p.subject },
    });
    const workflowId = receipt.enrolled[0]!.workflowId;
    // Every step has run: the journey waits on the task.
    await eventually(
      'the journey to wait on its task',
      () => stack.temporal.workflow.getHandle(workflowId).query(journeyStateQuery),
      {
        until: (s) => s.currentStep === 'call',
      },
    );
    return { customerId: receipt.customerId, workflowId };
  }

  test('after erasure no canary is found anywhere; another customer is untouched', async () => {
    const zeb = await complain(canary, `canary-${engine}`);
    const olive = await complain(other, `other-${engine}`);
    const canaries = valuesOf(canary);

    // The canaries went everywhere the journey reaches, and the searches below find them there.
    expect(found(await tablesText(stack), canaries)).toEqual(canaries);
    expect(found(folderText(stack.outboxDir), [canary.firstName, canary.subject, canary.email])).toHaveLength(3);
    expect(standIn.messages.some((m) => m.body.includes(canary.firstName))).toBe(true);
    expect(hooks.requests.some((r) => r.body.includes(canary.colour))).toBe(true);
    // In Temporal they are there, sealed: the codec opens the journey's input to the event's data.
    const plain = new Client({ connection: env.connection, namespace: env.namespace ?? 'default' });
    const started = (await plain.workflow.getHandle(zeb.workflowId).fetchHistory()).events![0]!
      .workflowExecutionStartedEventAttributes!.input!.payloads!;
    const opened = await stack.protection.codec.decode(started);
    expect(JSON.stringify(opened.map((p) => defaultPayloadConverter.fromPayload(p)))).toContain(canary.subject);
    // As operators read them: the codec endpoint the Temporal CLI and UI call.
    const asJson = temporal.api.common.v1.Payloads.toObject(
      temporal.api.common.v1.Payloads.create({ payloads: started }),
      {
        bytes: String,
      },
    );
    const endpoint = await stack.api.inject({ method: 'POST', url: '/v1/codec/decode', payload: asJson });
    expect(endpoint.statusCode).toBe(200);
    const decoded = endpoint.json<{ payloads: { data: string }[] }>().payloads;
    expect(Buffer.from(decoded[0]!.data, 'base64').toString()).toContain(canary.subject);

    const res = await stack.api.inject({
      method: 'POST',
      url: `/v1/customers/${encodeURIComponent(canary.email)}/erase`,
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ erased: true, cancelled: ['care'], keysDestroyed: 1, outboxMessages: 1 });

    // Nowhere: not in a table, a log line, the outbox, a history of theirs, or Temporal's own file.
    expect(found(await tablesText(stack), canaries)).toEqual([]);
    expect(found(logs.join('\n'), canaries)).toEqual([]);
    expect(found(folderText(stack.outboxDir), canaries)).toEqual([]);
    const workflows = await stack.db
      .selectFrom('enrollments')
      .select('workflow_id')
      .where('customer_id', '=', zeb.customerId)
      .execute();
    expect(workflows.length).toBeGreaterThan(0);
    for (const { workflow_id } of workflows) {
      const history = await plain.workflow.getHandle(workflow_id).fetchHistory();
      expect(found(Buffer.from(temporal.api.history.v1.History.encode(history).finish()), canaries)).toEqual([]);
    }
    expect(found(folderText(scratch), canaries)).toEqual([]);
    // And what Temporal keeps of them cannot be opened any more.
    await expect(stack.protection.codec.decode(started)).rejects.toThrow(/no longer exists/);
    const shredded = await stack.api.inject({ method: 'POST', url: '/v1/codec/decode', payload: asJson });
    expect(shredded.statusCode).toBe(422);
    expect(shredded.json<{ detail: string }>().detail).toMatch(/personal data was erased/);

    // The other customer: untouched, readable, and their journey still waits on its task.
    const view = await stack.api.inject({ method: 'GET', url: `/v1/customers/${encodeURIComponent(other.email)}` });
    expect(view.json()).toMatchObject({ customer: { firstName: other.firstName, lastName: other.lastName } });
    const state = await stack.temporal.workflow.getHandle(olive.workflowId).query(journeyStateQuery);
    expect(state.currentStep).toBe('call');
    const tasks = await stack.api.inject({ method: 'GET', url: `/v1/tasks?customer=${olive.customerId}` });
    expect(JSON.stringify(tasks.json())).toContain(other.subject);
  });
});
