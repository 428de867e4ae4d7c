/**
 * A real SMTP server on loopback that keeps every message it accepts, parsed. Faults can be queued:
 * each one applies to the next mail transaction (one MAIL FROM), in order.
 */
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import type { AddressInfo, Socket } from 'node:net';

type SmtpFault =
  /** Refuse MAIL FROM with this reply code (4xx transient, 5xx permanent). */
  | { refuse: number; at?: 'mail' | 'rcpt' }
  /** Close the connection at MAIL FROM, without a reply. */
  | { drop: true }
  /** Take the message, but answer it only after this delay (longer than the client's timeout). */
  | { replyAfterMs: number }
  /** Take the message, then close the connection without answering it. */
  | { dropAfterData: true };

export interface SmtpSink {
  url: string;
  received: ParsedMail[];
  /** When each message of `received` arrived (Date.now()). */
  arrivedAt: number[];
  /** Mail transactions started (MAIL FROM commands seen), faults included. */
  readonly transactions: number;
  /** Faults for the next transactions, first in first out. */
  faults: SmtpFault[];
  /** Resolves once `count` messages have arrived (or rejects after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

const replyError = (code: number) =>
  Object.assign(new Error(code >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: code });

export async function startSmtpSink(): Promise<SmtpSink> {
  const received: ParsedMail[] = [];
  const arrivedAt: number[] = [];
  const waiters: (() => void)[] = [];
  const faults: SmtpFault[] = [];
  const current = new Map<string, SmtpFault | undefined>();
  let transactions = 0;
  const server: SMTPServer = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onMailFrom(_address, session, callback) {
      transactions++;
      const fault = sink.faults.shift();
      current.set(session.id, fault);
      if (fault && 'drop' in fault) {
        dropConnection(session);
        return;
      }
      if (fault && 'refuse' in fault && (fault.at ?? 'mail') === 'mail') return callback(replyError(fault.refuse));
      callback();
    },
    onRcptTo(_address, session, callback) {
      const fault = current.get(session.id);
      if (fault && 'refuse' in fault && fault.at === 'rcpt') return callback(replyError(fault.refuse));
      callback();
    },
    onData(stream, session, callback) {
      const fault = current.get(session.id);
      simpleParser(stream)
        .then((mail) => {
          received.push(mail);
          arrivedAt.push(Date.now());
          waiters.splice(0).forEach((w) => w());
          if (fault && 'dropAfterData' in fault) return dropConnection(session);
          const delay = fault && 'replyAfterMs' in fault ? fault.replyAfterMs : 0;
          setTimeout(() => callback(), delay);
        })
        .catch((err: Error) => callback(err));
    },
  });

  function dropConnection(session: SMTPServerSession) {
    const connections = (server as unknown as { connections: Set<{ id: string; _socket: Socket }> }).connections;
    for (const c of connections) if (c.id === session.id) c._socket.destroy();
  }

  // A client that dies mid-connection (a killed worker) resets its socket: not the server's error.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  const sink: SmtpSink = {
    url: `smtp://127.0.0.1:${port}`,
    received,
    arrivedAt,
    get transactions() {
      return transactions;
    },
    faults,
    async waitFor(count, timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > until)
          throw new Error(`expected ${count} message(s) at the SMTP server, got ${received.length}`);
        await new Promise<void>((resolve) => {
          waiters.push(resolve);
          setTimeout(resolve, 200);
        });
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  return sink;
}
