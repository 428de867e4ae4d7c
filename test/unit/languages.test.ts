/**
 * Languages: choosing a locale along its chain, texts that fall back key by key and that a
 * deployment's folder rewords, and message templates with locale variants: compiled into the plan,
 * picked by the customer's locale, warned of when a translation forgets a variable, refused when
 * they have no default.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { liquidChecker } from '../../activities/render';
import { loadTexts } from '../../activities/texts';
import { templateLocalesReader, templateReader, compileFile, toPlan } from '../../client/server/journeys/load';
import { compileJourney, formatProblem } from '../../definitions/compile';
import { localeChain, normalLocale, pickLocale } from '../../definitions/locale';
import { emailContent, inLocale, smsContent } from '../../definitions/steps/send-content';
import type { SendStep } from '../../definitions/steps/send';
import { builtinJourneysDir, builtinTemplatesDir, builtinTextsDir } from '../../paths';

let scratch: string;

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-languages-'));
});

afterAll(() => {
  fs.rmSync(scratch, { recursive: true, force: true });
});

/** A folder of files (name → text), fresh for each use. */
let folders = 0;
function folder(files: Record<string, string>): string {
  const dir = path.join(scratch, `dir-${++folders}`);
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('locales', () => {
  test('tags are spelled one way, whatever the customer record says', () => {
    expect(normalLocale('fr_ca')).toBe('fr-CA');
    expect(normalLocale(' PT-br ')).toBe('pt-BR');
    expect(normalLocale('zh-Hant-TW')).toBe('zh-hant-TW');
  });

  test('the chain runs from the region to the language; no locale has none', () => {
    expect(localeChain('fr-CA')).toEqual(['fr-CA', 'fr']);
    expect(localeChain('fr')).toEqual(['fr']);
    expect(localeChain('')).toEqual([]);
    expect(localeChain(null)).toEqual([]);
  });

  test('fr-CA takes fr-CA, else fr, else the default (undefined)', () => {
    expect(pickLocale(['fr', 'fr-CA'], 'fr-CA')).toBe('fr-CA');
    expect(pickLocale(['fr'], 'fr_ca')).toBe('fr');
    expect(pickLocale(['fr'], 'de-DE')).toBeUndefined();
    expect(pickLocale(['fr'], undefined)).toBeUndefined();
    // The tag is returned as the caller spelled it, so it can find its file or key.
    expect(pickLocale(['pt_BR'], 'pt-BR')).toBe('pt_BR');
  });
});

describe('texts', () => {
  test('a variant falls back key by key along the chain', () => {
    const dir = folder({
      'greet.yaml': 'hello: Hello\nbye: Goodbye\nthanks: Thanks\n',
      'greet.fr.yaml': 'hello: Bonjour\nbye: Au revoir\n',
      'greet.fr-CA.yaml': 'hello: Allo\n',
    });
    const texts = loadTexts('greet', dir);
    expect(texts.locales()).toEqual(['fr', 'fr-CA']);
    expect(texts.for('fr-CA')).toEqual({ hello: 'Allo', bye: 'Au revoir', thanks: 'Thanks' });
    expect(texts.for('fr')).toEqual({ hello: 'Bonjour', bye: 'Au revoir', thanks: 'Thanks' });
    expect(texts.for('de')).toEqual({ hello: 'Hello', bye: 'Goodbye', thanks: 'Thanks' });
  });

  test("a deployment's folder rewords the built-in texts key by key, and adds locales", () => {
    const builtin = folder({ 'greet.yaml': 'hello: Hello\nbye: Goodbye\n', 'greet.fr.yaml': 'hello: Bonjour\n' });
    const own = folder({ 'greet.yaml': 'bye: See you\n', 'greet.de.yaml': 'hello: Hallo\n', 'other.yaml': 'x: y\n' });
    const texts = loadTexts('greet', builtin, own);
    expect(texts.for(undefined)).toEqual({ hello: 'Hello', bye: 'See you' });
    expect(texts.for('fr')).toEqual({ hello: 'Bonjour', bye: 'See you' });
    expect(texts.for('de-AT')).toEqual({ hello: 'Hallo', bye: 'See you' });
    expect(texts.locales()).toEqual(['de', 'fr']);
  });

  test('the built-in SMS HELP answer exists in the default language and in French', () => {
    const sms = loadTexts('sms', builtinTextsDir);
    expect(sms.for(undefined).help).toMatch(/STOP/);
    expect(sms.for('fr-CA').help).toMatch(/^Répondez STOP/);
  });
});

const DEFAULT_EMAIL =
  'subject: "Hi {{ customer.firstName }}"\ntext: "Welcome, {{ customer.firstName }}. {{ customer.email }}"\n';

function journey(template = 'greet/welcome'): string {
  return `journey: greet
name: Greet
category: transactional
trigger: { event: signed.up }
steps:
  - id: hello
    type: send
    channel: email
    template: ${template}
`;
}

function compileWith(templates: Record<string, string>, source = journey()) {
  const dir = folder(templates);
  return compileJourney(source, 'greet.yaml', {
    readTemplate: templateReader(dir),
    templateLocales: templateLocalesReader(dir),
    liquid: liquidChecker,
  });
}

describe('template variants', () => {
  test('each variant is published beside the default, keyed by its locale, and changes the hash', () => {
    const without = compileWith({ 'greet/welcome.email.yaml': DEFAULT_EMAIL });
    const result = compileWith({
      'greet/welcome.email.yaml': DEFAULT_EMAIL,
      'greet/welcome.email.fr.yaml':
        'subject: "Salut {{ customer.firstName }}"\ntext: "Bienvenue, {{ customer.firstName }}. {{ customer.email }}"\n',
      'greet/welcome.email.fr_CA.yaml':
        'subject: "Allo {{ customer.firstName }}"\ntext: "Bienvenue, {{ customer.firstName }}. {{ customer.email }}"\n',
      'greet/other.email.de.yaml': DEFAULT_EMAIL,
    });
    if (!result.ok || !without.ok) throw new Error(JSON.stringify(result));
    expect(Object.keys(result.journey.templates).sort()).toEqual([
      'email:greet/welcome',
      'email:greet/welcome@fr',
      'email:greet/welcome@fr-CA',
    ]);
    expect(result.warnings).toEqual([]);
    expect(toPlan(result.journey).contentHash).not.toBe(toPlan(without.journey).contentHash);
  });

  test('a variant without a variable its default reads is a warning at the step, not an error', () => {
    const result = compileWith({
      'greet/welcome.email.yaml': DEFAULT_EMAIL,
      'greet/welcome.email.fr.yaml': 'subject: "Salut"\ntext: "Bienvenue. {{ customer.email }}"\n',
    });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.warnings.map(formatProblem)).toEqual([
      'greet.yaml:9:15: steps[0].template: template greet/welcome.email.fr.yaml does not read customer.firstName, which greet/welcome.email.yaml reads: a translation that forgot it?',
    ]);
  });

  test('a variant with an unknown variable or broken Liquid is an error, as in the default', () => {
    const result = compileWith({
      'greet/welcome.email.yaml': DEFAULT_EMAIL,
      'greet/welcome.email.fr.yaml':
        'subject: "Salut {{ customer.prenom }}"\ntext: "{{ customer.firstName }} {{ customer.email }}"\n',
      'greet/welcome.email.de.yaml': 'subject: "Hallo {% if %}"\ntext: "{{ customer.firstName }}"\n',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.problems.map((p) => p.message);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^template greet\/welcome\.email\.fr\.yaml, subject: unknown variable customer\.prenom/),
        expect.stringMatching(/^template greet\/welcome\.email\.de\.yaml, subject: Liquid: /),
      ]),
    );
  });

  test('a variant whose default does not exist is an error naming both files', () => {
    const result = compileWith({ 'greet/welcome.email.fr.yaml': DEFAULT_EMAIL });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map(formatProblem)).toEqual([
      'greet.yaml:9:15: steps[0].template: greet/welcome.email.fr.yaml has no default greet/welcome.email.yaml',
    ]);
  });

  test('the built-in welcome journey publishes its French variant', () => {
    const result = compileFile(path.join(builtinJourneysDir, 'welcome.yaml'), builtinTemplatesDir);
    if (!result.ok) throw new Error(result.problems.map(formatProblem).join('\n'));
    expect(result.warnings).toEqual([]);
    expect(Object.keys(result.journey.templates)).toContain('email:welcome/hello@fr');
  });
});

