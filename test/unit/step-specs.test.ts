/**
 * Each step kind declares its ways out once (definitions/steps/): the interpreter's nested paths,
 * the graph, coverage and the router's "does this journey listen to that event?" read them.
 */
import { compileJourney } from '../../definitions/compile';
import { toMermaid } from '../../definitions/graph';
import { stepKinds } from '../../definitions/schema/registry';
import type { JourneyDefinition } from '../../definitions/schema/journey';
import { armsOf, childLists, stepSpecs, walk } from '../../definitions/steps';
import { journeyArms } from '../../client/tools/simulate/scenarios';
import { listensTo } from '../../client/server/events/router';

const source = `
journey: every-kind
name: Every kind
category: service
trigger: { event: order.placed }
steps:
  - { id: hello, type: send, channel: email, subject: Hi, text: Hello }
  - id: vip
    type: branch
    cases:
      - when: customer.metrics.orderCount > 3
        steps:
          - { id: thanks, type: send, channel: sms, text: Thanks }
    otherwise:
      - id: activated
        type: wait_for
        event: app.activated
        timeout: 3d
        on_timeout:
          - { id: nudge, type: send, channel: email, subject: Nudge, text: Try it }
  - id: offer
    type: split
    paths:
      - { name: a, weight: 1, steps: [{ id: tag, type: update, tags: { add: [offer-a] } }] }
      - { name: holdout, weight: 1 }
  - id: call
    type: task
    team: success
    title: Call
    wait:
      timeout: 2d
      on_timeout:
        - { id: pause, type: wait, duration: 1d }
  - { id: crm, type: webhook, url: "https://crm.example.com/hook" }
  - { id: done, type: exit, reason: finished }
`;

function definition(): JourneyDefinition {
  const compiled = compileJourney(source, 'every-kind.yaml', { readTemplate: () => undefined });
  if (!compiled.ok) throw new Error(compiled.problems.map((p) => p.message).join('; '));
  return compiled.journey.definition;
}

test('every kind of step has a spec', () => {
  expect(Object.keys(stepSpecs).sort()).toEqual([...stepKinds].sort());
});

test('walk visits every step in reading order, with its path and the arm it runs in', () => {
  const seen: string[] = [];
  walk(definition().steps, ['steps'], (step, path, within) =>
    seen.push(`${path.join('.')} ${step.id}${within ? ` (${within.parent.id} ${within.arm.name})` : ''}`),
  );
  expect(seen).toEqual([
    'steps.0 hello',
    'steps.1 vip',
    'steps.1.cases.0.steps.0 thanks (vip case 1)',
    'steps.1.otherwise.0 activated (vip otherwise)',
    'steps.1.otherwise.0.on_timeout.0 nudge (activated on_timeout)',
    'steps.2 offer',
    'steps.2.paths.0.steps.0 tag (offer path a)',
    'steps.3 call',
    'steps.3.wait.on_timeout.0 pause (call on_timeout)',
    'steps.4 crm',
    'steps.5 done',
  ]);
});

test("a step's nested lists are the arms that run steps of their own", () => {
  const call = definition().steps[3]!;
  expect(armsOf(call).map((a) => a.name)).toEqual(['completed', 'on_timeout']);
  expect(childLists(call).map((c) => c.path)).toEqual([['wait', 'on_timeout']]);
});

test('coverage lists each step and each of its ways out, in reading order', () => {
  expect(journeyArms(definition())).toEqual([
    'step hello',
    'step vip',
    'branch vip case 1',
    'step thanks',
    'branch vip otherwise',
    'step activated',
    'wait_for activated on_event',
    'wait_for activated on_timeout',
    'step nudge',
    'step offer',
    'split offer path a',
    'step tag',
    'split offer path holdout',
    'step call',
    'task call completed',
    'task call on_timeout',
    'step pause',
    'step crm',
    'step done',
  ]);
});

