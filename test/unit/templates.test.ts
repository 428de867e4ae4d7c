/**
 * The built-in message templates render for a sample customer with every variable they read defined,
 * and a template that reaches for anything outside its variables gets nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Liquid } from 'liquidjs';
import { limits, renderHtml, renderJson, renderText } from '../../activities/render';
import type { CustomerFacts } from '../../definitions/facts';
import { parseTemplateFile } from '../../definitions/templates';
import { projectRoot } from '../../paths';

const templatesDir = path.join(projectRoot, 'definitions', 'templates');
const files = fs
  .readdirSync(templatesDir, { recursive: true, encoding: 'utf8' })
  // Locale variants (`hello.email.fr.yaml`) included.
  .filter((f) => /\.(email|sms)(\.[A-Za-z_-]+)?\.yaml$/.test(f))
  .sort();

const customer: CustomerFacts = {
  id: 'cus_sample',
  email: 'ada@example.com',
  phone: '+14155550100',
  firstName: 'Ada',
  lastName: 'Lovelace',
  timezone: 'Europe/London',
  locale: 'en-GB',
  lifecycleStage: 'customer',
  tags: ['vip'],
  attributes: { crossSellCategory: 'jazz', interest: 'analytics' },
  consent: { email: { marketing: true } },
  preferredChannel: 'email',
  metrics: {
    orderCount: 3,
    lifetimeValue: 74.5,
    firstOrderAt: '2026-01-05T10:00:00Z',
    lastOrderAt: '2026-10-01T10:00:00Z',
    categories: ['rock'],
    recommendedCategory: 'jazz',
  },
};

const variables = {
  customer,
  event: { type: 'complaint.opened', occurredAt: '2026-11-01T09:00:00Z', data: { subject: 'Late delivery' } },
  // What support/replies-digest reads: a digest step `replies`.
  events: {
    replies: {
      count: 2,
      items: [
        {
          id: 'evt_1',
          type: 'comment.added',
          occurredAt: '2026-11-01T09:05:00Z',
          data: { author: 'Sam', text: 'On it.' },
        },
        {
          id: 'evt_2',
          type: 'comment.added',
          occurredAt: '2026-11-01T09:40:00Z',
          data: { author: 'Sam', text: 'Fixed.' },
        },
      ],
    },
  },
  tasks: {},
  journey: { id: 'sample', version: 1, enrolledAt: '2026-11-01T09:00:00Z' },
  now: '2026-11-02T09:00:00Z',
  unsubscribeUrl: 'https://rapport.example/u/token',
};

/** Fails on any variable that is not defined: the check that no template reads an unknown one. */
const strict = new Liquid({ ...limits, strictVariables: true });

test('there are built-in templates of both channels', () => {
  expect(files.filter((f) => f.endsWith('.email.yaml')).length).toBeGreaterThanOrEqual(10);
  expect(files.filter((f) => f.endsWith('.sms.yaml')).length).toBeGreaterThanOrEqual(1);
});

test.each(files)('%s renders for a sample customer, every variable defined', async (file) => {
  const channel = file.includes('.email.') ? 'email' : 'sms';
  const parsed = parseTemplateFile(fs.readFileSync(path.join(templatesDir, file), 'utf8'), channel);
  if ('problem' in parsed) throw new Error(`${file}: ${parsed.problem}`);
  for (const [field, source] of Object.entries(parsed.template)) {
    const out = (await strict.parseAndRender(source as string, variables)) as string;
    expect(out.trim().length).toBeGreaterThan(0);
    expect(out).not.toMatch(/\{\{|\{%/);
    if (field === 'subject') expect(out).not.toContain('\n');
  }
});

describe('a template reaching outside its variables gets nothing', () => {
  test.each([
    ['{{ customer.constructor }}', ''],
    ['{{ customer.constructor.name }}', ''],
    ['{{ customer.__proto__ }}', ''],
    ['{{ customer.email.length }}', '15'], // a property of the value itself is fine
    ['{{ customer.hasOwnProperty }}', ''],
    ['{{ process.env.HOME }}', ''],
    ['{{ global.process }}', ''],
    ['{{ require }}', ''],
    ['{{ this }}', ''],
  ])('%s renders %j', async (source, expected) => {
    await expect(renderText(source, variables)).resolves.toBe(expected);
    await expect(renderHtml(source, variables)).resolves.toBe(expected);
  });

  test.each(["{% include '/etc/passwd' %}", "{% render '../../package.json' %}", "{% layout '/etc/hostname' %}"])(
    '%s reads no file',
    async (source) => {
      await expect(renderText(source, variables)).rejects.toThrow(/Failed to lookup|ENOENT|not found/i);
    },
  );

  test('an unknown filter is refused, not ignored', async () => {
    await expect(renderText('{{ customer.email | exec }}', variables)).rejects.toThrow(/undefined filter: exec/);
  });

  test('a template cannot loop for ever', async () => {
    // Liquid's own limits stop it: the render is refused, not left to run out the clock.
    await expect(renderText('{% for i in (1..100000000) %}{% endfor %}', variables)).rejects.toThrow(/limit/i);
  });

  test('the HTML part escapes what a customer typed', async () => {
    const evil = { ...variables, customer: { ...customer, firstName: '<script>alert(1)</script>' } };
    await expect(renderHtml('<p>Hi {{ customer.firstName }}</p>', evil)).resolves.toBe(
      '<p>Hi &lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
  });
});

describe('a webhook’s JSON body', () => {
  const attacker = { firstName: 'Ann", "admin": true, "x": "', note: 'back\\slash\nnew line' };

  test('a value cannot close its string: the body keeps its fields, the value arrives whole', async () => {
    const body = await renderJson('{"name": "{{ customer.firstName }}", "note": "{{ customer.note }}"}', {
      customer: attacker,
    });
    const parsed = JSON.parse(body) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(['name', 'note']);
    expect(parsed).toEqual({ name: attacker.firstName, note: attacker.note });
  });

  test('| json writes a whole value, quotes included, escaped once', async () => {
    const body = await renderJson(
      '{"name": {{ customer.firstName | json }}, "n": {{ n }}, "tags": {{ tags | json }}}',
      {
        customer: attacker,
        n: 42,
        tags: ['vip', 'a"b'],
      },
    );
    expect(JSON.parse(body)).toEqual({ name: attacker.firstName, n: 42, tags: ['vip', 'a"b'] });
  });
});
