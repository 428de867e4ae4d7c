/** The `rapport` command line, run as a user runs it, against a live API. */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import pino from 'pino';
import { openDatabase } from '../../activities/db/database';
import { verifyApiKey } from '../../activities/store/api-keys';
import { listAudit } from '../../activities/store/audit';
import { projectRoot } from '../../paths';
import { embeddedPostgresHome, runningEmbeddedPostgres, startEmbeddedPostgres } from '../../worker/embedded-postgres';
import { startTestStack, type TestStack } from '../helpers/stack';
import { timeSkippingEnv } from '../helpers/temporal';
import { eventually } from '../helpers/eventually';
import type { JourneyReport } from '../../client/server/journeys/report';

let env: TestWorkflowEnvironment;
let stack: TestStack;
let url: string;
let dir: string;

function rapport(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return rapportWith({ RAPPORT_URL: url }, ...args);
}

/** The command line with these settings (and none of the test process's RAPPORT_URL or key). */
function rapportWith(
  settings: NodeJS.ProcessEnv,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { RAPPORT_URL: _url, RAPPORT_API_KEY: _key, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--require', 'tsx/cjs', path.join(projectRoot, 'client/tools/cli/main.ts'), ...args],
      { cwd: projectRoot, env: { ...inherited, ...settings }, timeout: 60_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  env = await timeSkippingEnv();
  stack = await startTestStack(env);
  url = await stack.api.listen({ host: '127.0.0.1', port: 0 });
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-cli-'));
});

afterAll(async () => {
  await stack?.close();
  await env?.teardown();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('validate: ok files exit 0, broken ones print every problem and exit 1', async () => {
  const ok = await rapport('validate', 'definitions/journeys/onboarding.yaml', 'definitions/journeys/cross-sell.yaml');
  expect(ok).toMatchObject({ code: 0 });
  expect(ok.stdout).toBe(
    'definitions/journeys/onboarding.yaml: ok (onboarding)\ndefinitions/journeys/cross-sell.yaml: ok (cross-sell)\n',
  );
  const file = path.join(dir, 'bad.yaml');
  fs.writeFileSync(
    file,
    'journey: bad-one\nname: Bad\ncategory: marketing\ntrigger: { event: x.y }\nsteps:\n  - id: a\n    type: sned\n  - id: b\n    type: wait\n    duration: soon\n',
  );
  const bad = await rapport('validate', file);
  expect(bad.code).toBe(1);
  expect(bad.stdout.trim().split('\n')).toEqual([
    `${file}:7:11: steps[0].type: unknown step type "sned"; did you mean "send"?`,
    `${file}:10:15: steps[1].duration: expected a duration such as 90m, 36h, 3d, 2w or 1d12h (units w, d, h, m, s, largest first)`,
  ]);
  const json = await rapport('validate', '--json', file);
  expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ ok: false, problems: expect.any(Array) })]);
});

test('validate: a translation that drops a variable is a warning; one without its default fails', async () => {
  const templates = path.join(dir, 'templates-languages');
  fs.mkdirSync(path.join(templates, 'greet'), { recursive: true });
  fs.writeFileSync(path.join(templates, 'greet/hi.email.yaml'), 'subject: Hi {{ customer.firstName }}\ntext: Hello\n');
  fs.writeFileSync(path.join(templates, 'greet/hi.email.fr.yaml'), 'subject: Salut\ntext: Bonjour\n');
  fs.writeFileSync(path.join(templates, 'greet/bye.email.de.yaml'), 'subject: Tschüss\ntext: Bis bald\n');
  const file = path.join(dir, 'greet.yaml');
  fs.writeFileSync(
    file,
    'journey: greet\nname: Greet\ncategory: transactional\ntrigger: { event: x.y }\nsteps:\n  - id: a\n    type: send\n    channel: email\n    template: greet/hi\n',
  );
  const out = await rapport('validate', '--templates', templates, file);
  expect(out.code).toBe(1);
  expect(out.stdout.trim().split('\n')).toEqual([
    `${file}: ok (greet)`,
    `${file}:9:15: steps[0].template: template greet/hi.email.fr.yaml does not read customer.firstName, which greet/hi.email.yaml reads: a translation that forgot it? (warning)`,
    `${path.join(templates, 'greet/bye.email.de.yaml')}:1:1: greet/bye.email.de.yaml has no default greet/bye.email.yaml`,
  ]);
});

