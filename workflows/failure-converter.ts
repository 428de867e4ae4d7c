/**
 * Failures as Rapport's client and worker convert them: a failure's message and stack trace travel
 * in an encoded payload, which the payload codec encrypts (client/server/protection.ts), since a
 * message may quote customer data (an address an SMTP server refused, say). Loaded by path, in the
 * workflow bundle and outside it.
 */
import { DefaultFailureConverter } from '@temporalio/common';

export const failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
