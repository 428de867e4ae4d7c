/**
 * Two records of one person merge while each is in the same journey: one enrollment stays, the one
 * further along, and the other is cancelled with the reason on the timeline. The one that stays goes
 * on under the surviving record, whichever record it started for.
 */
import { createHarness, type Harness } from '../../client/tools/testing/harness';

let h: Harness;

beforeAll(async () => {
  h = await createHarness({
    journeys: {
      'nurture.yaml': `
journey: nurture
name: Nurture
category: service
trigger: { event: nurture.start }
steps:
  - id: one
    type: send
    channel: email
    subject: "Step one"
    text: "One."
  - id: pause-1
    type: wait
    duration: 2d
  - id: two
    type: send
    channel: email
    subject: "Step two"
    text: "Two."
  - id: pause-2
    type: wait
    duration: 2d
  - id: three
    type: send
    channel: email
    subject: "Step three"
    text: "Three."
`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

const enrollment = (workflowId: string) =>
  h.stack.db
    .selectFrom('enrollments')
    .select(['id', 'customer_id', 'status', 'outcome'])
    .where('workflow_id', '=', workflowId)
    .executeTakeFirstOrThrow();

const subjects = async (email: string) => (await h.outbox()).filter((m) => m.to === email).map((m) => m.subject);

test('the survivor’s enrollment is further along: it stays, the merged record’s is cancelled', async () => {
  const a = await h.enroll('nurture.start', { email: 'merge-a@example.com' });
  await h.advance('3d');
  const b = await h.enroll(
    'nurture.start',
    { externalId: { system: 'shop', id: 'b-1' } },
    { email: 'merge-b@example.com' },
  );
  expect(b.customerId).not.toBe(a.customerId);

  // One event names both records: they merge into the older, and the customer is in nurture once.
  const merge = await h.send({
    type: 'profile.updated',
    customer: { email: 'merge-a@example.com', externalId: { system: 'shop', id: 'b-1' } },
  });
  expect(merge.customerId).toBe(a.customerId);
  const kept = await enrollment(a.workflowId);
  expect(kept).toMatchObject({ status: 'active', customer_id: a.customerId });
  const gone = await enrollment(b.workflowId);
  expect(gone.status).toBe('cancelled');
  expect(gone.outcome).toBe(`records merged: enrollment ${kept.id} kept, 3 step(s) along against 1`);
  expect((await h.stack.intake.settleMerges()).length).toBe(0);
  const described = await h.stack.plainTemporal.workflow.getHandle(b.workflowId).describe();
  expect(described.status.name).toBe('TERMINATED');
  const timeline = (await h.timeline(a.customerId)).map((t) => t.summary);
  expect(timeline).toContain(`left nurture: cancelled (${gone.outcome})`);

  expect((await h.finish(a.workflowId)).outcome).toBe('completed');
  expect(await subjects('merge-a@example.com')).toEqual(['Step one', 'Step two', 'Step three']);
  expect(await subjects('merge-b@example.com')).toEqual(['Step one']);
});

test('the merged record’s enrollment is further along: it stays, and goes on under the survivor', async () => {
  // The older record is not in the journey yet; the newer one starts first.
  const c = await h.send({ type: 'visit.recorded', customer: { email: 'merge-c@example.com' } });
  const d = await h.enroll(
    'nurture.start',
    { externalId: { system: 'shop', id: 'd-1' } },
    { email: 'merge-d@example.com' },
  );
  await h.advance('3d');
  const cEnrolled = await h.enroll('nurture.start', { email: 'merge-c@example.com' });
  expect(cEnrolled.customerId).toBe(c.customerId);

  await h.send({
    type: 'profile.updated',
    customer: { email: 'merge-c@example.com', externalId: { system: 'shop', id: 'd-1' } },
  });
  const kept = await enrollment(d.workflowId);
  expect(kept).toMatchObject({ status: 'active', customer_id: c.customerId });
  const gone = await enrollment(cEnrolled.workflowId);
  expect(gone.status).toBe('cancelled');
  expect(gone.outcome).toBe(`records merged: enrollment ${kept.id} kept, 3 step(s) along against 1`);

  expect((await h.finish(d.workflowId)).outcome).toBe('completed');
  // The last step went to the surviving record's address, and is on its timeline.
  expect(await subjects('merge-c@example.com')).toEqual(['Step one', 'Step three']);
  const timeline = (await h.timeline(c.customerId)).map((t) => t.summary);
  expect(timeline).toEqual(
    expect.arrayContaining([
      'email sent: Step three',
      'completed journey nurture',
      `left nurture: cancelled (${gone.outcome})`,
    ]),
  );
  expect((await enrollment(d.workflowId)).status).toBe('completed');
});