test('publish shows what changes for customers inside, then publishes; journeys list, show, pause, resume', async () => {
  const started = await stack.sendEvent({
    id: 'cli-1',
    type: 'signup.completed',
    customer: { email: 'cli@example.com' },
  });
  expect(started.enrolled[0]?.journey).toBe('welcome');
  await env.sleep('1h');
  const source = fs.readFileSync(path.join(projectRoot, 'definitions/journeys/welcome.yaml'), 'utf8');
  const file = path.join(dir, 'welcome.yaml');
  fs.writeFileSync(file, source.replace('duration: 3d', 'duration: 4d'));

  const dry = await rapport('publish', '--dry-run', file);
  expect(dry.code).toBe(0);
  expect(dry.stdout).toContain('welcome: current version 1');
  expect(dry.stdout).toContain('v1 settle-in: 1');
  expect(dry.stdout).toContain('1 customer(s) inside stay on the version they started with');

  const published = await rapport('publish', '--json', file);
  expect(JSON.parse(published.stdout)).toEqual([
    expect.objectContaining({ journey: 'welcome', version: 2, created: true }),
  ]);
  const again = await rapport('publish', file);
  expect(again.stdout).toContain('unchanged');

  const list = JSON.parse((await rapport('journeys', 'list', '--json')).stdout) as {
    id: string;
    latestVersion: number;
  }[];
  expect(list.find((j) => j.id === 'welcome')?.latestVersion).toBe(2);
  expect((await rapport('journeys', 'list')).stdout).toMatch(
    /^welcome\s+v2\s+active\s+transactional\s+signup\.completed\s+Welcome a new sign-up$/m,
  );
  const show = await rapport('journeys', 'show', 'welcome');
  expect(show.stdout).toContain('v1 active at settle-in: 1');
  expect((await rapport('journeys', 'pause', 'welcome')).stdout).toBe('welcome is paused\n');
  expect((await rapport('journeys', 'resume', 'welcome', '--json')).stdout).toBe(
    '{"journey":"welcome","status":"active"}\n',
  );
  const missing = await rapport('journeys', 'pause', 'nope');
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('404 Not found: no journey nope');
});

test('send-test: the message for made-up facts, sent through the mailer marked as a test, and shown', async () => {
  const facts = '{"firstName": "Ada", "email": "ada@example.com"}';
  const sent = await rapport('send-test', 'welcome', 'hello', '--customer', facts, '--to', 'qa@example.com');
  expect(sent.code).toBe(0);
  expect(sent.stdout).toMatch(
    /^test email sent to qa@example\.com \(written to outbox as .+\.eml\)\n\nwelcome version \d+, step hello, for the facts given\nchannel: email \(the step sends email\)\n/,
  );
  expect(sent.stdout).toContain('Subject: [TEST] Welcome, Ada!');
  expect(sent.stdout).toContain('--- text ---\nHi Ada,');
  const eml = fs
    .readdirSync(stack.outboxDir)
    .filter((f) => f.endsWith('.eml'))
    .map((f) => fs.readFileSync(path.join(stack.outboxDir, f), 'utf8'))
    .find((m) => m.includes('To: qa@example.com'));
  expect(eml).toContain('X-Rapport-Test: 1');
});

