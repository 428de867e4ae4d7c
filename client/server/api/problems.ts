/** Errors as RFC 9457 problem documents: what was wrong, and where. */
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';

export interface ProblemDetail {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** Each problem at its place: a field's path, and for a journey's YAML its line and column. */
  errors?: { path: string; message: string; line?: number; column?: number }[];
}

export function zodErrors(error: z.ZodError, prefix = ''): { path: string; message: string }[] {
  return error.issues.map((i) => {
    let path = prefix;
    for (const seg of i.path) path += typeof seg === 'number' ? `[${seg}]` : path ? `.${String(seg)}` : String(seg);
    const message =
      i.code === 'unrecognized_keys'
        ? `unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`
        : i.code === 'invalid_type' && i.message.includes('received undefined')
          ? `missing required field (expected ${i.expected})`
          : i.message;
    return { path, message };
  });
}

export function sendProblem(
  reply: FastifyReply,
  status: number,
  title: string,
  detail: string,
  errors?: ProblemDetail['errors'],
) {
  const body: ProblemDetail = {
    type: `https://rapport.dev/problems/${title.toLowerCase().replace(/[^a-z]+/g, '-')}`,
    title,
    status,
    detail,
    ...(errors ? { errors } : {}),
  };
  return reply.code(status).type('application/problem+json').send(body);
}
