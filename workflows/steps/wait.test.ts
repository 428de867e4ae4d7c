/** The wait step on its own: a duration, an expression, and an expression that cannot be read. */
import { customer, journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

test('waits its duration, then goes on', async () => {
  const { outcomes, calls } = await runJourney(
    server(),
    journeyWith(`  - { id: later, type: wait, duration: 3d }
  - { id: hello, type: send, channel: email, subject: Hi, text: Hello }
`),
  );
  const wait = outcomes[0]!.result;
  expect(wait).toMatchObject({ kind: 'wait', status: 'waited' });
  const waited = Date.parse(calls.sends[0]!.at) - Date.parse(calls.sends[0]!.enrolledAt);
  expect(waited).toBeGreaterThanOrEqual(3 * 86_400_000);
  expect(waited).toBeLessThan(3 * 86_400_000 + 60_000);
  expect(wait?.kind === 'wait' && Date.parse(wait.until ?? '')).toBeLessThanOrEqual(Date.parse(calls.sends[0]!.at));
});

test('a customer whose until_expr cannot be read does not wait, and the reason is recorded', async () => {
  const { outcomes, calls } = await runJourney(
    server(),
    journeyWith(`  - { id: renewal, type: wait, until_expr: timestamp(event.data.renewsAt) }
  - { id: hello, type: send, channel: email, subject: Hi, text: Hello }
`),
  );
  expect(outcomes[0]!.result).toEqual({ kind: 'wait', status: 'skipped', until: null });
  // Sent at once, not hours or days later.
  expect(Date.parse(calls.sends[0]!.at) - Date.parse(calls.sends[0]!.enrolledAt)).toBeLessThan(60_000);
});

test('an until_expr waits until the time it gives, read from the customer', async () => {
  const renewsAt = new Date(Date.now() + 10 * 86_400_000).toISOString();
  const { outcomes, calls } = await runJourney(
    server(),
    journeyWith(`  - id: renewal
    type: wait
    until_expr: timestamp(customer.attributes.renewsAt) - duration("72h")
  - { id: hello, type: send, channel: email, subject: Hi, text: Hello }
`),
    { customer: customer({ attributes: { renewsAt } }) },
  );
  const until = Date.parse(renewsAt) - 72 * 3_600_000;
  expect(outcomes[0]!.result).toEqual({ kind: 'wait', status: 'waited', until: new Date(until).toISOString() });
  expect(Date.parse(calls.sends[0]!.at)).toBeGreaterThanOrEqual(until);
});