test('a journey listens to the events its steps wait for, however deep', () => {
  const plan = { definition: definition(), templates: {}, contentHash: 'test' };
  expect(listensTo(plan, 'app.activated')).toBe(true);
  expect(listensTo(plan, 'order.placed')).toBe(false);
});

test('the graph draws each way out with its label, and a holdout goes straight on', () => {
  const graph = toMermaid(definition());
  expect(graph).toContain('s_vip{"vip: branch"}');
  expect(graph).toContain('s_vip -->|"customer.metrics.orderCount > 3"| s_thanks');
  expect(graph).toContain('s_activated -->|"timeout"| s_nudge');
  expect(graph).toContain('s_offer -->|"holdout (holdout)"| s_call');
  expect(graph).toContain('s_call -->|"done"| s_crm');
  expect(graph).toContain('s_done(["done: exit: finished"])');
  expect(graph).not.toMatch(/s_done -->/);
});

test("the compiler checks each kind's CEL and Liquid where its spec says they stand", () => {
  // One mistake in each place a kind declares: every one is reported, at its own path.
  const bad = `
journey: bad-texts
name: Bad texts
category: service
trigger: { event: order.placed }
steps:
  - { id: hello, type: send, channel: email, subject: "Hi {{ customer.nickname }}", text: Hello }
  - { id: late, type: wait, until_expr: "customer.lastOrderAt +" }
  - id: vip
    type: branch
    cases:
      - { when: "customer.metrics.orderCount >", steps: [] }
  - { id: activated, type: wait_for, event: app.activated, timeout: 3d, when: "event.data.os ==" }
  - { id: call, type: task, team: success, title: "Call {{ tasks.nobody.outcome }}" }
  - { id: tag, type: update, set: { attributes: { tier: "{{ customer.tier" } } }
  - { id: notify, type: webhook, url: "http://example.com/hook", body: "{{ event.nothing }}" }
`;
  const result = compileJourney(bad, 'bad.yaml', {
    readTemplate: () => undefined,
    liquid: {
      check: (s) => (s.includes('{{') && !s.includes('}}') ? 'unclosed output' : undefined),
      variables: (s) => [...s.matchAll(/\{\{\s*([\w.]+)/g)].map((m) => m[1]!.split('.')),
    },
  });
  expect(result.ok).toBe(false);
  const paths = result.ok ? [] : result.problems.map((p) => p.path);
  expect(paths).toEqual([
    'steps[0].subject',
    'steps[1].until_expr',
    'steps[2].cases[0].when',
    'steps[3].when',
    'steps[4].title',
    'steps[5].set.attributes.tier',
    'steps[6].url',
    'steps[6].body',
  ]);
  // The kinds without CEL or Liquid declare none.
  expect(stepSpecs.exit.expressions({}).length + stepSpecs.exit.texts({}).length).toBe(0);
  expect(stepSpecs.split.expressions({}).length + stepSpecs.split.texts({}).length).toBe(0);
});

test('a digest is a wait on the graph, with no ways out of its own, and its events reach the journey', () => {
  const compiled = compileJourney(
    `
journey: replies
name: Replies
category: service
trigger: { event: comment.added }
entry: { reentry: always }
steps:
  - { id: replies, type: digest, event: comment.added, window: 1h, max: 20 }
  - { id: tell, type: send, channel: email, subject: "{{ events.replies.count }} new", text: Hi }
`,
    'replies.yaml',
    { readTemplate: () => undefined },
  );
  if (!compiled.ok) throw new Error(compiled.problems.map((p) => p.message).join('; '));
  const def = compiled.journey.definition;
  expect(toMermaid(def)).toContain('s_replies[/"replies: digest comment.added (up to 1h, at most 20)"/]');
  expect(toMermaid(def)).toContain('s_replies --> s_tell');
  expect(journeyArms(def)).toEqual(['step replies', 'step tell']);
  const plan = { definition: def, templates: {}, contentHash: 'test' };
  expect(listensTo(plan, 'comment.added')).toBe(true);
  expect(listensTo(plan, 'order.placed')).toBe(false);
});