describe('choosing the variant at send time', () => {
  const templates = {
    'email:w': { subject: 'Hi', text: 'Hello', html: '<p>Hello</p>' },
    'email:w@fr': { subject: 'Salut', text: 'Bonjour' },
    'email:w@fr-CA': { subject: 'Allo', text: 'Bonjour, tabarnak' },
    'sms:w': { text: 'Hello' },
    'sms:w@fr': { text: 'Bonjour' },
  };
  const step = { id: 's', type: 'send', channel: 'preferred', template: 'w' } as SendStep;
  const email = emailContent(step, templates)!;
  const sms = smsContent(step, templates)!;

  test('fr-CA, then fr, then the default; the locale taken is named', () => {
    expect(inLocale(email, 'fr-CA')).toEqual({
      template: 'w',
      subject: 'Allo',
      text: 'Bonjour, tabarnak',
      locale: 'fr-CA',
    });
    expect(inLocale(email, 'fr-BE')).toEqual({ template: 'w', subject: 'Salut', text: 'Bonjour', locale: 'fr' });
    expect(inLocale(email, 'en-GB')).toEqual({ template: 'w', subject: 'Hi', text: 'Hello', html: '<p>Hello</p>' });
    expect(inLocale(sms, 'fr-CA')).toEqual({ template: 'w', text: 'Bonjour', locale: 'fr' });
  });

  test("a variant's fields replace the default's whole: no html from the default", () => {
    expect(inLocale(email, 'fr')).not.toHaveProperty('html');
  });

  test('a step with its own text has no variants and stays as it is', () => {
    const own = emailContent({ id: 's', type: 'send', channel: 'email', subject: 'S', text: 'T' }, templates)!;
    expect(inLocale(own, 'fr')).toEqual({ subject: 'S', text: 'T' });
  });
});
