/**
 * The compiler: the complete example of the format validates; broken definitions, at least one per
 * error kind, fail with the right line, column, path and message, all errors of a file at once.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compileJourney, formatProblem, type Problem } from '../../definitions/compile';
import { liquidChecker, renderHtml, renderText } from '../../activities/render';
import { templateReader } from '../../client/server/journeys/load';
import { projectRoot } from '../../paths';

const options = {
  readTemplate: templateReader(path.join(projectRoot, 'definitions', 'templates')),
  liquid: liquidChecker,
};

function problems(source: string): Problem[] {
  const result = compileJourney(source, 'broken.yaml', options);
  if (result.ok) throw new Error('expected problems, the definition compiled');
  return result.problems;
}

/** A valid journey with `steps` spliced in, so line numbers are easy to count: steps start on line 6. */
function journey(steps: string, extra = ''): string {
  return `journey: broken-one
name: Broken
category: marketing
trigger: { event: thing.happened }${extra}
steps:
${steps}`;
}

test('the complete example of the format validates', () => {
  const source = fs.readFileSync(path.join(projectRoot, 'test/fixtures/format/example.yaml'), 'utf8');
  const result = compileJourney(source, 'example.yaml', options);
  expect(result.ok).toBe(true);
  if (!result.ok) return;
  expect(result.journey.definition.journey).toBe('onboarding');
  expect(Object.keys(result.journey.templates).sort()).toEqual(['email:onboarding/nudge', 'email:onboarding/welcome']);
});

test('every built-in journey validates', () => {
  const dir = path.join(projectRoot, 'definitions', 'journeys');
  for (const f of fs.readdirSync(dir).filter((n) => !n.endsWith('.scenarios.yaml'))) {
    const result = compileJourney(fs.readFileSync(path.join(dir, f), 'utf8'), f, options);
    expect(result.ok ? [] : result.problems.map(formatProblem)).toEqual([]);
  }
});

