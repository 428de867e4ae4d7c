/**
 * Unsubscribe tokens: `<payload>.<signature>`, both base64url, the signature an HMAC-SHA256 of the
 * payload with a secret named by its key id. The token names the customer by their opaque id (never
 * an address), the send it came from and that message's subscription topic. It does not expire:
 * an opt-out link has to keep working for at least 30 days after the message (CAN-SPAM), and there
 * is no reason for it ever to stop.
 *
 * Rotation: a new secret signs from the moment it is configured; the secrets it replaced still
 * verify the links already sent.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { topicId } from '../../definitions/topics';

export interface UnsubscribeKeys {
  /** The key that signs new links. */
  current: { kid: string; secret: Buffer };
  /** Every key that verifies, the current one included, by key id. */
  verifying: Map<string, Buffer>;
}

export interface UnsubscribePayload {
  v: 1;
  kid: string;
  /** The customer's id. */
  c: string;
  /** The list: marketing email. */
  l: 'marketing';
  /** A hash of the send key of the message that carried the link. */
  s: string;
  /**
   * The subscription topic of that message: what one click leaves. Absent (links made before topics,
   * or a message of none): one click leaves all marketing email.
   */
  t?: string;
  /** When the link was made, in seconds since the epoch. */
  iat: number;
}

const keyId = (secret: string) => createHash('sha256').update(secret).digest('hex').slice(0, 8);

/** The signing secret first, then older ones still accepted. */
export function unsubscribeKeys(current: string, previous: string[] = []): UnsubscribeKeys {
  const verifying = new Map<string, Buffer>();
  for (const s of [current, ...previous]) verifying.set(keyId(s), Buffer.from(s, 'utf8'));
  return { current: { kid: keyId(current), secret: Buffer.from(current, 'utf8') }, verifying };
}

const sign = (secret: Buffer, body: string) => createHmac('sha256', secret).update(body).digest('base64url');

/** A signed token of a payload: `<payload>.<signature>`, both base64url. */
function signPayload(keys: UnsubscribeKeys, payload: object): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${sign(keys.current.secret, body)}`;
}

/** A token's payload once its signature holds, or why it is refused. Never throws. */
function verifyPayload(
  keys: UnsubscribeKeys,
  token: string,
): { ok: true; payload: Record<string, unknown> } | { ok: false; reason: string } {
  const parts = token.split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) return { ok: false, reason: 'malformed token' };
  const [body, signature] = parts as [string, string];
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed token' };
  }
  if (typeof payload !== 'object' || payload === null) return { ok: false, reason: 'malformed token' };
  const kid = (payload as { kid?: unknown }).kid;
  const secret = typeof kid === 'string' ? keys.verifying.get(kid) : undefined;
  if (!secret) return { ok: false, reason: 'signed with a key this instance does not know' };
  const expected = Buffer.from(sign(secret, body), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return { ok: false, reason: 'bad signature' };
  }
  return { ok: true, payload: payload as Record<string, unknown> };
}

export function signUnsubscribe(
  keys: UnsubscribeKeys,
  fields: { customerId: string; sendKeyHash: string; topic?: string; at?: Date },
): string {
  const payload: UnsubscribePayload = {
    v: 1,
    kid: keys.current.kid,
    c: fields.customerId,
    l: 'marketing',
    s: fields.sendKeyHash,
    ...(fields.topic ? { t: fields.topic } : {}),
    iat: Math.floor((fields.at ?? new Date()).getTime() / 1000),
  };
  return signPayload(keys, payload);
}

/** The token's payload, or why it is refused. Never throws. */
export function verifyUnsubscribe(
  keys: UnsubscribeKeys,
  token: string,
): { ok: true; payload: UnsubscribePayload } | { ok: false; reason: string } {
  const verified = verifyPayload(keys, token);
  if (!verified.ok) return verified;
  const payload = verified.payload as Partial<UnsubscribePayload>;
  if (
    payload.v !== 1 ||
    typeof payload.c !== 'string' ||
    payload.l !== 'marketing' ||
    (payload.t !== undefined && (typeof payload.t !== 'string' || !topicId.safeParse(payload.t).success))
  ) {
    return { ok: false, reason: 'unsupported token' };
  }
  return { ok: true, payload: payload as UnsubscribePayload };
}

/**
 * A tracked link's token: the message it was in, and for a click the address it leads to, bound by
 * the signature, so the redirect goes nowhere else. Its `l` keeps it from serving as an unsubscribe
 * token, and the other way round.
 */
export interface LinkPayload {
  v: 1;
  kid: string;
  /** The customer's id. */
  c: string;
  l: 'click' | 'open';
  /** A hash of the send key of the message. */
  s: string;
  /** For a click: where the link leads. */
  u?: string;
  iat: number;
}

export function signLink(
  keys: UnsubscribeKeys,
  fields: { customerId: string; sendKeyHash: string; kind: 'click' | 'open'; url?: string; at?: Date },
): string {
  const payload: LinkPayload = {
    v: 1,
    kid: keys.current.kid,
    c: fields.customerId,
    l: fields.kind,
    s: fields.sendKeyHash,
    ...(fields.url ? { u: fields.url } : {}),
    iat: Math.floor((fields.at ?? new Date()).getTime() / 1000),
  };
  return signPayload(keys, payload);
}

export function verifyLink(
  keys: UnsubscribeKeys,
  token: string,
): { ok: true; payload: LinkPayload } | { ok: false; reason: string } {
  const verified = verifyPayload(keys, token);
  if (!verified.ok) return verified;
  const p = verified.payload as Partial<LinkPayload>;
  const valid =
    p.v === 1 &&
    typeof p.c === 'string' &&
    typeof p.s === 'string' &&
    (p.l === 'open' || (p.l === 'click' && typeof p.u === 'string' && /^https?:\/\//i.test(p.u)));
  return valid ? { ok: true, payload: p as LinkPayload } : { ok: false, reason: 'unsupported token' };
}

export function unsubscribeUrl(publicUrl: string, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/u/${token}`;
}
