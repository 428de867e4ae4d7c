/**
 * Subscription topics, the pure parts: what validation refuses of a journey's topics, the topic an
 * unsubscribe token carries (and links made before topics still verifying), and the contact policy
 * holding a message of a topic the customer left, and only that.
 */
import { signUnsubscribe, unsubscribeKeys, verifyUnsubscribe } from '../../activities/channels/unsubscribe';
import { decide, DEFAULT_POLICY, type PolicyInput } from '../../activities/policy';
import { heldBy } from '../../activities/store/journey-stats';
import { knownTopics, topicTexts } from '../../activities/topics';
import { compileJourney, formatProblem } from '../../definitions/compile';

const topics = knownTopics(topicTexts());

function compile(source: string) {
  const result = compileJourney(source, 'topics.yaml', { readTemplate: () => undefined, topics });
  return result.ok ? { ok: true as const, definition: result.journey.definition } : result.problems.map(formatProblem);
}

const send = (extra = '') => `
  - id: offer
    type: send
    channel: email
    subject: Hi
    text: Hello${extra}`;

describe('a journey names topics', () => {
  test('the built-in topics have names in the default language and in French', () => {
    expect([...topics]).toEqual(['newsletter', 'offers', 'product-updates']);
    const fr = topicTexts().for('fr-CA');
    for (const id of topics) expect(fr[id]).toBeTruthy();
    expect(fr.offers).not.toBe(topicTexts().for('en').offers);
  });

  test('a marketing journey takes a known topic at its top level, and a step another', () => {
    const r = compile(`journey: promo
name: Promo
category: marketing
topic: offers
trigger: { event: a.b }
steps:${send()}${send('\n    topic: newsletter').replace('id: offer', 'id: news')}`);
    expect(r).toMatchObject({ ok: true, definition: { topic: 'offers' } });
  });

  test('a topic on a journey that is not marketing, an unknown topic, and a malformed one are refused where they stand', () => {
    expect(
      compile(`journey: receipts
name: Receipts
category: transactional
topic: offers
trigger: { event: a.b }
steps:${send('\n    topic: newsletter')}`),
    ).toEqual([
      'topics.yaml:4:8: topic: only marketing messages carry a topic: this journey is transactional, which customers cannot leave by topic',
      'topics.yaml:12:12: steps[0].topic: only marketing messages carry a topic: this journey is transactional, which customers cannot leave by topic',
    ]);
    expect(
      compile(`journey: promo
name: Promo
category: marketing
topic: offer
trigger: { event: a.b }
steps:${send('\n    topic: Big_Deals')}`),
    ).toEqual([
      'topics.yaml:4:8: topic: unknown topic "offer": add it to definitions/texts/topics.yaml (known: newsletter, offers, product-updates)',
      'topics.yaml:12:12: steps[0].topic: expected a topic id: lowercase words joined by "-", such as offers or product-updates',
    ]);
  });
});

describe('unsubscribe tokens carry the topic of their message', () => {
  const keys = unsubscribeKeys('a-secret-of-at-least-thirty-two-characters');

  test('a token with a topic verifies with it; one made before topics verifies without', () => {
    const withTopic = verifyUnsubscribe(
      keys,
      signUnsubscribe(keys, { customerId: 'c1', sendKeyHash: 'h', topic: 'offers' }),
    );
    expect(withTopic).toMatchObject({ ok: true, payload: { c: 'c1', t: 'offers' } });
    // A link sent before topics: the same payload with no `t`, meaning all marketing email.
    const old = verifyUnsubscribe(keys, signUnsubscribe(keys, { customerId: 'c1', sendKeyHash: 'h' }));
    expect(old.ok && old.payload.t).toBe(undefined);
    expect(old.ok).toBe(true);
  });
});

describe('the contact policy and topics', () => {
  const base: PolicyInput = {
    channel: 'email',
    category: 'marketing',
    now: Date.parse('2026-06-01T12:00:00Z'),
    timezone: 'UTC',
    consent: { marketing: true },
    recentSends: [],
  };

  test('a message of a topic the customer left is skipped, naming the topic; other topics go', () => {
    expect(decide({ ...base, topic: { id: 'offers', subscribed: false } }, DEFAULT_POLICY)).toEqual({
      skip: 'topic offers left by the customer on email',
    });
    expect(decide({ ...base, topic: { id: 'newsletter', subscribed: undefined } }, DEFAULT_POLICY)).toEqual({
      allow: true,
    });
    expect(decide({ ...base, topic: { id: 'offers', subscribed: true } }, DEFAULT_POLICY)).toEqual({ allow: true });
    // The journey's report counts it as held by the topic.
    expect(heldBy('topic offers left by the customer on email')).toBe('topic');
  });

  test('leaving everything holds every topic, and is the reason given', () => {
    expect(
      decide({ ...base, consent: { marketing: false }, topic: { id: 'newsletter', subscribed: true } }, DEFAULT_POLICY),
    ).toEqual({ skip: 'no marketing consent for email (withdrawn)' });
  });
});
