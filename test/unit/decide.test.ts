/**
 * The enrollment decision on its own: the trigger's condition, a paused journey, one active
 * enrollment (or concurrent ones), the reentry rule, and routing repeated for the same event.
 */
import { decideEnrollment, enrollmentKey, keyPart, type PriorEnrollment } from '../../client/server/events/decide';
import type { CustomerFacts } from '../../definitions/facts';
import type { JourneyDefinition } from '../../definitions/schema/journey';

const DAY = 86_400_000;
const now = new Date('2026-12-01T12:00:00Z');

function journey(extra: Partial<JourneyDefinition> = {}): JourneyDefinition {
  return {
    journey: 'trial',
    name: 'Trial',
    category: 'service',
    trigger: { event: 'trial.started' },
    steps: [{ id: 'hello', type: 'send', channel: 'email', subject: 'Hi', text: 'Hi.' }],
    ...extra,
  };
}

const customer = (orderCount: number): CustomerFacts =>
  ({
    id: 'cus_1',
    email: 'ada@example.com',
    phone: null,
    firstName: 'Ada',
    lastName: null,
    timezone: 'UTC',
    locale: 'en',
    lifecycleStage: 'prospect',
    tags: [],
    attributes: {},
    consent: {},
    preferredChannel: null,
    metrics: { orderCount, lifetimeValue: 0, lastOrderAt: null, firstOrderAt: null },
  }) as unknown as CustomerFacts;

const event = { id: 'evt-2', type: 'trial.started', occurredAt: now.toISOString(), data: {} };

type Prior = PriorEnrollment & { id: string };
const ended = (id: string, daysAgo: number): Prior => ({
  id,
  event_id: `evt-${id}`,
  status: 'completed',
  ended_at: new Date(now.getTime() - daysAgo * DAY),
});
const active = (id: string): Prior => ({ id, event_id: `evt-${id}`, status: 'active', ended_at: null });

const decide = (def: JourneyDefinition, earlier: Prior[] = [], extra: { paused?: boolean; orders?: number } = {}) =>
  decideEnrollment({
    def,
    paused: extra.paused ?? false,
    event,
    earlier,
    customer: extra.orders === undefined ? undefined : customer(extra.orders),
    now,
  });

test('a first enrollment', () => {
  expect(decide(journey())).toEqual({ action: 'enroll' });
});

test('routing repeated for the same event carries on with the enrollment it made, paused or not', () => {
  const mine = { id: 'enr-mine', event_id: 'evt-2', status: 'active', ended_at: null };
  expect(decide(journey(), [mine])).toEqual({ action: 'resume', enrollment: mine });
  expect(decide(journey(), [mine], { paused: true })).toEqual({ action: 'resume', enrollment: mine });
});

test('a paused journey takes nobody new', () => {
  expect(decide(journey(), [], { paused: true })).toEqual({ action: 'refuse', reason: 'journey is paused' });
});

test('the trigger condition reads the customer and the event', () => {
  const def = journey({ trigger: { event: 'trial.started', when: 'customer.metrics.orderCount == 0' } });
  expect(decide(def, [], { orders: 0 })).toEqual({ action: 'enroll' });
  expect(decide(def, [], { orders: 2 })).toEqual({ action: 'refuse', reason: 'trigger condition does not hold' });
  const failing = journey({ trigger: { event: 'trial.started', when: 'customer.attributes.plan == "pro"' } });
  expect(decide(failing, [], { orders: 0 })).toMatchObject({
    action: 'refuse',
    reason: expect.stringMatching(/^trigger condition failed: /),
  });
});

test('one active enrollment at a time, unless the journey enrolls concurrently', () => {
  const always = journey({ entry: { reentry: 'always' } });
  expect(decide(always, [active('a')])).toEqual({ action: 'refuse', reason: 'already in this journey' });
  expect(decide(journey({ entry: { reentry: 'always', concurrent: true } }), [active('a')])).toEqual({
    action: 'enroll',
  });
});

test('the reentry rule: never, always, after a time since the last enrollment ended', () => {
  expect(decide(journey(), [ended('a', 400)])).toEqual({
    action: 'refuse',
    reason: 'enrolled before (reentry: never)',
  });
  expect(decide(journey({ entry: { reentry: 'always' } }), [ended('a', 0)])).toEqual({ action: 'enroll' });
  const after = journey({ entry: { reentry: 'after 90d' } });
  expect(decide(after, [ended('b', 30), ended('a', 200)])).toEqual({
    action: 'refuse',
    reason: 'enrolled before; reentry allowed after 90d the last enrollment ended',
  });
  expect(decide(after, [ended('b', 90), ended('a', 200)])).toEqual({ action: 'enroll' });
});

test('a keyed journey takes its key from the event: text or a whole number; anything else enrolls nobody', () => {
  const keyed = journey({ entry: { key: 'event.data.cartId' } });
  const withData = (data: Record<string, unknown>) => ({ ...event, data });
  expect(enrollmentKey(journey(), event)).toEqual({});
  expect(enrollmentKey(keyed, withData({ cartId: 'C-1' }))).toEqual({ key: 'C-1' });
  expect(enrollmentKey(keyed, withData({ cartId: 42 }))).toEqual({ key: '42' });
  for (const data of [{}, { cartId: null }, { cartId: '' }, { cartId: 1.5 }, { cartId: { id: 1 } }, { cartId: true }]) {
    expect(enrollmentKey(keyed, withData(data))).toEqual({ refuse: 'the event gives no key (event.data.cartId)' });
  }
  // The key's part of a workflow id: stable, distinct per key and journey, and not the key itself.
  expect(keyPart('carts', 'C-1')).toBe(keyPart('carts', 'C-1'));
  expect(keyPart('carts', 'C-1')).not.toBe(keyPart('carts', 'C-2'));
  expect(keyPart('carts', 'C-1')).not.toBe(keyPart('orders', 'C-1'));
  expect(keyPart('carts', 'C-1')).toMatch(/^k[0-9a-f]{20}$/);
});
