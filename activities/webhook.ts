/**
 * The webhook step: calls another system with the rendered body and an Idempotency-Key header.
 * Only hosts on the allow-list are called, and never a private or loopback address unless allowed
 * explicitly (so a journey cannot reach into the network Rapport runs in).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/activity';
import { Agent, request } from 'undici';
import type { Facts } from '../definitions/facts';
import type { Db } from './db/database';
import { renderJson } from './render';
import { currentCustomerId, getCustomer } from './store/customers';
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
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  privateRanges.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::1', 128],
  ['::', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['::ffff:0:0', 96],
  ['64:ff9b::', 96],
  ['2002::', 16],
] as const) {
  privateRanges.addSubnet(net, prefix, 'ipv6');
}

type Checked = { refused: string } | { address: string; family: number };

/**
 * Whether a URL may be called, and the address to call: the one that was checked, so a host name
 * that resolves differently a moment later (DNS rebinding) cannot redirect the call.
 */
export async function checkTarget(url: URL, policy: WebhookPolicy): Promise<Checked> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const hostPort = url.port ? `${host}:${url.port}` : host;
  // A host alone allows its scheme's own port; another port must be listed with it (host:port).
  const defaultPort = url.protocol === 'http:' ? '80' : '443';
  const allowed = url.port
    ? policy.allowHosts.includes(hostPort)
    : policy.allowHosts.includes(host) || policy.allowHosts.includes(`${host}:${defaultPort}`);
  if (!allowed) {
    return { refused: `host ${hostPort} is not on the webhook allow-list (RAPPORT_WEBHOOK_HOSTS)` };
  }
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true });
  if (addresses.length === 0) return { refused: `${hostPort} does not resolve` };
  if (!policy.allowPrivate) {
    for (const a of addresses) {
      if (privateRanges.check(a.address, a.family === 6 ? 'ipv6' : 'ipv4')) {
        return {
          refused: `${hostPort} resolves to a private or loopback address (${a.address}); set RAPPORT_WEBHOOK_ALLOW_PRIVATE to allow it`,
        };
      }
    }
  }
  return addresses[0]!;
}

export function createWebhooks(db: Db, policy: WebhookPolicy) {
  return {
    async callWebhook(input: WebhookRequest): Promise<{ ok: boolean; status?: number; detail: string }> {
      const req = { ...input, customerId: await currentCustomerId(db, input.customerId) };
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
      const target = await checkTarget(url, policy);
      if ('refused' in target) {
        await record(`webhook to ${url.host} refused: ${target.refused}`, { status: 'refused' });
        return { ok: false, detail: target.refused };
      }
      const row = await getCustomer(db, req.customerId);
      const vars = { ...req.facts, ...(row ? { customer: await customerFacts(db, row) } : {}) };
      const body = req.body
        ? await renderJson(req.body, vars)
        : JSON.stringify({ customerId: req.customerId, journey: req.journeyId, step: req.stepId });
      const pinned = new Agent({
        connect: {
          lookup: (_hostname, _options, callback) =>
            callback(null, [{ address: target.address, family: target.family }]),
        },
      });
      let status: number;
      try {
        const response = await request(url, {
          method: req.method,
          body,
          dispatcher: pinned,
          headers: {
            'content-type': 'application/json',
            'idempotency-key': createHash('sha256').update(req.key).digest('hex').slice(0, 32),
            'user-agent': 'Rapport-Webhook/1',
          },
          headersTimeout: req.timeoutMs,
          bodyTimeout: req.timeoutMs,
        });
        status = response.statusCode;
        await response.body.dump();
      } catch (err) {
        throw ApplicationFailure.retryable(
          `webhook to ${url.host} failed: ${(err as Error).message}`,
          'WebhookUnavailable',
        );
      } finally {
        await pinned.close();
      }
      if (status >= 500 || status === 429) {
        throw ApplicationFailure.retryable(`webhook to ${url.host} answered ${status}`, 'WebhookUnavailable');
      }
      const ok = status >= 200 && status < 300;
      await record(`webhook to ${url.host} ${ok ? 'called' : 'refused the call'} (${status})`, { status });
      return { ok, status, detail: `${url.host} answered ${status}` };
    },
  };
}
