/**
 * The answer to an SMS that says HELP, on an in-memory database through the real routes: in the
 * customer's language from the texts, a deployment's texts folder rewording them key by key, and
 * RAPPORT_SMS_HELP_TEXT (when set) replacing only the default-language text.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import pino from 'pino';
import twilio from 'twilio';
import { migrate, openDatabase, type OpenDatabase } from '../../activities/db/database';
import { upsertCustomer } from '../../activities/store/customers';
import { channelRoutes, type ChannelSettings } from '../../client/server/api/channel-callbacks';

const logger = pino({ level: 'silent' });
const PUBLIC_URL = 'https://rapport.example';
const TOKEN = 'sms-help-test-auth-token';
let database: OpenDatabase;
let textsDir: string;
const apps: FastifyInstance[] = [];

beforeAll(async () => {
  database = await openDatabase({});
  await migrate(database.db);
  for (const [phone, locale] of [
    ['+15550100001', 'fr-CA'],
    ['+15550100002', 'de-AT'],
    ['+15550100003', 'en'],
  ] as const) {
    await upsertCustomer(database.db, { phone }, { locale });
  }
  // A deployment's own texts: the default answer reworded, German added, French left as built in.
  textsDir = fs.mkdtempSync(path.join(os.tmpdir(), 'rapport-texts-'));
  fs.writeFileSync(path.join(textsDir, 'sms.yaml'), 'help: "Acme: reply STOP to opt out."\n');
  fs.writeFileSync(path.join(textsDir, 'sms.de.yaml'), 'help: "Acme: Antworten Sie STOP zum Abmelden."\n');
});

afterAll(async () => {
  for (const app of apps) await app.close();
  await database?.close();
  fs.rmSync(textsDir, { recursive: true, force: true });
});

async function routes(settings: Partial<ChannelSettings>) {
  const app = Fastify();
  await app.register(
    channelRoutes(database.db, { publicUrl: PUBLIC_URL, twilioAuthToken: TOKEN, ...settings }, logger),
  );
  await app.ready();
  apps.push(app);
  let n = 0;
  /** The text of the answer to HELP from `from`. */
  return async (from: string) => {
    const params = { MessageSid: `SMhelp${++n}${from}`, From: from, To: '+15005550006', Body: 'HELP' };
    const url = `${PUBLIC_URL}/webhooks/twilio/inbound`;
    const res = await app.inject({
      method: 'POST',
      url: '/webhooks/twilio/inbound',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': twilio.getExpectedTwilioSignature(TOKEN, url, params),
      },
      payload: new URLSearchParams(params).toString(),
    });
    expect(res.statusCode).toBe(200);
    return /<Message>(.*)<\/Message>/.exec(res.body)?.[1];
  };
}

test('the built-in texts answer in the customer language, the default for others and unknown numbers', async () => {
  const help = await routes({});
  expect(await help('+15550100001')).toMatch(/^Répondez STOP pour ne plus recevoir de SMS/);
  const english = 'Reply STOP to stop receiving texts, START to receive them again. Msg &#38; data rates may apply.';
  expect(await help('+15550100002')).toBe(english);
  expect(await help('+15550100003')).toBe(english);
  expect(await help('+15550109999')).toBe(english);
});

test("a deployment's texts folder rewords the default and adds a language; French stays built in", async () => {
  const help = await routes({ textsDir });
  expect(await help('+15550100001')).toMatch(/^Répondez STOP/);
  expect(await help('+15550100002')).toBe('Acme: Antworten Sie STOP zum Abmelden.');
  expect(await help('+15550100003')).toBe('Acme: reply STOP to opt out.');
});

test('RAPPORT_SMS_HELP_TEXT replaces the default-language text only', async () => {
  const help = await routes({ textsDir, smsHelpText: 'Call 555-0100 for help.' });
  expect(await help('+15550100003')).toBe('Call 555-0100 for help.');
  expect(await help('+15550109999')).toBe('Call 555-0100 for help.');
  expect(await help('+15550100002')).toBe('Acme: Antworten Sie STOP zum Abmelden.');
  expect(await help('+15550100001')).toMatch(/^Répondez STOP/);
});
