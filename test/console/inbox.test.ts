/**
 * The support inbox, and the complaint-recovery journey end to end in Chromium with a real SMTP server:
 * a complaint comes in, the customer gets the acknowledgement by email, a support agent finds the task
 * in the inbox (overdue and due-soon tasks first), completes it with an outcome and a note, and the
 * journey goes on: two days later the customer gets the survey.
 */
import {
  accessibilityProblems,
  type ConsoleStack,
  NARROW,
  overflowsSideways,
  screenshot,
  signIn,
  startConsoleStack,
  WIDE,
} from '../helpers/browser';
import { eventually } from '../helpers/eventually';
import { type SmtpSink, startSmtpSink } from '../helpers/smtp-sink';

let sink: SmtpSink;
let cs: ConsoleStack;

beforeAll(async () => {
  sink = await startSmtpSink();
  cs = await startConsoleStack({ smtpUrl: sink.url });
});

afterAll(async () => {
  await cs?.close();
  await sink?.close();
});

const HOUR = 3600_000;

const api = <T>(method: 'GET' | 'POST', url: string, payload?: unknown) =>
  cs.api<T>(method, url, payload === undefined ? {} : { body: payload });

/** A task put straight in the table (as a journey's task step would), due at `dueAt`. */
async function task(id: string, customerId: string, team: string, title: string, dueAt: Date | null) {
  await cs.stack.db
    .insertInto('tasks')
    .values({
      id,
      task_key: `test:${id}`,
      customer_id: customerId,
      team,
      title,
      due_at: dueAt,
      status: 'open',
      created_at: new Date(Date.now() - 2 * HOUR),
    })
    .execute();
}