test('graph: Mermaid text, and an HTML page', async () => {
  const mermaid = await rapport('graph', 'definitions/journeys/complaint-recovery.yaml');
  expect(mermaid.code).toBe(0);
  expect(mermaid.stdout).toMatch(/^flowchart TD\n {2}start\(\["complaint\.opened"\]\)/);
  expect(mermaid.stdout).toContain('s_resolve -->|"timeout"| s_escalate');
  expect(mermaid.stdout).toContain('s_feedback -->|"event"| s_still_unhappy');
  const out = path.join(dir, 'graph.html');
  expect((await rapport('graph', 'definitions/journeys/onboarding.yaml', '--out', out)).code).toBe(0);
  const html = fs.readFileSync(out, 'utf8');
  expect(html).toContain('<h1>New customer onboarding</h1>');
  expect(html).toContain('review-time: wait until 10:00 (tue, wed, thu)');
  expect(html).not.toMatch(/<script|https?:\/\//);
});

test('customers show and explain', async () => {
  const r = await stack.sendEvent({
    id: 'cli-show-1',
    type: 'signup.completed',
    customer: { email: 'show@example.com', externalId: { system: 'crm', id: 'S-1' } },
    profile: { firstName: 'Sam', lastName: 'Hart' },
  });
  await env.sleep('1h');
  const show = await rapport('customers', 'show', 'show@example.com');
  expect(show.code).toBe(0);
  expect(show.stdout).toContain(`Sam Hart (${r.customerId})`);
  expect(show.stdout).toContain('identities: email=show@example.com, ext:crm=S-1');
  expect(show.stdout).toMatch(/welcome v\d: active at settle-in/);
  expect(show.stdout).toMatch(/message +email sent: Welcome, Sam!/);
  const json = JSON.parse((await rapport('customers', 'show', r.customerId, '--json')).stdout) as {
    customer: { id: string };
  };
  expect(json.customer.id).toBe(r.customerId);

  const explain = await rapport('explain', 'show@example.com', 'welcome');
  expect(explain.stdout).toMatch(/welcome v\d \(active\)/);
  expect(explain.stdout).toMatch(/now at settle-in, waiting for until \d{4}-/);
  expect(explain.stdout).toMatch(/hello \(email\): sent at .*: sent by email: "Welcome, Sam!"/);
  expect(explain.stdout).toContain('check-in (email): not reached yet: the customer has not got there yet');
  const missing = await rapport('customers', 'show', 'nobody@example.com');
  expect(missing.code).toBe(1);
  expect(missing.stderr).toContain('404 Not found: no customer nobody@example.com');
});

test('customers list and export: ranked, filtered by CEL, a bad condition named; CSV quoted, JSON lines, progress', async () => {
  const imported = async (kind: string, rows: Record<string, string>[]) => {
    const r = await stack.api.inject({
      method: 'POST',
      url: `/v1/imports/${kind}`,
      payload: { rows: rows.map((fields, i) => ({ line: i + 1, fields })) },
    });
    expect(r.json<{ errors: unknown[] }>().errors).toEqual([]);
  };
  await imported('customers', [
    { email: 'ada@list.example', firstName: 'Ada', lastName: 'Byron' },
    { email: 'bo@list.example', firstName: 'Bo', lastName: 'O"Neil, Jr' },
    { email: 'cy@list.example' },
  ]);
  await imported('orders', [
    { email: 'ada@list.example', orderId: 'L-1', occurredAt: '2026-01-05', total: '30' },
    { email: 'bo@list.example', orderId: 'L-2', occurredAt: '2026-01-06', total: '100' },
    { email: 'bo@list.example', orderId: 'L-3', occurredAt: '2026-02-06', total: '20.5' },
  ]);
  const mine = 'customer.email.endsWith("@list.example")';

  const list = await rapport('customers', 'list', '--where', mine, '--sort', 'revenue');
  expect(list.code).toBe(0);
  const lines = list.stdout.trim().split('\n');
  expect(lines[0]).toMatch(/^ID +NAME \/ EMAIL +STAGE +ORDERS +REVENUE +CLV +RFM$/);
  expect(lines.slice(1).map((l) => l.split(/ {2,}/).slice(1))).toEqual([
    ['Bo O"Neil, Jr', 'repeat_customer', '2', '120.50', '0.00', 'none'],
    ['Ada Byron', 'new_customer', '1', '30.00', '0.00', 'none'],
    ['cy@list.example', 'prospect', '0', '0.00', '0.00', 'none'],
  ]);
  const asc = JSON.parse(
    (
      await rapport(
        'customers',
        'list',
        '--where',
        mine,
        '--sort',
        'orders',
        '--order',
        'asc',
        '--limit',
        '2',
        '--json',
      )
    ).stdout,
  ) as { customers: { email: string }[]; next: string | null };
  expect(asc.customers.map((c) => c.email)).toEqual(['cy@list.example', 'ada@list.example']);
  expect(asc.next).toEqual(expect.any(String));

  // A condition that does not compile: the API names the parameter.
  const problem = await stack.api.inject({
    method: 'GET',
    url: `/v1/customers?where=${encodeURIComponent('customer.nope == 1')}`,
  });
  expect(problem.statusCode).toBe(400);
  expect(problem.json<{ errors: { path: string; message: string }[] }>().errors).toEqual([
    { path: 'where', message: expect.stringContaining('nope') },
  ]);

  const file = path.join(dir, 'customers.csv');
  const csv = await rapport('customers', 'export', '--where', mine, '--format', 'csv', '--out', file);
  expect(csv.code).toBe(0);
  expect(csv.stderr).toBe('exported 3 customers…\n');
  const text = fs.readFileSync(file, 'utf8');
  const rows = text.split('\r\n');
  expect(rows[0]).toBe(
    'id,email,phone,firstName,lastName,lifecycleStage,tags,orderCount,lifetimeValue,firstOrderAt,lastOrderAt,pAlive,clv,churnRisk,rfmRecency,rfmFrequency,rfmMonetary,rfmScore,rfmSegment',
  );
  expect(rows[1]).toMatch(/^[^,]+,bo@list\.example,,Bo,"O""Neil, Jr",repeat_customer,,2,120\.5,2026-01-06T/);
  expect(rows.slice(1, -1)).toHaveLength(3);
  expect(rows.at(-1)).toBe('');

  const jsonl = await rapport('customers', 'export', '--where', mine, '--sort', 'lastOrder', '--format', 'jsonl');
  expect(jsonl.code).toBe(0);
  const exported = jsonl.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { email: string; rfm: { segment: string } });
  expect(exported.map((c) => c.email)).toEqual(['bo@list.example', 'ada@list.example', 'cy@list.example']);
  expect(exported[0]!.rfm.segment).toBe('none');
});

