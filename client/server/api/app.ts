/**
 * The Fastify instance every route module receives: zod schemas validate requests (errors become
 * problem documents in server.ts) and document them in the OpenAPI description.
 */
import Fastify from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { sendProblem } from './problems';

/** A request part that did not match its schema: the error handler answers 422 with each problem. */
export class RequestValidationError extends Error {
  readonly statusCode = 422;
  constructor(
    readonly zodError: z.ZodError,
    readonly part: string,
  ) {
    super(`the request ${part} does not match its schema`);
    this.name = 'RequestValidationError';
  }
}

export function createApp(logger: Logger) {
  const app = Fastify({
    // Requests are not logged one by one; failures are.
    loggerInstance: logger.child({ component: 'api' }, { level: 'warn' }),
    bodyLimit: 5 * 1024 * 1024,
    // Unsubscribe tokens travel in the path.
    routerOptions: { maxParamLength: 1000 },
    // A URL the router cannot read (a malformed %-escape) is refused with a problem document too.
    frameworkErrors: (error, _req, reply) => {
      void sendProblem(reply, 400, 'Bad request', error.message);
    },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler<z.ZodType>(({ schema, httpPart }) => (data) => {
    const result = schema.safeParse(data);
    return result.success
      ? { value: result.data }
      : { error: new RequestValidationError(result.error, httpPart ?? 'body') };
  });
  return app;
}

export type App = ReturnType<typeof createApp>;

/** For routes that validate their own body (and only document a schema). */
export const noValidation = () => (data: unknown) => ({ value: data });
