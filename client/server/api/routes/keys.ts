/** API keys: create (the secret is shown once), list, revoke. */
import { z } from 'zod';
import { createApiKey, listApiKeys, revokeApiKey, SCOPES } from '../../../../activities/store/api-keys';
import { recordAudit } from '../../../../activities/store/audit';
import type { App } from '../app';
import { actorOf } from '../auth';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';

export function keyRoutes(app: App, deps: ApiDeps): void {
  app.post(
    '/v1/keys',
    {
      schema: {
        summary: 'Create an API key; the key is shown in this answer only',
        tags: ['keys'],
        body: z
          .object({
            name: z.string().min(1, 'expected a name saying who uses the key').max(100),
            scopes: z.array(z.enum(SCOPES)).min(1, 'expected at least one scope'),
          })
          .strict(),
      },
    },
    async (req, reply) => {
      const { key, view } = await createApiKey(deps.db, req.body.name, req.body.scopes);
      await recordAudit(deps.db, {
        actor: actorOf(req),
        action: 'key.create',
        target: `key:${view.id}`,
        detail: { name: view.name, scopes: view.scopes },
      });
      deps.onKeysChanged?.();
      return reply.code(201).send({ key, ...view });
    },
  );

  app.get('/v1/keys', { schema: { summary: 'API keys (never their secrets)', tags: ['keys'] } }, async () => ({
    keys: await listApiKeys(deps.db),
  }));

  app.delete(
    '/v1/keys/:id',
    { schema: { summary: 'Revoke an API key', tags: ['keys'], params: z.object({ id: z.string().min(1) }) } },
    async (req, reply) => {
      if (!(await revokeApiKey(deps.db, req.params.id)))
        return sendProblem(reply, 404, 'Not found', `no active API key ${req.params.id}`);
      await recordAudit(deps.db, { actor: actorOf(req), action: 'key.revoke', target: `key:${req.params.id}` });
      deps.onKeysChanged?.();
      return { id: req.params.id, revoked: true };
    },
  );
}
