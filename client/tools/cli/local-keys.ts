/**
 * `rapport keys create` on the machine Rapport runs on, without the API: straight into the customer
 * database Rapport's own settings name. Loaded only by that command.
 */
import { createApiKey, type Scope } from '../../../activities/store/api-keys';
import { CLI_ACTOR, recordAudit } from '../../../activities/store/audit';
import { parseConfig } from '../../../worker/config';
import { withCustomerDatabase } from '../../../worker/customer-database';
import { createLogger } from '../../../worker/logger';

export function createKeyHere(name: string, scopes: Scope[]) {
  return withCustomerDatabase(
    parseConfig(),
    createLogger({ level: 'warn', destination: process.stderr }),
    async ({ db }) => {
      const { key, view } = await createApiKey(db, name, scopes);
      await recordAudit(db, {
        actor: CLI_ACTOR,
        action: 'key.create',
        target: `key:${view.id}`,
        detail: { name: view.name, scopes: view.scopes },
      });
      return { key, ...view };
    },
  );
}
