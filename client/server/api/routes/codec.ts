/**
 * The remote codec endpoint Temporal's CLI and UI call to show Rapport's encrypted payloads
 * (client/server/protection.ts) to operators: `POST /v1/codec/decode` and `/v1/codec/encode`, in
 * Temporal's JSON form (base64 metadata and data). Admin keys only: it reads every customer's data.
 * A payload of an erased customer stays unreadable (422, with its key's id).
 */
import type { Payload } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { DestroyedKeyError } from '../../protection';
import type { App } from '../app';
import { sendProblem } from '../problems';
import type { ApiDeps } from '../server';

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
const payloads = z
  .object({
    payloads: z.array(z.object({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() })),
  })
  .strict();
type JsonPayloads = z.infer<typeof payloads>;

/** Temporal's JSON form of payloads (base64 bytes), as protobufjs reads and writes it. */
const { Payload: ProtoPayload } = temporal.api.common.v1;
const fromJson = (body: JsonPayloads): Payload[] => body.payloads.map((p) => ProtoPayload.fromObject(p));
const toJson = (list: Payload[]): JsonPayloads => ({
  payloads: list.map((p) => ProtoPayload.toObject(ProtoPayload.create(p), { bytes: String })),
});

/** Decoding a page of history may carry many payloads. */
const CODEC_BODY_LIMIT = 4 * 1024 * 1024;

export function codecRoutes(app: App, deps: ApiDeps): void {
  const { codec } = deps.protection;
  const origins = new Set(deps.codecOrigins ?? []);
  /** CORS for the Temporal UI's page: its origin may call, with the key a proxy or the UI adds. */
  const allowOrigin = (req: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = req.headers.origin;
    if (typeof origin !== 'string' || !origins.has(origin)) return false;
    void reply
      .header('access-control-allow-origin', origin)
      .header('access-control-allow-credentials', 'true')
      .header('vary', 'origin');
    return true;
  };
  for (const url of ['/v1/codec/decode', '/v1/codec/encode']) {
    app.options(url, { schema: { hide: true } }, (req, reply) => {
      if (!allowOrigin(req, reply))
        return sendProblem(
          reply,
          403,
          'Forbidden',
          'this origin may not call the codec endpoint (RAPPORT_CODEC_ORIGINS)',
        );
      return reply
        .header('access-control-allow-methods', 'POST')
        .header('access-control-allow-headers', 'authorization, content-type, x-namespace')
        .header('access-control-max-age', '600')
        .code(204)
        .send();
    });
  }
  app.post(
    '/v1/codec/decode',
    {
      bodyLimit: CODEC_BODY_LIMIT,
      schema: {
        summary: 'Decrypt Temporal payloads (the remote codec of the Temporal CLI and UI)',
        tags: ['keys'],
        body: payloads,
      },
    },
    async (req, reply) => {
      allowOrigin(req, reply);
      try {
        return toJson(await codec.decode(fromJson(req.body)));
      } catch (err) {
        if (err instanceof DestroyedKeyError) return sendProblem(reply, 422, 'Erased', err.message);
        throw err;
      }
    },
  );
  app.post(
    '/v1/codec/encode',
    {
      bodyLimit: CODEC_BODY_LIMIT,
      schema: {
        summary: 'Encrypt Temporal payloads (the remote codec of the Temporal CLI and UI)',
        tags: ['keys'],
        body: payloads,
      },
    },
    async (req, reply) => {
      allowOrigin(req, reply);
      return toJson(await codec.encode(fromJson(req.body)));
    },
  );
}