test.each<[string, string, Partial<Problem>]>([
  [
    'a misspelt field, with a suggestion',
    journey(`  - id: hello\n    type: send\n    channel: email\n    tempalte: onboarding/welcome`),
    { line: 9, column: 5, path: 'steps[0].tempalte', message: 'unknown field "tempalte"; did you mean "template"?' },
  ],
  [
    'concurrent enrollments without reentry: always',
    journey(
      `  - id: hello\n    type: send\n    channel: email\n    template: onboarding/welcome`,
      '\nentry: { concurrent: true }',
    ),
    {
      line: 5,
      path: 'entry.concurrent',
      message: 'concurrent enrollments need "reentry: always" (each triggering event enrolls the customer again)',
    },
  ],
  [
    'a key that is not a valid expression over the event',
    journey(
      `  - id: hello\n    type: send\n    channel: email\n    template: onboarding/welcome`,
      '\nentry: { key: "customer.email" }',
    ),
    { line: 5, path: 'entry.key', message: expect.stringMatching(/^CEL: .*customer/) },
  ],
  [
    'a key that gives true or false',
    journey(
      `  - id: hello\n    type: send\n    channel: email\n    template: onboarding/welcome`,
      '\nentry: { key: "event.type == \'x\'" }',
    ),
    {
      line: 5,
      path: 'entry.key',
      message: 'CEL: expected an expression giving text or a whole number, but it gives bool',
    },
  ],
  [
    'a key with concurrent enrollments',
    journey(
      `  - id: hello\n    type: send\n    channel: email\n    template: onboarding/welcome`,
      '\nentry: { key: "event.data.cartId", concurrent: true, reentry: always }',
    ),
    {
      line: 5,
      path: 'entry.concurrent',
      message: 'a keyed journey runs one enrollment per key already; "concurrent" does not go with "key"',
    },
  ],
  [
    'a misspelt step kind, with a suggestion',
    journey(`  - id: hello\n    type: sned\n    channel: email`),
    { line: 7, column: 11, path: 'steps[0].type', message: 'unknown step type "sned"; did you mean "send"?' },
  ],
  [
    'a duplicate step id, nested',
    journey(
      `  - id: pause\n    type: wait\n    duration: 1d\n  - id: check\n    type: branch\n    cases:\n      - when: "true"\n        steps:\n          - id: pause\n            type: exit`,
    ),
    {
      line: 14,
      column: 17,
      path: 'steps[1].cases[0].steps[0].id',
      message: 'duplicate step id "pause": already used at steps[0]',
    },
  ],
  [
    'a malformed duration',
    journey(`  - id: pause\n    type: wait\n    duration: 3 days`),
    {
      line: 8,
      column: 15,
      path: 'steps[0].duration',
      message: expect.stringContaining('expected a duration such as 90m, 36h, 3d'),
    },
  ],
  [
    'a malformed local time',
    journey(`  - id: pause\n    type: wait\n    until: { time: "25:00", days: [mon] }`),
    {
      line: 8,
      column: 20,
      path: 'steps[0].until.time',
      message: expect.stringContaining('expected a local time HH:MM'),
    },
  ],
  [
    'a wait with two kinds of time',
    journey(`  - id: pause\n    type: wait\n    duration: 1d\n    until_expr: "now"`),
    {
      line: 6,
      column: 5,
      path: 'steps[0]',
      message: 'a wait takes exactly one of duration, until or until_expr; got duration and until_expr',
    },
  ],
  [
    'an unknown template',
    journey(`  - id: hello\n    type: send\n    channel: email\n    template: onboarding/nope`),
    {
      line: 9,
      column: 15,
      path: 'steps[0].template',
      message: 'unknown template "onboarding/nope": no definitions/templates/onboarding/nope.email.yaml',
    },
  ],
  [
    'a CEL syntax error, at its column',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: "customer.metrics.orderCount >"\n        steps: [{ id: done, type: exit }]`,
    ),
    { line: 9, column: 45, path: 'steps[0].cases[0].when', message: 'CEL: Unexpected token: EOF' },
  ],
  [
    'a CEL type error',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: 'customer.metrics.orderCount == "one"'\n        steps: [{ id: done, type: exit }]`,
    ),
    {
      line: 9,
      column: 16,
      path: 'steps[0].cases[0].when',
      message: expect.stringMatching(/^CEL: no such overload: int == string/),
    },
  ],
  [
    'an unknown CEL variable',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: "custmer.tags.size() > 0"\n        steps: [{ id: done, type: exit }]`,
    ),
    { line: 9, column: 16, path: 'steps[0].cases[0].when', message: 'CEL: Unknown variable: custmer' },
  ],
  [
    'a CEL pattern whose time can explode (nested quantifiers)',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: 'customer.email.matches("^(a+)+$")'\n        steps: [{ id: done, type: exit }]`,
    ),
    {
      line: 9,
      column: 39,
      path: 'steps[0].cases[0].when',
      message: 'CEL: expected a matches() pattern without nested quantifiers such as (a+)+, whose time can explode',
    },
  ],
  [
    'a CEL pattern taken from the event’s data',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: 'customer.email.matches(event.data.pattern)'\n        steps: [{ id: done, type: exit }]`,
    ),
    {
      path: 'steps[0].cases[0].when',
      message: 'CEL: expected a matches() pattern written in the expression, not taken from data',
    },
  ],
  [
    'a CEL pattern with a repeated group of alternatives',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: 'customer.email.matches("^(a|ab)*c$")'\n        steps: [{ id: done, type: exit }]`,
    ),
    {
      path: 'steps[0].cases[0].when',
      message:
        'CEL: expected a matches() pattern without a repeated group of alternatives such as (a|b)*: write [ab]* instead',
    },
  ],
  [
    'a CEL pattern with a backreference',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: 'customer.firstName.matches("(a)\\\\1")'\n        steps: [{ id: done, type: exit }]`,
    ),
    { path: 'steps[0].cases[0].when', message: 'CEL: expected a matches() pattern without backreferences' },
  ],
  [
    'a CEL comprehension inside another',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: 'customer.tags.all(a, customer.tags.exists(b, a == b))'\n        steps: [{ id: done, type: exit }]`,
    ),
    {
      path: 'steps[0].cases[0].when',
      message:
        'CEL: expected no exists() inside another comprehension: its work would grow with the square of the list',
    },
  ],
  [
    'a condition that is not true or false',
    journey(
      `  - id: check\n    type: branch\n    cases:\n      - when: "customer.metrics.orderCount + 1"\n        steps: [{ id: done, type: exit }]`,
    ),
    {
      path: 'steps[0].cases[0].when',
      message: 'CEL: expected an expression giving true or false (bool), but it gives int',
    },
  ],
  [
    'a step after an exit',
    journey(`  - id: stop\n    type: exit\n  - id: never\n    type: wait\n    duration: 1d`),
    { line: 8, column: 5, path: 'steps[1]', message: 'unreachable: this step comes after the exit step "stop"' },
  ],
  [
    'a weight that is not positive',
    journey(`  - id: ab\n    type: split\n    paths:\n      - { name: a, weight: 1 }\n      - { name: b, weight: 0 }`),
    { line: 10, column: 28, path: 'steps[0].paths[1].weight', message: 'expected a weight greater than 0' },
  ],
  [
    'a send with no content for its channel',
    journey(`  - id: hello\n    type: send\n    channel: sms`),
    { line: 6, column: 5, path: 'steps[0]', message: 'an sms needs a template or a text' },
  ],
  [
    'a preferred-channel send without an sms block',
    journey(`  - id: hello\n    type: send\n    channel: preferred\n    email: { subject: Hi, text: Hello }`),
    {
      path: 'steps[0]',
      message:
        'a send on the preferred channel needs an "sms:" block (or a template with both an email and an sms file)',
    },
  ],
  [
    'a Liquid syntax error',
    journey(`  - id: hello\n    type: send\n    channel: sms\n    text: "Hi {{ customer.firstName "`),
    { line: 9, column: 11, path: 'steps[0].text', message: expect.stringMatching(/^Liquid: /) },
  ],
  [
    'an unknown Liquid variable, with a suggestion',
    journey(`  - id: hello\n    type: send\n    channel: sms\n    text: "Hi {{ customer.fristName }}"`),
    {
      line: 9,
      column: 11,
      path: 'steps[0].text',
      message: 'unknown variable customer.fristName; did you mean "firstName"?',
    },
  ],
  [
    'a missing required field',
    journey(`  - id: hello\n    type: wait_for\n    event: app.activated`),
    { line: 6, column: 5, path: 'steps[0].timeout', message: 'missing required field "timeout" (expected string)' },
  ],
  [
    'an invalid enum value',
    journey(`  - id: hello\n    type: send\n    channel: fax\n    text: Hi`),
    {
      line: 8,
      column: 14,
      path: 'steps[0].channel',
      message: 'got "fax"; expected one of "email", "sms", "preferred"',
    },
  ],
  [
    'a webhook over http, whatever the case of its scheme',
    journey(`  - id: hook\n    type: webhook\n    url: HTTP://crm.example.com/hook`),
    {
      line: 8,
      path: 'steps[0].url',
      message: 'expected an https:// URL (http is allowed only where configured for private networks)',
    },
  ],
  [
    'a digest keeping more than 100 events',
    journey(`  - id: replies\n    type: digest\n    event: comment.added\n    window: 1h\n    max: 500`),
    {
      line: 10,
      column: 10,
      path: 'steps[0].max',
      message: "expected at most 100 events (they are kept in the journey's state)",
    },
  ],
  [
    'a digest field that is not a digest result, with a suggestion',
    journey(
      `  - id: replies\n    type: digest\n    event: comment.added\n    window: 1h\n    max: 20\n  - id: tell\n    type: send\n    channel: sms\n    text: "{{ events.replies.cuont }} new replies"`,
    ),
    {
      path: 'steps[1].text',
      message: 'unknown variable events.replies.cuont: a digest gives items and count; did you mean "count"?',
    },
  ],
  [
    'events of a step that is neither a wait_for nor a digest',
    journey(`  - id: tell\n    type: send\n    channel: sms\n    text: "{{ events.replies.count }}"`),
    { path: 'steps[0].text', message: 'unknown variable events.replies: no wait_for or digest step has that id' },
  ],
  ['broken YAML', 'journey: x\nsteps: [\n', { line: 3, column: 1, message: expect.stringMatching(/^YAML: /) }],
  // Found by the fuzzing test (fuzz-journeys.test.ts): reading this alias threw instead.
  [
    'an alias without its anchor',
    'journey: x\nname: *title\n',
    { line: 2, column: 7, path: '', message: 'YAML: the alias *title has no anchor &title before it' },
  ],
  // Also found by fuzzing: the path of an empty key was empty, as if the file as a whole were wrong.
  ['an empty key, quoted in the path', journey(`  - { id: bye, type: exit }`, '\n"": x'), { path: '[""]' }],
])('%s', (_name, source, expected) => {
  const found = problems(source);
  expect(found).toEqual(expect.arrayContaining([expect.objectContaining({ file: 'broken.yaml', ...expected })]));
});