test('complaint recovery in the browser: acknowledgement, task in the inbox, completed by an agent, survey two days later', async () => {
  // A complaint comes in for a customer with an email address.
  const sent = await api<{ customerId: string; enrolled: { journey: string; workflowId: string }[] }>(
    'POST',
    '/v1/events?wait=routed',
    {
      id: 'complaint-1',
      type: 'complaint.opened',
      customer: { email: 'ada@example.com' },
      profile: { firstName: 'Ada', lastName: 'Byron' },
      data: { subject: 'Broken CD', message: 'The CD case arrived cracked.' },
    },
  );
  expect(sent.status).toBe(202);
  const { customerId } = sent.body;
  const workflowId = sent.body.enrolled.find((e) => e.journey === 'complaint-recovery')!.workflowId;

  // The acknowledgement, at the SMTP server.
  const [ack] = await sink.waitFor(1);
  expect(ack!.subject).toBe('We received your message: Broken CD');
  expect(ack!.to).toMatchObject({ value: [expect.objectContaining({ address: 'ada@example.com' })] });

  // The journey's task, and others around it: one overdue, one due within the hour, one for another team.
  const title = 'Resolve complaint from Ada Byron: Broken CD';
  const journeyTask = await eventually('the support task', async () => {
    const r = await api<{ tasks: { id: string; title: string }[] }>('GET', `/v1/tasks?customer=${customerId}`);
    return r.body.tasks.find((t) => t.title === title);
  });
  await task('tsk_overdue', customerId, 'support', 'Call back about the refund', new Date(Date.now() - 3 * HOUR));
  await task('tsk_soon', customerId, 'support', 'Check the replacement shipped', new Date(Date.now() + HOUR));
  await task('tsk_sales', customerId, 'sales', 'Offer the loyalty plan', new Date(Date.now() + 48 * HOUR));

  // A support agent signs in and lands on the inbox.
  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.support);
  expect(new URL(page.url()).pathname).toBe('/console/inbox');
  expect(await accessibilityProblems(page)).toEqual([]);

  // Their team's tasks: overdue first, then due soon, then the complaint (due in a day).
  await page.getByLabel('Team').selectOption('support');
  await page.getByRole('button', { name: 'Show' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/inbox?team=support`);
  const rows = page.getByRole('region', { name: 'Open tasks' }).getByRole('row');
  expect(await rows.count()).toBe(4);
  expect(await rows.nth(1).textContent()).toMatch(/Call back about the refund.*overdue/s);
  expect(await rows.nth(2).textContent()).toMatch(/Check the replacement shipped.*due soon/s);
  expect(await rows.nth(3).textContent()).toContain(title);
  expect(await rows.nth(3).textContent()).toContain('complaint-recovery');
  expect(await page.getByText('Offer the loyalty plan').count()).toBe(0);
  const customerLink = rows.nth(3).getByRole('link', { name: 'Ada Byron', exact: true });
  expect(await customerLink.getAttribute('href')).toBe(`/console/customers/${customerId}`);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'inbox');
  await page.setViewportSize(NARROW);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'inbox-narrow');
  await page.setViewportSize(WIDE);

  // The task's page, and completing it with an outcome and a note.
  await page.getByRole('link', { name: title }).click();
  await page.waitForURL(`${cs.baseUrl}/console/inbox/${journeyTask.id}`);
  expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(title);
  expect(await page.getByText('The CD case arrived cracked.').count()).toBe(1);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'inbox-task');
  await page.setViewportSize(NARROW);
  expect(await overflowsSideways(page)).toBe(false);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'inbox-task-narrow');
  await page.setViewportSize(WIDE);

  await page.getByLabel('Outcome').fill('resolved');
  await page.getByLabel('Note').fill('Sent a new CD by express post and apologised.');
  await page.getByRole('button', { name: 'Complete' }).click();
  await page.waitForURL(`${cs.baseUrl}/console/inbox?team=support&completed=${journeyTask.id}`);
  const confirmation = await page.getByRole('status').textContent();
  expect(confirmation).toContain(`Completed “${title}” with the outcome resolved.`);
  expect(confirmation).toContain('complaint-recovery, goes on');
  // The inbox no longer lists it; the others are still there.
  expect(await page.getByRole('link', { name: title }).count()).toBe(0);
  expect(await page.getByRole('region', { name: 'Open tasks' }).getByRole('row').count()).toBe(3);
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'inbox-completed');
  await page.setViewportSize(NARROW);
  expect(await overflowsSideways(page)).toBe(false);
  await screenshot(page, 'inbox-completed-narrow');
  await context.close();

  // The journey goes on: it records the outcome, waits two days (cool-off), then sends the survey.
  await eventually(
    'the two-day cool-off timer',
    async () => {
      const history = await cs.stack.plainTemporal.workflow.getHandle(workflowId).fetchHistory();
      return history.events!.some(
        (e) => Number(e.timerStartedEventAttributes?.startToFireTimeout?.seconds ?? 0) === 2 * 24 * 3600,
      );
    },
    { until: (started) => started },
  );
  await cs.env.sleep('2d');
  const mail = await sink.waitFor(2);
  expect(mail[1]!.subject).toBe('Did we put it right?');
  expect(mail[1]!.to).toMatchObject({ value: [expect.objectContaining({ address: 'ada@example.com' })] });

  // The customer's timeline says so.
  const timeline = await eventually(
    'the survey on the timeline',
    async () =>
      (
        await api<{ timeline: { kind: string; summary: string; data: Record<string, unknown> }[] }>(
          'GET',
          `/v1/customers/${customerId}`,
        )
      ).body.timeline,
    { until: (t) => t.some((e) => e.summary === 'email sent: Did we put it right?') },
  );
  const completed = timeline.find((e) => e.summary === `task completed: ${title} (resolved)`);
  expect(completed).toMatchObject({
    kind: 'task',
    data: { taskId: journeyTask.id, outcome: 'resolved', note: 'Sent a new CD by express post and apologised.' },
  });
  const summaries = timeline.map((e) => e.summary);
  expect(summaries).toEqual(
    expect.arrayContaining([
      'email sent: We received your message: Broken CD',
      `task created for support: ${title}`,
      'email sent: Did we put it right?',
    ]),
  );
  const customer = await api<{ customer: { attributes: Record<string, unknown> } }>(
    'GET',
    `/v1/customers/${customerId}`,
  );
  expect(customer.body.customer.attributes).toMatchObject({ lastComplaintOutcome: 'resolved' });
});

test('completing needs an outcome and tasks:write; a read-only key sees the task without the form', async () => {
  const { body } = await api<{ customer: { id: string } }>('POST', '/v1/customers', {
    customer: { email: 'cy@example.com' },
    profile: { firstName: 'Cy' },
  });
  await task('tsk_plain', body.customer.id, 'billing', 'Explain the invoice', null);
  // The API's list names the teams with open tasks (the inbox's filter) and each task's customer.
  const list = await api<{ tasks: { id: string; customerName: string }[]; teams: { team: string; open: number }[] }>(
    'GET',
    '/v1/tasks?team=billing',
  );
  expect(list.body.tasks).toEqual([expect.objectContaining({ id: 'tsk_plain', customerName: 'Cy' })]);
  expect(list.body.teams).toContainEqual({ team: 'billing', open: 1 });
  expect((await api('GET', '/v1/tasks/tsk_nothing')).status).toBe(404);

  const context = await cs.browser.newContext({ viewport: WIDE });
  const page = await context.newPage();
  await signIn(page, cs.baseUrl, cs.keys.support);
  await page.goto(`${cs.baseUrl}/console/inbox/tsk_plain`);
  // An outcome of only spaces passes the browser's `required`, and the API refuses it: the page says why.
  await page.getByLabel('Outcome').fill('   ');
  await page.getByLabel('Note').fill('Kept when refused');
  await page.getByRole('button', { name: 'Complete' }).click();
  await page.getByRole('alert').waitFor();
  expect(await page.getByRole('alert').textContent()).toContain('expected an outcome');
  expect(await page.getByLabel('Note').inputValue()).toBe('Kept when refused');
  expect(await accessibilityProblems(page)).toEqual([]);
  await screenshot(page, 'inbox-task-refused');
  await context.close();

  const viewer = await cs.newKey('viewer', ['tasks:read']);
  const readOnly = await cs.browser.newContext({ viewport: NARROW });
  const view = await readOnly.newPage();
  await signIn(view, cs.baseUrl, viewer);
  await view.goto(`${cs.baseUrl}/console/inbox/tsk_plain`);
  expect(await view.getByRole('heading', { level: 1 }).textContent()).toBe('Explain the invoice');
  expect(await view.getByRole('button', { name: 'Complete' }).count()).toBe(0);
  expect(await view.getByText('needs an API key with the tasks:write scope').count()).toBe(1);
  // No customers:read: the customer is named, not linked.
  expect(await view.getByRole('link', { name: 'Cy' }).count()).toBe(0);
  expect(await accessibilityProblems(view)).toEqual([]);
  expect(await overflowsSideways(view)).toBe(false);
  // The form posted anyway (with the page's own CSRF token) is refused by the API.
  const token = await view.locator('input[name=_csrf]').first().inputValue();
  const forced = await readOnly.request.post(`${cs.baseUrl}/console/inbox/tsk_plain/complete`, {
    form: { _csrf: token, outcome: 'resolved' },
    maxRedirects: 0,
  });
  expect(forced.status()).toBe(403);
  await readOnly.close();
  const after = await api<{ task: { status: string } }>('GET', '/v1/tasks/tsk_plain');
  expect(after.body.task.status).toBe('open');
});
