/**
 * The one stand-in of the test suite: Twilio's Messages REST API (2010-04-01) on loopback, reached
 * through the real `twilio` SDK (TWILIO_API_URL points the SDK here). It checks HTTP Basic auth,
 * creates messages, lists them with Twilio's filters, and answers with Twilio's JSON shapes, errors
 * included. Faults can be queued, one per create request, in order.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

type TwilioFault =
  /** Answer with this HTTP status (429, 500, 503) and create nothing; a 429 may say when to retry. */
  | { status: number; code?: number; retryAfterSeconds?: number }
  /** Create the message, then answer 201 with a body that is not JSON. */
  | { malformed: true }
  /** Create the message, then answer only after this delay (longer than the client's timeout). */
  | { replyAfterMs: number }
  /** Create nothing, and answer 503 only after this delay: the request was lost on the way. */
  | { lostAfterMs: number };

interface StoredMessage {
  sid: string;
  to: string;
  from: string | null;
  messagingServiceSid: string | null;
  body: string;
  statusCallback: string | null;
  dateCreated: Date;
}

export interface TwilioStandIn {
  url: string;
  accountSid: string;
  authToken: string;
  from: string;
  messages: StoredMessage[];
  /** Create requests received, faults included. */
  readonly creates: number;
  /** List requests received. */
  readonly lists: number;
  faults: TwilioFault[];
  close(): Promise<void>;
}

/** Numbers that Twilio refuses as invalid, as its test credentials do. */
const INVALID_NUMBER = '+15005550001';
/** A number that has replied STOP. */
const UNSUBSCRIBED_NUMBER = '+15005550004';

function rfc2822(d: Date): string {
  return d.toUTCString().replace('GMT', '+0000');
}

function resource(accountSid: string, m: StoredMessage) {
  return {
    sid: m.sid,
    account_sid: accountSid,
    to: m.to,
    from: m.from,
    messaging_service_sid: m.messagingServiceSid,
    body: m.body,
    status: 'queued',
    num_segments: '1',
    num_media: '0',
    direction: 'outbound-api',
    api_version: '2010-04-01',
    price: null,
    price_unit: 'USD',
    error_code: null,
    error_message: null,
    date_created: rfc2822(m.dateCreated),
    date_updated: rfc2822(m.dateCreated),
    date_sent: rfc2822(m.dateCreated),
    uri: `/2010-04-01/Accounts/${accountSid}/Messages/${m.sid}.json`,
    subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${m.sid}/Media.json` },
  };
}

function error(res: http.ServerResponse, status: number, code: number, message: string) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }));
}

export async function startTwilioStandIn(): Promise<TwilioStandIn> {
  const accountSid = `AC${randomBytes(16).toString('hex')}`;
  const authToken = randomBytes(16).toString('hex');
  const messages: StoredMessage[] = [];
  const faults: TwilioFault[] = [];
  let creates = 0;
  let lists = 0;
  const base = `/2010-04-01/Accounts/${accountSid}/Messages.json`;

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const auth = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString();
      if (auth !== `${accountSid}:${authToken}`) return error(res, 401, 20003, 'Authenticate');
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname !== base) return error(res, 404, 20404, 'The requested resource was not found');

      if (req.method === 'GET') {
        lists++;
        const to = url.searchParams.get('To');
        const from = url.searchParams.get('From');
        const after = url.searchParams.get('DateSent>');
        const found = messages
          .filter((m) => (!to || m.to === to) && (!from || m.from === from))
          .filter((m) => !after || m.dateCreated.getTime() >= Date.parse(after))
          .reverse();
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(
          JSON.stringify({
            messages: found.map((m) => resource(accountSid, m)),
            page: 0,
            page_size: 50,
            first_page_uri: `${base}?PageSize=50&Page=0`,
            next_page_uri: null,
            previous_page_uri: null,
            uri: `${base}?PageSize=50&Page=0`,
            start: 0,
            end: found.length,
          }),
        );
      }
      if (req.method !== 'POST') return error(res, 405, 20004, 'Method not allowed');

      creates++;
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const to = form.get('To') ?? '';
      const body = form.get('Body') ?? '';
      const fault = sink.faults.shift();
      if (fault && 'lostAfterMs' in fault) {
        setTimeout(() => !res.destroyed && error(res, 503, 20503, 'injected fault'), fault.lostAfterMs);
        return;
      }
      if (fault && 'status' in fault) {
        if (fault.retryAfterSeconds !== undefined) res.setHeader('retry-after', String(fault.retryAfterSeconds));
        return error(res, fault.status, fault.code ?? (fault.status === 429 ? 20429 : 20500), 'injected fault');
      }
      if (!/^\+[1-9]\d{6,14}$/.test(to) || to === INVALID_NUMBER) {
        return error(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
      }
      if (to === UNSUBSCRIBED_NUMBER) {
        return error(res, 400, 21610, 'Attempt to send to unsubscribed recipient');
      }
      if (!body) return error(res, 400, 21602, 'Message body is required.');
      if (!form.get('From') && !form.get('MessagingServiceSid')) {
        return error(res, 400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required");
      }
      const message: StoredMessage = {
        sid: `SM${randomBytes(16).toString('hex')}`,
        to,
        from: form.get('From'),
        messagingServiceSid: form.get('MessagingServiceSid'),
        body,
        statusCallback: form.get('StatusCallback'),
        dateCreated: new Date(),
      };
      messages.push(message);
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(201, { 'content-type': 'application/json' });
        const json = JSON.stringify(resource(accountSid, message));
        res.end(fault && 'malformed' in fault ? json.slice(0, json.length / 2) : json);
      };
      if (fault && 'replyAfterMs' in fault) setTimeout(answer, fault.replyAfterMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const sink: TwilioStandIn = {
    url: `http://127.0.0.1:${port}`,
    accountSid,
    authToken,
    from: '+15005550006',
    messages,
    get creates() {
      return creates;
    },
    get lists() {
      return lists;
    },
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return sink;
}

export const TWILIO_TEST_NUMBERS = { invalid: INVALID_NUMBER, unsubscribed: UNSUBSCRIBED_NUMBER };
