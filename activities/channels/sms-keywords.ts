/**
 * Keywords of inbound SMS. The opt-out words are those the FCC names for revoking consent to texts
 * (47 CFR 64.1200(a)(12)): stop, quit, end, revoke, opt out, cancel, unsubscribe; with STOPALL, which
 * carriers and Twilio treat the same. A message is a keyword when it is that word alone, in any case,
 * with any spacing or punctuation around or within it ("Stop", " stop. ", "Opt-Out", "opt  out").
 */
export type SmsKeyword = 'stop' | 'start' | 'help';

const WORDS: Record<string, SmsKeyword> = {
  STOP: 'stop',
  STOPALL: 'stop',
  UNSUBSCRIBE: 'stop',
  CANCEL: 'stop',
  END: 'stop',
  QUIT: 'stop',
  REVOKE: 'stop',
  OPTOUT: 'stop',
  START: 'start',
  UNSTOP: 'start',
  HELP: 'help',
  INFO: 'help',
};

export function smsKeyword(body: string): SmsKeyword | undefined {
  const word = body
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[^A-Z]/g, '');
  // Letters only: "opt out", "Opt-Out" and "OPTOUT" are one word; "stop all" is STOPALL.
  return Object.hasOwn(WORDS, word) ? WORDS[word] : undefined;
}
