/** The wait_for step on its own: the event arrives, or the timeout passes. */
import { journeyEventSignal } from '../messages';
import { customer, journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

const steps = `  - id: activated
    type: wait_for
    event: app.activated
    timeout: 3d
    on_event:
      - { id: congrats, type: send, channel: email, subject: Welcome, text: Welcome aboard }
    on_timeout:
      - { id: nudge, type: send, channel: email, subject: Nudge, text: Try it }
`;

test('the event arriving runs on_event', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps), {
    during: async (handle) => {
      await handle.signal(journeyEventSignal, {
        event: { id: 'evt_act', type: 'app.activated', occurredAt: new Date().toISOString(), data: {} },
        customer: customer(),
      });
    },
  });
  expect(outcomes.map((o) => o.result)).toEqual([
    { kind: 'wait_for', status: 'event', event: 'app.activated' },
    { kind: 'send', status: 'sent', channel: 'email', reason: null },
  ]);
  expect(calls.sends.map((s) => s.stepId)).toEqual(['congrats']);
});

test('another event does not count, and the timeout runs on_timeout', async () => {
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps), {
    during: async (handle) => {
      await handle.signal(journeyEventSignal, {
        event: { id: 'evt_other', type: 'order.placed', occurredAt: new Date().toISOString(), data: {} },
        customer: customer(),
      });
    },
  });
  expect(outcomes[0]!.result).toEqual({ kind: 'wait_for', status: 'timeout', event: 'app.activated' });
  expect(calls.sends.map((s) => s.stepId)).toEqual(['nudge']);
});
