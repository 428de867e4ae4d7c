/**
 * The webhook step: calls another system with the rendered body and an Idempotency-Key header.
 * Only hosts on the allow-list are called, and never a private or loopback address unless allowed
 * explicitly (so a journey cannot reach into the network Rapport runs in).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import type { Facts } from '../definitions/facts';
import type { Db } from './db/database';
import { renderText } from './render';
import { getCustomer } from './store/customers';
import { customerFacts } from './store/facts';
import { appendTimeline } from './store/timeline';

export interface WebhookPolicy {
  /** host or host:port entries; empty means no webhook may be called. */
  allowHosts: string[];
  /** Allow private, loopback and link-local addresses (for a webhook inside your own network). */
  allowPrivate: boolean;
}

export interface WebhookRequest {
  key: string;
  customerId: string;
  journeyId: string;
  stepId: string;
  url: string;
  method: 'POST' | 'PUT' | 'PATCH';
  body?: string;
  timeoutMs: number;
  facts: Facts & { journey: NonNullable<Facts['journey']> };
  at: string;
}

const privateRanges = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['224.0.0.0', 4],
] as const) {
  privateRanges.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::1', 128],
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['::ffff:0:0', 96],
] as const) {
  privateRanges.addSubnet(net, prefix, 'ipv6');
}

/** Why a URL may not be called, or undefined when it may. */
export async function refuseReason(url: URL, policy: WebhookPolicy): Promise<string | undefined> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const hostPort = url.port ? `${host}:${url.port}` : host;
  if (!policy.allowHosts.includes(host) && !policy.allowHosts.includes(hostPort)) {
    return `host ${hostPort} is not on the webhook allow-list (RAPPORT_WEBHOOK_HOSTS)`;
  }
  if (policy.allowPrivate) return undefined;
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  for (const a of addresses) {
    if (privateRanges.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4')) {
      return `${hostPort} resolves to a private or loopback address (${a.address}); set RAPPORT_WEBHOOK_ALLOW_PRIVATE to allow it`;
    }
  }
  return undefined;
}

export function createWebhooks(db: Db, policy: WebhookPolicy) {
  return {
    async callWebhook(req: WebhookRequest): Promise<{ ok: boolean; status?: number; detail: string }> {
      const url = new URL(req.url);
      const record = async (summary: string, data: Record<string, unknown>) =>
        appendTimeline(db, {
          customerId: req.customerId,
          at: req.at,
          kind: 'change',
          summary,
          ref: req.key,
          data: { journey: req.journeyId, step: req.stepId, host: url.host, ...data },
        });
      const refused = await refuseReason(url, policy);
      if (refused) {
        await record(`webhook to ${url.host} refused: ${refused}`, { status: 'refused' });
        return { ok: false, detail: refused };
      }
      const row = await getCustomer(db, req.customerId);
      const vars = { ...req.facts, ...(row ? { customer: await customerFacts(db, row) } : {}) };
      const body = req.body
        ? await renderText(req.body, vars)
        : JSON.stringify({ customerId: req.customerId, journey: req.journeyId, step: req.stepId });
      let response: Response;
      try {
        response = await fetch(url, {
          method: req.method,
          body,
          redirect: 'manual',
          headers: {
            'content-type': req.body ? 'application/json' : 'application/json',
            'idempotency-key': createHash('sha256').update(req.key).digest('hex').slice(0, 32),
            'user-agent': 'Rapport-Webhook/1',
          },
          signal: AbortSignal.timeout(req.timeoutMs),
        });
      } catch (err) {
        throw ApplicationFailure.retryable(
          `webhook to ${url.host} failed: ${(err as Error).message}`,
          'WebhookUnavailable',
        );
      }
      if (response.status >= 500 || response.status === 429) {
        throw ApplicationFailure.retryable(`webhook to ${url.host} answered ${response.status}`, 'WebhookUnavailable');
      }
      const ok = response.status >= 200 && response.status < 300;
      await record(`webhook to ${url.host} ${ok ? 'called' : 'refused the call'} (${response.status})`, {
        status: response.status,
      });
      return { ok, status: response.status, detail: `${url.host} answered ${response.status}` };
    },
  };
}
