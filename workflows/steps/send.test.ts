/** The send step on its own: the request it makes, and each outcome it records. */
import { ApplicationFailure } from '@temporalio/common';
import { journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

const hello = `  - { id: hello, type: send, channel: email, subject: 'Hi {{ customer.firstName }}', text: Hello }
  - { id: after, type: update, tags: { add: [greeted] } }
`;

test('asks for the message on its channel and records that it was sent', async () => {
  const { calls, outcomes, result } = await runJourney(server(), journeyWith(hello));
  expect(calls.sends).toHaveLength(1);
  expect(calls.sends[0]).toMatchObject({ stepId: 'hello', channel: 'email', category: 'service', journeyId: 'fast' });
  expect(outcomes[0]).toEqual({
    stepId: 'hello',
    result: { kind: 'send', status: 'sent', channel: 'email', reason: null },
  });
  expect(result.outcome).toBe('completed');
});

test('a message the contact policy skips is recorded with its reason, and the journey goes on', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(hello), {
    activities: {
      sendMessage: () =>
        Promise.resolve({
          status: 'skipped' as const,
          channel: 'email' as const,
          detail: 'no consent for marketing email',
        }),
    },
  });
  expect(outcomes[0]!.result).toEqual({
    kind: 'send',
    status: 'skipped',
    channel: 'email',
    reason: 'no consent for marketing email',
  });
  expect(calls.updates).toHaveLength(1);
});

test('a deferred message waits until the time it is given, then is tried again', async () => {
  let until = '';
  const tries: string[] = [];
  const { outcomes } = await runJourney(server(), journeyWith(hello), {
    activities: {
      sendMessage: (req) => {
        tries.push(req.at);
        if (tries.length > 1) return Promise.resolve({ status: 'sent' as const, channel: 'email' as const });
        until = new Date(Date.parse(req.at) + 2 * 3_600_000).toISOString();
        return Promise.resolve({
          status: 'deferred' as const,
          channel: 'email' as const,
          detail: 'quiet hours',
          until,
        });
      },
    },
  });
  expect(outcomes.map((o) => o.result)).toEqual([
    { kind: 'send', status: 'deferred', channel: 'email', reason: 'quiet hours', until },
    { kind: 'send', status: 'sent', channel: 'email', reason: null },
    { kind: 'update' },
  ]);
  expect(tries).toHaveLength(2);
  expect(Date.parse(tries[1]!)).toBeGreaterThanOrEqual(Date.parse(until));
});

test('a send that keeps failing is recorded as failed, and the journey goes on', async () => {
  const { outcomes, calls, result } = await runJourney(server(), journeyWith(hello), {
    activities: { sendMessage: () => Promise.reject(ApplicationFailure.nonRetryable('the provider refused it')) },
  });
  expect(outcomes[0]!.result).toEqual({
    kind: 'send',
    status: 'failed',
    channel: null,
    reason: 'the provider refused it',
  });
  expect(calls.updates).toHaveLength(1);
  expect(result.outcome).toBe('completed');
});