test("a digest's events are read as items and count, and its own condition is checked", () => {
  const source = (when: string) =>
    journey(`  - id: replies
    type: digest
    event: comment.added
    window: 1h
    max: 20
    when: "${when}"
  - id: tell
    type: send
    channel: email
    subject: "{{ events.replies.count }} new replies"
    text: "{% for r in events.replies.items %}{{ r.data.text }} at {{ r.occurredAt }}{% endfor %}"`);
  const ok = compileJourney(source('event.data.ticketId == customer.attributes.ticket'), 'ok.yaml', options);
  expect(ok.ok ? [] : ok.problems.map(formatProblem)).toEqual([]);
  expect(ok.ok && ok.journey.definition.steps[0]).toEqual({
    id: 'replies',
    type: 'digest',
    event: 'comment.added',
    window: '1h',
    max: 20,
    when: 'event.data.ticketId == customer.attributes.ticket',
  });
  expect(problems(source('event.data.ticketId =='))).toEqual([
    expect.objectContaining({ path: 'steps[0].when', message: expect.stringMatching(/^CEL: /) }),
  ]);
  expect(problems(journey(`  - { id: replies, type: digest, event: comment.added, window: 1h, max: 0 }`))).toEqual([
    expect.objectContaining({ path: 'steps[0].max', message: 'expected at least 1 event' }),
  ]);
  // The built-in digest template names the step it reads: `replies`.
  const builtin = compileJourney(
    journey(`  - { id: replies, type: digest, event: comment.added, window: 1h, max: 20 }
  - { id: tell, type: send, channel: email, template: support/replies-digest }`),
    'builtin.yaml',
    options,
  );
  expect(builtin.ok ? [] : builtin.problems.map(formatProblem)).toEqual([]);
});

