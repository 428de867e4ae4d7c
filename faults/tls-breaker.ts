/**
 * A TLS failure on SMTP, for `npm run faults`: a TCP proxy in front of the SMTP server on loopback.
 * Its first `broken` connections it answers itself: it offers STARTTLS, accepts the command, and then
 * sends bytes that are not a TLS handshake, as a middlebox or a broken certificate set-up would; the
 * client's upgrade fails before any mail was given. Every later connection is passed through to the
 * server as it is.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';

export interface TlsBreaker {
  url: string;
  /** Connections broken so far. */
  readonly broken: number;
  close(): Promise<void>;
}

export async function startTlsBreaker(upstreamUrl: string, broken: number): Promise<TlsBreaker> {
  const upstream = new URL(upstreamUrl);
  let done = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    if (done >= broken) {
      const to = net.connect(Number(upstream.port), upstream.hostname);
      sockets.add(to);
      to.on('close', () => sockets.delete(to));
      to.on('error', () => client.destroy());
      client.on('error', () => to.destroy());
      client.pipe(to).pipe(client);
      return;
    }
    done += 1;
    client.write('220 faults.rapport.test ESMTP\r\n');
    let buffered = '';
    client.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('latin1');
      let end: number;
      while ((end = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, end).toUpperCase();
        buffered = buffered.slice(end + 2);
        if (line.startsWith('EHLO')) client.write('250-faults.rapport.test\r\n250 STARTTLS\r\n');
        else if (line.startsWith('HELO')) client.write('250 faults.rapport.test\r\n');
        else if (line === 'STARTTLS') {
          client.write('220 Ready to start TLS\r\n');
          // Not a TLS server hello: the client's handshake fails.
          setTimeout(() => client.end('HTTP/1.1 400 Bad Request\r\n\r\n'), 10);
        } else if (line === 'QUIT') client.end('221 Bye\r\n');
        else client.write('530 Must issue a STARTTLS command first\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    get broken() {
      return done;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
