/**
 * What the API commands share: the client their options name, and a customer named on the command
 * line. Light on purpose: every command that talks to the API loads it, none of the engine.
 */
import { RapportClient } from '../../sdk';
import type { IncomingEvent } from '../../server/events/schema';

export interface ConnectionOptions {
  url?: string;
  apiKey?: string;
}

export function clientFrom(options: ConnectionOptions): RapportClient {
  return new RapportClient({
    baseUrl: options.url ?? process.env.RAPPORT_URL ?? 'http://127.0.0.1:3000',
    apiKey: options.apiKey ?? process.env.RAPPORT_API_KEY,
  });
}

/** `ada@example.com`, `+14155550123`, `crm:C-42` (another system's id) or a Rapport customer id. */
export function customerArg(ref: string): IncomingEvent['customer'] {
  if (ref.includes('@')) return { email: ref };
  if (ref.startsWith('+')) return { phone: ref };
  const ext = /^([a-z0-9][a-z0-9_-]{0,39}):(.+)$/.exec(ref);
  if (ext) return { externalId: { system: ext[1]!, id: ext[2]! } };
  return { id: ref };
}
