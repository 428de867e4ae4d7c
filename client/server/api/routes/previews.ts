/**
 * A send step's message as one customer would get it (a preview), and that message sent for real to
 * another address, marked as a test. Both read the journey's published plan; neither writes anything
 * about the customer (activities/previews.ts).
 */
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ChannelError } from '../../../../activities/channels/errors';
import { inlineFacts, PreviewError, type PreviewRequest } from '../../../../activities/previews';
import { allows, type Scope } from '../../../../activities/store/api-keys';
import { customerRef } from '../../events/schema';
import type { App } from '../app';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';

const params = z.object({ id: z.string().min(1), step: z.string().min(1) });

/**
 * A live customer by reference (id, email, phone or externalId), or made-up facts under `facts`:
 * one object, so a mistake in either is reported at its own field.
 */
const previewCustomer = z
  .object({ ...customerRef.shape, facts: inlineFacts.optional() })
  .strict()
  .refine(
    (c) => (c.facts ? !(c.id ?? c.email ?? c.phone ?? c.externalId) : (c.id ?? c.email ?? c.phone ?? c.externalId)),
    {
      message: 'expected a customer reference (id, email, phone or externalId) or made-up "facts", one of the two',
    },
  );

export const previewBody = z
  .object({
    customer: previewCustomer,
    version: z.number().int().min(1).optional(),
    /** The data of the event that enrolled the customer, as `event.data` in templates. */
    event: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const sendTestBody = previewBody
  .extend({ to: z.string().min(1, 'expected an email address or a phone number (+…) to send the test to') })
  .strict();

export function previewRoutes(app: App, deps: ApiDeps): void {
  const previews = deps.previews;

  /** The request for the activities, or a problem sent: no senders, or a key that may not read customers. */
  const requestOf = (
    req: { params: z.infer<typeof params>; body: z.infer<typeof previewBody>; apiKey?: { scopes: Scope[] } },
    reply: FastifyReply,
  ): PreviewRequest | undefined => {
    if (!previews) {
      void sendProblem(reply, 503, 'Unavailable', 'this server has no mailer or SMS sender for previews');
      return undefined;
    }
    const { facts, ...ref } = req.body.customer;
    // A live customer's facts are personal data: reading them needs customers:read as well.
    if (!facts && req.apiKey && !allows(req.apiKey.scopes, 'customers:read')) {
      void sendProblem(reply, 403, 'Forbidden', 'previewing a live customer needs the scope customers:read as well');
      return undefined;
    }
    return {
      journeyId: req.params.id,
      stepId: req.params.step,
      version: req.body.version,
      customer: facts ? { facts } : { ref },
      eventData: req.body.event,
    };
  };

  const failed = (reply: FastifyReply, err: unknown) => {
    if (err instanceof PreviewError) {
      if (err.retryAfter !== undefined) void reply.header('retry-after', String(err.retryAfter));
      const title = err.status === 404 ? 'Not found' : err.status === 429 ? 'Too many requests' : 'Cannot preview';
      return sendProblem(reply, err.status, title, err.message);
    }
    // The provider refused or did not answer: nothing was recorded, so the test can simply be sent again.
    if (err instanceof ChannelError) return sendProblem(reply, 502, 'Bad gateway', `the provider: ${err.message}`);
    throw err;
  };

  app.post(
    '/v1/journeys/:id/steps/:step/preview',
    {
      schema: {
        summary: "A send step's message as a customer would get it: email parts and headers, or SMS segments",
        description:
          'The newest published version unless `version` is given. The customer is a live one (by id, email, phone or external id), whose facts are read, or `{ "facts": { ... } }` made up, filled with a new customer\'s defaults. Nothing is written.',
        tags: ['journeys'],
        params,
        body: previewBody,
      },
    },
    async (req, reply) => {
      const request = requestOf(req, reply);
      if (!request) return reply;
      try {
        return await previews!.preview(request);
      } catch (err) {
        return failed(reply, err);
      }
    },
  );

  app.post(
    '/v1/journeys/:id/steps/:step/send-test',
    {
      schema: {
        summary: "Send a step's message for real to `to`, marked as a test, touching no customer's record",
        description:
          'An email address gets the email (its subject starting with "[TEST] ", with the header X-Rapport-Test: 1); a phone number the SMS (its text starting with "[TEST] "). No send ledger row, no timeline entry, nothing counted toward a frequency cap; links are not tracked and the unsubscribe link is inert.',
        tags: ['journeys'],
        params,
        body: sendTestBody,
      },
    },
    async (req, reply) => {
      const request = requestOf(req, reply);
      if (!request) return reply;
      try {
        return await previews!.sendTest({ ...request, to: req.body.to });
      } catch (err) {
        return failed(reply, err);
      }
    },
  );
}