test('accounts show: contacts, revenue, value and the latest timeline, as text or JSON', async () => {
  const ann = await stack.sendEvent({
    id: 'cli-acct-1',
    type: 'order.placed',
    customer: { email: 'ann@cli-acme.example' },
    profile: { firstName: 'Ann' },
    account: { id: 'cli-acme', name: 'Acme Ltd' },
    data: { orderId: 'cli-acct-o1', total: 120.5 },
  });
  const bob = await stack.sendEvent({
    id: 'cli-acct-2',
    type: 'page.viewed',
    customer: { email: 'bob@cli-acme.example' },
    account: { id: 'cli-acme' },
  });
  const show = await rapport('accounts', 'show', 'cli-acme');
  expect(show.code).toBe(0);
  const lines = show.stdout.split('\n');
  expect(lines[0]).toBe('Acme Ltd (cli-acme)');
  expect(lines[1]).toMatch(/^ {2}orders 1, revenue 120\.50, last order \d{4}-\d{2}-\d{2}$/);
  expect(show.stdout).toContain('contacts (2):');
  expect(show.stdout).toContain(`  ${ann.customerId}  Ann, ann@cli-acme.example, new_customer, value 0.00`);
  expect(show.stdout).toContain(`  ${bob.customerId}  (no name), bob@cli-acme.example, prospect, value 0.00`);
  expect(show.stdout).toMatch(new RegExp(`${bob.customerId} +event +event page\\.viewed`));
  const json = JSON.parse((await rapport('accounts', 'show', 'cli-acme', '--json')).stdout) as {
    revenue: number;
    contacts: unknown[];
    timeline: { customerId: string; summary: string }[];
  };
  expect(json).toMatchObject({ revenue: 120.5, contacts: [expect.anything(), expect.anything()] });
  expect(json.timeline).toContainEqual(
    expect.objectContaining({ customerId: bob.customerId, summary: 'event page.viewed' }),
  );
});

