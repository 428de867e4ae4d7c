/** The digest step on its own: the window closes, or `max` events end it early; `when` filters. */
import type { DigestFacts } from '../../definitions/facts';
import { journeyEventSignal } from '../messages';
import { customer, journeyWith, runJourney, timeSkippingServer } from '../../test/helpers/journey-run';

const server = timeSkippingServer();

const digestOf = (fields: string) => `  - id: replies
    type: digest
    event: comment.added
    window: 1h
${fields}  - id: tell
    type: send
    channel: email
    subject: "{{ events.replies.count }} new replies"
    text: "{% for r in events.replies.items %}{{ r.data.text }} {% endfor %}"
`;

const comment = (id: string, data: Record<string, unknown>) => ({
  event: { id, type: 'comment.added', occurredAt: new Date().toISOString(), data },
  customer: customer(),
});

test('the window closes with the events gathered, oldest first, and the send reads them', async () => {
  const { outcomes, calls, result } = await runJourney(server(), journeyWith(digestOf('    max: 20\n')), {
    during: async (handle) => {
      for (const [id, text] of [
        ['evt_a', 'one'],
        ['evt_b', 'two'],
        ['evt_c', 'three'],
      ] as const) {
        await handle.signal(journeyEventSignal, comment(id, { text }));
      }
      // Another type is not gathered.
      await handle.signal(journeyEventSignal, {
        event: { id: 'evt_x', type: 'order.placed', occurredAt: new Date().toISOString(), data: {} },
        customer: customer(),
      });
    },
  });
  expect(outcomes.map((o) => o.result)).toEqual([
    { kind: 'digest', status: 'closed', event: 'comment.added', count: 3 },
    { kind: 'send', status: 'sent', channel: 'email', reason: null },
  ]);
  const digest = calls.sends[0]!.events.replies as DigestFacts;
  expect(digest.count).toBe(3);
  expect(digest.items.map((i) => [i.id, i.type, i.data])).toEqual([
    ['evt_a', 'comment.added', { text: 'one' }],
    ['evt_b', 'comment.added', { text: 'two' }],
    ['evt_c', 'comment.added', { text: 'three' }],
  ]);
  // Nothing but the event's own fields is kept.
  expect(Object.keys(digest.items[0]!).sort()).toEqual(['data', 'id', 'occurredAt', 'type']);
  // The step waited out its whole window (workflow time, skipped by the test server).
  expect(calls.marks[0]!.waitingFor).toMatch(/^up to 20 comment\.added events until /);
  expect(Date.parse(result.history[0]!.at) - Date.parse(calls.sends[0]!.enrolledAt)).toBeGreaterThanOrEqual(3_600_000);
});

test('max reached early ends the step at once', async () => {
  const { outcomes, calls, result } = await runJourney(server(), journeyWith(digestOf('    max: 2\n')), {
    during: async (handle) => {
      await handle.signal(journeyEventSignal, comment('evt_1', { text: 'one' }));
      await handle.signal(journeyEventSignal, comment('evt_2', { text: 'two' }));
      await handle.signal(journeyEventSignal, comment('evt_3', { text: 'three' }));
    },
  });
  expect(outcomes[0]!.result).toEqual({ kind: 'digest', status: 'full', event: 'comment.added', count: 2 });
  expect((calls.sends[0]!.events.replies as DigestFacts).items.map((i) => i.id)).toEqual(['evt_1', 'evt_2']);
  // Long before the hour's window would have closed.
  expect(Date.parse(result.history[0]!.at) - Date.parse(calls.sends[0]!.enrolledAt)).toBeLessThan(30 * 60_000);
});

test('`when` filters the events, and the enrolling event counts first when it is of the type', async () => {
  const steps = `  - id: replies
    type: digest
    event: test.started
    window: 1h
    max: 10
    when: "event.data.ticket == 'T-1'"
  - id: tell
    type: send
    channel: email
    subject: "{{ events.replies.count }}"
    text: "{% for r in events.replies.items %}{{ r.id }} {% endfor %}"
`;
  const started = (id: string, ticket: string) => ({
    event: { id, type: 'test.started', occurredAt: new Date().toISOString(), data: { ticket } },
    customer: customer(),
  });
  const { outcomes, calls } = await runJourney(server(), journeyWith(steps), {
    data: { ticket: 'T-1' },
    during: async (handle) => {
      await handle.signal(journeyEventSignal, started('evt_other', 'T-2'));
      await handle.signal(journeyEventSignal, started('evt_same', 'T-1'));
    },
  });
  expect(outcomes[0]!.result).toEqual({ kind: 'digest', status: 'closed', event: 'test.started', count: 2 });
  const items = (calls.sends[0]!.events.replies as DigestFacts).items;
  expect(items.map((i) => i.data.ticket)).toEqual(['T-1', 'T-1']);
  expect(items[1]!.id).toBe('evt_same');
});

test('a list that would outgrow 256 KiB ends the digest full, as max does', async () => {
  const big = (n: number) => ({ text: String(n).repeat(100_000) });
  const { outcomes, calls, result } = await runJourney(server(), journeyWith(digestOf('    max: 20\n')), {
    during: async (handle) => {
      await handle.signal(journeyEventSignal, comment('evt_1', big(1)));
      await handle.signal(journeyEventSignal, comment('evt_2', big(2)));
      await handle.signal(journeyEventSignal, comment('evt_3', big(3)));
    },
  });
  // Two of 100,000 characters fit under 256 KiB; a third would not.
  expect(outcomes[0]!.result).toEqual({ kind: 'digest', status: 'full', event: 'comment.added', count: 2 });
  expect((calls.sends[0]!.events.replies as DigestFacts).items.map((i) => i.id)).toEqual(['evt_1', 'evt_2']);
  expect(Date.parse(result.history[0]!.at) - Date.parse(calls.sends[0]!.enrolledAt)).toBeLessThan(30 * 60_000);
});