test('every problem of a file is reported at once, in order of position', () => {
  const found = problems(
    journey(
      `  - id: hello\n    type: send\n    channel: email\n    tempalte: x\n  - id: hello\n    type: wait\n    duration: soon\n  - id: check\n    type: branch\n    cases:\n      - when: "custmer"\n        steps: [{ id: done, type: exit }]`,
      '\ngoal: { event: order.placed, within: forever }',
    ),
  );
  expect(found.map((p) => p.path)).toEqual([
    'goal.within',
    'steps[0]',
    'steps[0].tempalte',
    'steps[1].id',
    'steps[1].duration',
    'steps[2].cases[0].when',
  ]);
  expect(found.map(formatProblem)[2]).toBe(
    'broken.yaml:10:5: steps[0].tempalte: unknown field "tempalte"; did you mean "template"?',
  );
  const lines = found.map((p) => p.line);
  expect([...lines].sort((a, b) => a - b)).toEqual(lines);
});

test('HTML parts escape what they render; text parts keep it as written', async () => {
  const customer = { firstName: '<img src=x onerror=alert(1)>' };
  expect(await renderHtml('<p>Hi {{ customer.firstName }}</p>', { customer })).toBe(
    '<p>Hi &lt;img src=x onerror=alert(1)&gt;</p>',
  );
  expect(await renderText('Hi {{ customer.firstName }}', { customer })).toBe('Hi <img src=x onerror=alert(1)>');
  // Templates reach only their variables: no files, no prototypes.
  expect(await renderText('{{ customer.constructor }}{{ customer.__proto__ }}', { customer })).toBe('');
  await expect(renderText('{% include "/etc/passwd" %}', {})).rejects.toThrow();
});