test('events send and backlog, tasks list and complete', async () => {
  const sent = await rapport(
    'events',
    'send',
    'complaint.opened',
    '--customer',
    'cli-complaint@example.com',
    '--data',
    '{"subject": "Broken CD"}',
    '--profile',
    '{"firstName": "Cleo", "lastName": "Ray"}',
    '--id',
    'cli-complaint-1',
  );
  expect(sent.code).toBe(0);
  expect(sent.stdout).toMatch(
    /^accepted cli-complaint-1 for customer \S+\n {2}enrolled in complaint-recovery \(version \d+\)/,
  );
  const bad = await rapport('events', 'send', 'complaint.opened', '--customer', 'x@example.com', '--data', '[1]');
  expect(bad.code).toBe(1);
  expect(bad.stderr).toContain('--data: expected a JSON object');

  // The router's backlog, once it has routed what this file sent.
  const backlog = await eventually(
    'the router to catch up, in `rapport events backlog --json`',
    async () => {
      const r = await rapport('events', 'backlog', '--json');
      expect(r.code).toBe(0);
      return JSON.parse(r.stdout) as { waiting: number; retrying: number };
    },
    { until: (b) => b.waiting === 0 && b.retrying === 0 },
  );
  expect(backlog).toEqual({ waiting: 0, retrying: 0, parked: 0, oldestReceivedAt: null, oldestAgeSeconds: null });
  const told = await rapport('events', 'backlog');
  expect(told.code).toBe(0);
  expect(told.stdout).toBe(
    '0 events waiting to be routed\n' +
      '0 waiting for their next try after a failed routing (rapport events show <id>)\n' +
      '0 parked (rapport events show|retry <id>)\n',
  );

  const list = await eventually(
    'the support task in `rapport tasks list`',
    () => rapport('tasks', 'list', '--team', 'support'),
    {
      until: (l) => l.stdout.includes('Broken CD'),
    },
  );
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(/open +support +due .* Resolve complaint from Cleo Ray: Broken CD/);
  const tasks = JSON.parse((await rapport('tasks', 'list', '--team', 'support', '--json')).stdout) as {
    id: string;
    title: string;
  }[];
  const task = tasks.find((t) => t.title.includes('Broken CD'))!;
  const done = await rapport('tasks', 'complete', task.id, '--outcome', 'resolved', '--note', 'sent a new CD');
  expect(done.code).toBe(0);
  expect(done.stdout).toBe(`task ${task.id} completed: resolved\n`);
  // The same completion again is harmless (a retry); another outcome is refused.
  expect((await rapport('tasks', 'complete', task.id, '--outcome', 'resolved')).code).toBe(0);
  const other = await rapport('tasks', 'complete', task.id, '--outcome', 'refunded');
  expect(other.code).toBe(1);
  expect(other.stderr).toContain('409 Conflict');
  // One completion in the audit trail: the retry changed nothing.
  const audited = await listAudit(stack.db, { target: `task:${task.id}`, limit: 10 });
  expect(audited.entries).toMatchObject([{ actor: 'local', action: 'task.complete', detail: { outcome: 'resolved' } }]);
});

test('report: the journey as a table with bars, as JSON, as an SVG funnel; a bad day is refused', async () => {
  // The complaint sent above entered complaint-recovery and waits on its support task.
  const json = await eventually(
    'the complaint counted in the report',
    async () => JSON.parse((await rapport('report', 'complaint-recovery', '--json')).stdout) as JourneyReport,
    { until: (r) => r.entered >= 1 },
  );
  expect(json.steps[0]!.reached).toBeGreaterThanOrEqual(1);
  const svgFile = path.join(dir, 'funnel.svg');
  const table = await rapport('report', 'complaint-recovery', '--svg', svgFile);
  expect(table.code).toBe(0);
  expect(table.stdout).toMatch(/^complaint-recovery, all versions\nentered \d+\n/);
  expect(table.stdout).toMatch(new RegExp(`${json.steps[0]!.id} +[█·]{24} +\\d+ +${json.steps[0]!.type}`));
  expect(fs.readFileSync(svgFile, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*complaint-recovery[\s\S]*<\/svg>$/);
  const bad = await rapport('report', 'complaint-recovery', '--since', '2026-02-30');
  expect(bad.code).toBe(1);
  expect(bad.stderr).toMatch(/since/);
});

test('insights: no model before one is fitted, and a fit refused for too few customers says so', async () => {
  const show = await rapport('insights', 'show');
  expect(show.code).toBe(1);
  expect(show.stderr).toContain('no model has been fitted yet');
  const fit = await rapport('insights', 'fit');
  expect(fit.code).toBe(1);
  expect(fit.stderr).toMatch(/too few customers with orders to fit the models: \d+, at least 50/);
});

test('import: a summary, bad rows by line, and exit code 1 when some rows were refused', async () => {
  const file = path.join(dir, 'orders.csv');
  fs.writeFileSync(
    file,
    'cust,order,day,amount\nC1,CLI-1,20260101,12.5\nC1,CLI-2,2026-13-01,3\nC2,CLI-3,20260102,abc\n',
  );
  const r = await rapport(
    'import',
    'orders',
    file,
    '--map',
    'cust=externalId,order=orderId,day=occurredAt,amount=total',
    '--system',
    'shop',
  );
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/^orders: 1 imported, 0 already there, 2 problem\(s\), in [\d.]+ s\n/);
  expect(r.stdout).toContain(`${file}:3: occurredAt: expected a date`);
  expect(r.stdout).toContain(`${file}:4: total: expected the order total, a number`);
  const usage = await rapport('import', 'products', file);
  expect(usage.code).toBe(2);
});

