/** The webhook step on its own: the call it asks for, and what its answer is recorded as. */
import { ApplicationFailure } from '@temporalio/common';
import { journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

const steps = `  - { id: crm, type: webhook, url: 'https://crm.example.com/hooks/rapport', body: '{"id": "{{ customer.id }}"}' }
`;

test('asks for the call and records the answer', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps));
  expect(calls.webhooks[0]).toMatchObject({
    stepId: 'crm',
    method: 'POST',
    url: 'https://crm.example.com/hooks/rapport',
  });
  expect(outcomes[0]!.result).toEqual({ kind: 'webhook', status: 'called', httpStatus: 200, reason: null });
});

test('an endpoint that answers an error is recorded as failed, with its status', async () => {
  const { outcomes } = await runJourney(server(), journeyWith(steps), {
    activities: {
      callWebhook: () => Promise.resolve({ ok: false, status: 422, detail: 'crm.example.com answered 422' }),
    },
  });
  expect(outcomes[0]!.result).toEqual({
    kind: 'webhook',
    status: 'failed',
    httpStatus: 422,
    reason: 'crm.example.com answered 422',
  });
});

test('a call whose retries run out is recorded as failed, and the journey goes on', async () => {
  const { outcomes, result } = await runJourney(server(), journeyWith(steps), {
    activities: { callWebhook: () => Promise.reject(ApplicationFailure.nonRetryable('connection refused')) },
  });
  expect(outcomes[0]!.result).toEqual({
    kind: 'webhook',
    status: 'failed',
    httpStatus: null,
    reason: 'connection refused',
  });
  expect(result.outcome).toBe('completed');
});
