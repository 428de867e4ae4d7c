/** SMS: into the local outbox until a Twilio account is configured. */
import { writeOutboxEntry } from './outbox';

export interface OutgoingSms {
  to: string;
  text: string;
  key: string;
}

export interface SmsSender {
  readonly destination: string;
  send(message: OutgoingSms): Promise<{ ref: string }>;
}

export function createOutboxSmsSender(outboxDir: string): SmsSender {
  return {
    destination: outboxDir,
    async send(m) {
      const name = await writeOutboxEntry(outboxDir, 'sms', { to: m.to, text: m.text, messageId: m.key });
      return { ref: name };
    },
  };
}