test('keys create, list and revoke; once a key exists, the command line needs one', async () => {
  const created = await rapport('keys', 'create', '--name', 'ops-laptop', '--scopes', 'admin', '--json');
  expect(created.code).toBe(0);
  const key = JSON.parse(created.stdout) as { key: string; id: string };
  expect((await rapport('journeys', 'list')).code).toBe(1);
  const list = await rapport('keys', 'list', '--api-key', key.key);
  expect(list.code).toBe(0);
  expect(list.stdout).toMatch(new RegExp(`${key.id} +…${key.key.slice(-4)} +active +ops-laptop +admin`));
  const badScope = await rapport('keys', 'create', '--name', 'x', '--scopes', 'everything', '--api-key', key.key);
  expect(badScope.code).toBe(1);
  expect(badScope.stderr).toContain('--scopes: expected some of events:write');
  const audit = await rapport('audit', '--action', 'key', '--api-key', key.key);
  expect(audit.code).toBe(0);
  expect(audit.stdout.split('\n').slice(0, 2)).toEqual([
    expect.stringMatching(/^TIME \(UTC\) +ACTOR +ACTION +TARGET +DETAIL$/),
    expect.stringMatching(
      new RegExp(
        `^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d +local +key\\.create +key:${key.id} +name=ops-laptop scopes=\\["admin"\\]$`,
      ),
    ),
  ]);
  const revoked = await rapport('keys', 'revoke', key.id, '--api-key', key.key);
  expect(revoked.stdout).toBe(`API key ${key.id} revoked\n`);
  expect((await rapport('keys', 'list', '--api-key', key.key)).code).toBe(1);
});

test('on Rapport’s machine, keys create writes the key straight to its database, running or not', async () => {
  const data = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-cli-keys-'));
  const local = { RAPPORT_DATA_DIR: data };
  try {
    // Rapport is not running: the command starts the data folder's PostgreSQL, and stops it after.
    const first = await rapportWith(local, 'keys', 'create', '--name', 'first', '--scopes', 'admin', '--json');
    expect(first.code).toBe(0);
    const firstKey = JSON.parse(first.stdout) as { key: string; scopes: string[] };
    expect(firstKey.scopes).toEqual(['admin']);
    expect(runningEmbeddedPostgres(path.join(data, 'postgres'))).toBeUndefined();

    // Rapport is running (its PostgreSQL is): the command uses that server and leaves it running.
    const server = await startEmbeddedPostgres({
      home: embeddedPostgresHome()!,
      dir: path.join(data, 'postgres'),
      logger: pino({ level: 'silent' }),
    });
    try {
      const second = await rapportWith(local, 'keys', 'create', '--name', 'shop', '--scopes', 'events:write', '--json');
      expect(second.code).toBe(0);
      const secondKey = JSON.parse(second.stdout) as { key: string };
      expect(runningEmbeddedPostgres(path.join(data, 'postgres'))).toBeDefined();
      const database = await openDatabase({ url: server.url });
      try {
        expect(await verifyApiKey(database.db, firstKey.key)).toMatchObject({ scopes: ['admin'] });
        expect(await verifyApiKey(database.db, secondKey.key)).toMatchObject({ scopes: ['events:write'] });
        // Made on the database, not through the API: the audit trail names the command line.
        const audited = await listAudit(database.db, { action: 'key.create', limit: 10 });
        expect(audited.entries.map((e) => [e.actor, e.actorKeyId, e.detail.name])).toEqual([
          ['cli', null, 'shop'],
          ['cli', null, 'first'],
        ]);
      } finally {
        await database.close();
      }
    } finally {
      await server.stop();
    }
  } finally {
    fs.rmSync(data, { recursive: true, force: true });
  }
});
